package server

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

func TestLooksLikeHTTP(t *testing.T) {
	for _, c := range []struct {
		in   string
		want bool
	}{
		{"GET /", true}, {"POST ", true}, {"HEAD ", true}, {"OPTIO", true}, {"PRI *", false},
		{"\x16\x03\x01\x02\x00", false}, // a TLS handshake record (RFC 8446 §5.1)
		{"\x80\x2e\x01\x00\x02", false}, // an SSL 2 compatible hello
		{"get /", false}, {"", false},
	} {
		if got := looksLikeHTTP([]byte(c.in)); got != c.want {
			t.Errorf("looksLikeHTTP(%q) = %v; want %v", c.in, got, c.want)
		}
	}
}

// A write under TLS fails only when the client takes nothing for the write timeout, as on a
// plain connection: crypto/tls makes a write timeout permanent, so tlsTransport renews the
// deadline while the reader makes progress.
func TestTLSTransportWriteStall(t *testing.T) {
	for _, c := range []struct {
		name    string
		reader  func(net.Conn)
		wantErr bool
	}{
		{"slow but steady", func(r net.Conn) {
			buf := make([]byte, 1024)
			for {
				time.Sleep(20 * time.Millisecond)
				if _, err := r.Read(buf); err != nil {
					return
				}
			}
		}, false},
		{"stalled", func(r net.Conn) { io.ReadAll(io.LimitReader(r, 1024)) }, true},
	} {
		a, b := net.Pipe()
		go c.reader(b)
		tr := &tlsTransport{Conn: a}
		tr.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		// 16 KiB at 1 KiB per 20 ms takes about 320 ms, well past the 100 ms deadline.
		n, err := tr.Write(make([]byte, 16<<10))
		if c.wantErr != (err != nil) || err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("%s reader: Write = %d, %v; want error %v", c.name, n, err, c.wantErr)
		}
		a.Close()
		b.Close()
	}
}
