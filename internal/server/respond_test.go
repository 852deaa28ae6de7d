package server

import (
	"encoding/binary"
	"io"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gonicorn/gonicorn/internal/http1"
)

// TestParseLength checks the app's Content-Length syntax: 1*DIGIT (RFC 9110 §8.6), nothing
// else that strconv.ParseInt would take.
func TestParseLength(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int64
		want bool
	}{
		{"0", 0, true},
		{"5", 5, true},
		{"007", 7, true},
		{"123456789012345678", 123456789012345678, true},
		{"", 0, false},
		{"+5", 0, false},                  // a sign: ParseInt takes it, the grammar does not
		{"-5", 0, false},                  // negative
		{" 5", 0, false},                  // whitespace belongs to the field, not the value
		{"5 ", 0, false},                  //
		{"5,5", 0, false},                 // a list (RFC 9110 §8.6 lets a recipient merge equal values; an app must not send one)
		{"0x5", 0, false},                 // not decimal
		{"5.0", 0, false},                 //
		{"9999999999999999999", 0, false}, // beyond int64
	} {
		n, ok := http1.ParseDigits([]byte(tt.in))
		if ok != tt.want || ok && n != tt.n {
			t.Errorf("http1.ParseDigits(%q) = %d, %v; want %d, %v", tt.in, n, ok, tt.n, tt.want)
		}
	}
}

// TestFileCount checks the length of an F frame's file: the count when given, else what the
// file holds after the offset, never negative; and an error, not a length, when the file's
// size cannot be read (a chunk size of -1 was once written then).
func TestFileCount(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "file")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Write(make([]byte, 100))
	for _, tt := range []struct{ offset, count, want int64 }{
		{0, -1, 100},
		{40, -1, 60},
		{100, -1, 0},
		{250, -1, 0},
		{0, 7, 7},
		{250, 7, 7}, // the sender finds out the file is short, and cuts the response
	} {
		if got, err := fileCount(f, tt.offset, tt.count); got != tt.want || err != nil {
			t.Errorf("fileCount(offset %d, count %d) = %d, %v; want %d, nil", tt.offset, tt.count, got, err, tt.want)
		}
	}
	closed, err := os.Open(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	if n, err := fileCount(closed, 0, -1); err == nil {
		t.Errorf("fileCount(a closed file) = %d, nil; want an error", n)
	}
}

// startPayload is an S frame's payload for status and no headers, as the worker's
// marshal.dumps((status, []), 2) writes it.
func startPayload(status string) []byte {
	b := []byte{'(', 2, 0, 0, 0, 'u', byte(len(status)), 0, 0, 0}
	b = append(b, status...)
	return append(b, '[', 0, 0, 0, 0)
}

// filePayload is an F frame's payload.
func filePayload(offset, count int64) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(offset))
	return binary.LittleEndian.AppendUint64(b, uint64(count))
}

// TestResponseFileFraming relays S + F + E for a file to a client and checks the exact bytes
// after the head: a chunk for a non-empty file and then the last-chunk; only the last-chunk
// for an empty one (a zero-size chunk is the last-chunk, RFC 9112 §7.1, so an empty file's
// chunk once ended the body twice); and, when the file cannot be framed (its size unreadable)
// or ends before its count, no terminator and a closed connection.
func TestResponseFileFraming(t *testing.T) {
	data := []byte("0123456789")
	for _, tc := range []struct {
		name          string
		content       []byte
		badFD         bool
		offset, count int64
		want          string // after the head
		keepAlive     bool
	}{
		{"empty file", nil, false, 0, -1, "0\r\n\r\n", true},
		{"offset at the end", data, false, 10, -1, "0\r\n\r\n", true},
		{"offset past the end", data, false, 99, -1, "0\r\n\r\n", true},
		{"offset in the middle", data, false, 4, -1, "6\r\n456789\r\n0\r\n\r\n", true},
		{"count within the file", data, false, 2, 3, "3\r\n234\r\n0\r\n\r\n", true},
		{"file shorter than its count", data, false, 0, 20, "14\r\n0123456789", false},
		{"size unreadable", nil, true, 0, -1, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wc, rc := tcpPair(t)
			cn := testConn(Config{})
			cn.srv.log = slog.New(slog.NewTextHandler(io.Discard, nil))
			cn.c = wc
			if _, err := http1.ParseHead([]byte("GET / HTTP/1.1\r\nHost: t\r\n\r\n"), nil, &cn.req); err != nil {
				t.Fatal(err)
			}
			fd := 1 << 20 // never open: fstat fails with EBADF
			if !tc.badFD {
				f, err := os.CreateTemp(t.TempDir(), "file")
				if err != nil {
					t.Fatal(err)
				}
				f.Write(tc.content)
				if fd, err = syscall.Dup(int(f.Fd())); err != nil {
					t.Fatal(err)
				}
				f.Close()
			}
			rs := &cn.resp
			*rs = response{cn: cn, req: &cn.req, w: newClientWriter(wc, 1<<20, testStall, t.TempDir()), remaining: -1, bodyLength: -1, appLength: -1}
			rs.res.keepAlive = true
			rs.start(startPayload("200 OK"))
			rs.setFile(fd, filePayload(tc.offset, tc.count))
			res := rs.end()
			wc.CloseWrite()
			rc.SetReadDeadline(time.Now().Add(10 * time.Second))
			out, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			head, body, _ := strings.Cut(string(out), "\r\n\r\n")
			if !strings.Contains(head, "\r\nTransfer-Encoding: chunked") || body != tc.want || res.keepAlive != tc.keepAlive {
				t.Errorf("client got %q, keep-alive %v; want the chunked head, then %q, keep-alive %v", out, res.keepAlive, tc.want, tc.keepAlive)
			}
		})
	}
}
