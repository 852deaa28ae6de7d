package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The clientWriter tests run over real loopback TCP connections, so the non-blocking raw
// write path is the one a server uses. The reading end has small kernel buffers and does not
// read until the test says so: that is how a test makes the writer spill.

const (
	sockBuf   = 16 << 10         // SO_RCVBUF/SO_SNDBUF of the test sockets
	testStall = 10 * time.Second // a stall timeout no test should reach unless it means to
)

// tcpPair returns the two ends of a loopback TCP connection: wc, the server's end that a
// clientWriter writes to, and rc, the client's end. Both are closed when the test ends.
func tcpPair(t *testing.T) (wc, rc *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// The receive buffer must be small before connect, or the window is already advertised.
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, sockBuf)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		c.Close()
		t.Fatal("accept failed")
	}
	wc, rc = s.(*net.TCPConn), c.(*net.TCPConn)
	if err := wc.SetWriteBuffer(sockBuf); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		wc.Close()
		rc.Close()
	})
	return wc, rc
}

// checkGoroutines returns a function that fails the test if goroutines started since the
// call are still running a moment later (the drain goroutine must end by itself).
func checkGoroutines(t *testing.T) func() {
	t.Helper()
	before := runtime.NumGoroutine()
	return func() {
		t.Helper()
		deadline := time.Now().Add(3 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= before {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("goroutines: %d before, %d after; leaked:\n%s", before, n, buf)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// pattern returns n bytes that differ at nearby offsets, so a lost, duplicated or reordered
// block shows up in a comparison.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// fillSocket writes p to the socket with non-blocking writes until it takes no more, and
// returns what it wrote; the bytes are not counted by w. Acknowledgements still in flight
// free some room after the first EAGAIN, so it waits a little (beyond a delayed ACK) and
// tries again, until a try after the wait takes nothing.
func fillSocket(t *testing.T, w *clientWriter, p []byte) []byte {
	t.Helper()
	var out []byte
	for {
		n, err := w.tryWrite(p[len(out):])
		out = append(out, p[len(out):][:n]...)
		switch {
		case err == errWouldBlock && n == 0 && len(out) > 0:
			time.Sleep(60 * time.Millisecond)
			if n, _ := w.tryWrite(p[len(out):]); n == 0 {
				return out
			} else {
				out = append(out, p[len(out):][:n]...)
			}
		case err == errWouldBlock:
		case err != nil:
			t.Fatalf("filling the socket: %v", err)
		}
		if len(out) > len(p)/2 {
			t.Fatal("filling the socket: it never said EAGAIN")
		}
	}
}

type readResult struct {
	b   []byte
	err error
}

// readAfter reads rc to EOF on its own goroutine once start is closed.
func readAfter(rc net.Conn, start <-chan struct{}) <-chan readResult {
	ch := make(chan readResult, 1)
	go func() {
		<-start
		rc.SetReadDeadline(time.Now().Add(20 * time.Second))
		b, err := io.ReadAll(rc)
		ch <- readResult{b, err}
	}()
	return ch
}

// readSlowly reads rc to EOF in steps of step bytes with a pause between them: a slow client
// that keeps making progress.
func readSlowly(rc net.Conn, step int, pause time.Duration) <-chan readResult {
	ch := make(chan readResult, 1)
	go func() {
		rc.SetReadDeadline(time.Now().Add(20 * time.Second))
		var out []byte
		buf := make([]byte, step)
		for {
			n, err := rc.Read(buf)
			out = append(out, buf[:n]...)
			if err == io.EOF {
				ch <- readResult{out, nil}
				return
			}
			if err != nil {
				ch <- readResult{out, err}
				return
			}
			time.Sleep(pause)
		}
	}()
	return ch
}

// finish waits for the writer, ends the stream and returns what the client read.
func finish(t *testing.T, w *clientWriter, wc *net.TCPConn, got <-chan readResult) []byte {
	t.Helper()
	if err := w.Wait(); err != nil {
		t.Fatalf("Wait() = %v; want nil", err)
	}
	wc.CloseWrite()
	r := <-got
	if r.err != nil {
		t.Fatalf("client read %d bytes, then: %v", len(r.b), r.err)
	}
	return r.b
}

// compare reports the first difference between got and want.
func compare(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	t.Errorf("%s: client read %d bytes; want %d (first difference at offset %d)", what, len(got), len(want), i)
}

// spillFiles counts the files this process has open in dir. An unlinked spill file shows up
// only here, as "dir/gonicorn-response-N (deleted)". It returns -1 without /proc.
func spillFiles(dir string) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	n := 0
	for _, e := range ents {
		l, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err == nil && strings.HasPrefix(l, dir+string(os.PathSeparator)) {
			n++
		}
	}
	return n
}

// checkNoFiles fails if dir has entries: the spill file is unlinked as soon as it is created.
func checkNoFiles(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("temp dir holds %q; want the spill file unlinked", e.Name())
	}
}

func (w *clientWriter) spilled() (memBytes int, file bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.memBytes, w.file != nil
}

func (w *clientWriter) writtenBytes() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.written
}

func TestClientWriterDirect(t *testing.T) {
	defer checkGoroutines(t)()
	wc, rc := tcpPair(t)
	w := newClientWriter(wc, 64<<10, testStall, t.TempDir())
	want := pattern(3000)
	// Small writes fit in the socket buffer: each is one write(2), nothing is pending and
	// no drain goroutine starts.
	for _, n := range []int{1, 100, 0, 2000, 899} {
		p := want[w.writtenBytes():][:n]
		if got, err := w.Write(p); got != n || err != nil {
			t.Fatalf("Write(%d bytes) = %d, %v; want %d, nil", n, got, err, n)
		}
		if w.Pending() {
			t.Fatalf("Pending() after Write(%d bytes) = true; want false", n)
		}
	}
	start := make(chan struct{})
	close(start)
	got := finish(t, w, wc, readAfter(rc, start))
	compare(t, "direct writes", got, want)
}

func TestClientWriterSpill(t *testing.T) {
	tests := []struct {
		name     string
		memCap   int
		writes   []int // sizes of the Writes made while the socket is full
		wantFile bool
	}{
		{"memory", 64 << 10, []int{32 << 10}, false},
		{"memory to the cap", 64 << 10, []int{16 << 10, 48 << 10}, false},
		{"memory then file", 64 << 10, []int{48 << 10, 48 << 10, 200 << 10}, true},
		{"file at once", 64 << 10, []int{1 << 20}, true},
		{"no memory", 0, []int{1, 10, 100}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer checkGoroutines(t)()
			wc, rc := tcpPair(t)
			dir := t.TempDir()
			w := newClientWriter(wc, tt.memCap, testStall, dir)
			total := 0
			for _, n := range tt.writes {
				total += n
			}
			all := pattern(4<<20 + total)
			want := fillSocket(t, w, all)
			for _, n := range tt.writes {
				p := all[len(want):][:n]
				if got, err := w.Write(p); got != n || err != nil {
					t.Fatalf("Write(%d bytes) = %d, %v; want %d, nil", n, got, err, n)
				}
				want = append(want, p...)
			}
			if !w.Pending() {
				t.Errorf("Pending() with a full socket = false; want true")
			}
			mem, file := w.spilled()
			if file != tt.wantFile {
				t.Errorf("spill file after writes %v with memCap %d = %v; want %v", tt.writes, tt.memCap, file, tt.wantFile)
			}
			if mem > tt.memCap {
				t.Errorf("bytes in memory = %d; want at most memCap %d", mem, tt.memCap)
			}
			checkNoFiles(t, dir)
			if n := spillFiles(dir); n >= 0 && n != b2i(tt.wantFile) {
				t.Errorf("open files in the temp dir = %d; want %d", n, b2i(tt.wantFile))
			}

			start := make(chan struct{})
			got := readAfter(rc, start)
			close(start)
			compare(t, "spilled writes", finish(t, w, wc, got), want)
			if w.Pending() {
				t.Errorf("Pending() after Wait = true; want false")
			}
			if _, file := w.spilled(); file {
				t.Errorf("spill file kept after Wait; want it closed")
			}
			if n := spillFiles(dir); n > 0 {
				t.Errorf("open files in the temp dir after Wait = %d; want 0", n)
			}
			if got := w.writtenBytes(); got != int64(total) {
				t.Errorf("written = %d; want %d", got, total)
			}
		})
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestClientWriterOrder writes a pattern in blocks of many sizes, first with nobody reading
// (direct writes, then memory, then the file), then while the client reads, so Writes race
// with the drain, which may finish and let direct writes resume. The client must read the
// pattern unchanged.
func TestClientWriterOrder(t *testing.T) {
	sizes := []int{10, 1000, 70000, 3, 65536, 200000, 1, 4096, 300000, 17, 64 << 10, 1 << 20, 5, 100000, 33, 250000}
	for _, memCap := range []int{16 << 20, 64 << 10, 1 << 10, 0} {
		t.Run(fmt.Sprintf("memCap=%d", memCap), func(t *testing.T) {
			defer checkGoroutines(t)()
			wc, rc := tcpPair(t)
			w := newClientWriter(wc, memCap, testStall, t.TempDir())
			total := 0
			for _, n := range sizes {
				total += n
			}
			want := pattern(total)
			start := make(chan struct{})
			got := readAfter(rc, start)
			off := 0
			for i, n := range sizes {
				if i == len(sizes)/2 {
					close(start)
				}
				p := want[off : off+n]
				if i%3 == 2 { // some blocks go through WriteTwo
					w.WriteTwo(p[:n/2], p[n/2:])
				} else if m, err := w.Write(p); m != n || err != nil {
					t.Fatalf("Write(%d bytes) = %d, %v; want %d, nil", n, m, err, n)
				}
				off += n
			}
			compare(t, "ordered writes", finish(t, w, wc, got), want)
			if got := w.writtenBytes(); got != int64(total) {
				t.Errorf("written = %d; want %d", got, total)
			}
		})
	}
}

// TestClientWriterEmptyWrites checks that an empty Write, or a WriteTwo with an empty first
// part (a big block of a Content-Length body, with no framing before it), while bytes are
// pending loses nothing: an empty pending block once looked like the end of the pending
// bytes to the drain, which then dropped the rest.
func TestClientWriterEmptyWrites(t *testing.T) {
	for _, memCap := range []int{16 << 20, 64 << 10, 0} {
		t.Run(fmt.Sprintf("memCap=%d", memCap), func(t *testing.T) {
			defer checkGoroutines(t)()
			wc, rc := tcpPair(t)
			w := newClientWriter(wc, memCap, testStall, t.TempDir())
			want := pattern(6 << 20)
			start := make(chan struct{})
			got := readAfter(rc, start)
			for off := 0; off < len(want); off += 1 << 20 {
				w.WriteTwo(nil, want[off:off+1<<20])
				w.Write(nil)
			}
			close(start)
			compare(t, "writes with empty ones between", finish(t, w, wc, got), want)
		})
	}
}

func TestClientWriterWriteTwo(t *testing.T) {
	tests := []struct {
		name        string
		fill        bool // fill the socket first: writev takes nothing
		before      int  // a Write of this many bytes first, left pending (needs fill)
		a, b        int
		wantPending bool
	}{
		{"both fit", false, 0, 100, 1000, false},
		{"b taken in part", false, 0, 100, 1 << 20, true},
		{"a taken in part", false, 0, 1 << 20, 100, true},
		{"socket full", true, 0, 100, 1000, true},
		{"pending before", true, 1000, 100, 1000, true},
		{"empty a", false, 0, 0, 1000, false},
		{"empty b", false, 0, 100, 0, false},
		{"empty a, socket full", true, 0, 0, 1000, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer checkGoroutines(t)()
			wc, rc := tcpPair(t)
			w := newClientWriter(wc, 64<<10, testStall, t.TempDir())
			all := pattern(4<<20 + tt.before + tt.a + tt.b)
			var want []byte
			if tt.fill {
				want = fillSocket(t, w, all)
			}
			if tt.before > 0 {
				p := all[len(want):][:tt.before]
				w.Write(p)
				want = append(want, p...)
			}
			a := all[len(want):][:tt.a]
			b := all[len(want)+tt.a:][:tt.b]
			w.WriteTwo(a, b)
			want = append(want, a...)
			want = append(want, b...)
			if got := w.Pending(); got != tt.wantPending {
				t.Errorf("Pending() after WriteTwo(%d, %d bytes) = %v; want %v", tt.a, tt.b, got, tt.wantPending)
			}
			if err := w.Err(); err != nil {
				t.Errorf("Err() after WriteTwo = %v; want nil", err)
			}
			start := make(chan struct{})
			close(start)
			compare(t, "WriteTwo", finish(t, w, wc, readAfter(rc, start)), want)
			if got, want := w.writtenBytes(), int64(tt.before+tt.a+tt.b); got != want {
				t.Errorf("written = %d; want %d", got, want)
			}
		})
	}
}

// TestClientWriterWait checks that Wait returns only after the client took everything:
// here that cannot happen before the client starts reading.
func TestClientWriterWait(t *testing.T) {
	defer checkGoroutines(t)()
	wc, rc := tcpPair(t)
	w := newClientWriter(wc, 64<<10, testStall, t.TempDir())
	if err := w.Wait(); err != nil {
		t.Fatalf("Wait() with nothing written = %v; want nil", err)
	}
	all := pattern(4 << 20)
	want := fillSocket(t, w, all)
	p := all[len(want):][:512<<10]
	w.Write(p)
	want = append(want, p...)

	start := make(chan struct{})
	got := readAfter(rc, start)
	waited := make(chan error, 1)
	go func() { waited <- w.Wait() }()
	select {
	case err := <-waited:
		t.Fatalf("Wait() = %v before the client read anything; want it to block", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(start)
	select {
	case err := <-waited:
		if err != nil {
			t.Fatalf("Wait() = %v; want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait() did not return after the client read everything")
	}
	if w.Pending() {
		t.Errorf("Pending() after Wait = true; want false")
	}
	compare(t, "after Wait", finish(t, w, wc, got), want)
}

// TestClientWriterPeerClosed checks that a client that went away makes a sticky error: Write
// returns it (eventually: the first writes may still fit in the socket buffer), Wait and
// Err return it, and the spill file is released.
func TestClientWriterPeerClosed(t *testing.T) {
	tests := []struct {
		name    string
		pending bool // bytes are pending (in the file) when the client goes
	}{
		{"direct writes", false},
		{"while draining", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer checkGoroutines(t)()
			wc, rc := tcpPair(t)
			dir := t.TempDir()
			w := newClientWriter(wc, 64<<10, testStall, dir)
			if tt.pending {
				all := pattern(4 << 20)
				sent := fillSocket(t, w, all)
				w.Write(all[len(sent):][:256<<10])
				if _, file := w.spilled(); !file {
					t.Fatal("no spill file; the test needs one")
				}
			}
			rc.SetLinger(0) // unread data or not, the client resets the connection
			rc.Close()

			var werr error
			p := pattern(1 << 10)
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
				if _, werr = w.Write(p); werr != nil {
					break
				}
				time.Sleep(time.Millisecond)
			}
			if werr == nil {
				t.Fatal("Write to a closed client never failed")
			}
			if errors.Is(werr, os.ErrDeadlineExceeded) {
				t.Errorf("Write error = %v; want the reset, not a timeout", werr)
			}
			if err := w.Wait(); err != werr {
				t.Errorf("Wait() = %v; want the sticky %v", err, werr)
			}
			if _, err := w.Write(p); err != werr {
				t.Errorf("Write after the failure = %v; want the sticky %v", err, werr)
			}
			if err := w.Err(); err != werr {
				t.Errorf("Err() = %v; want %v", err, werr)
			}
			w.WriteTwo(p, p) // must not panic or block
			if err := w.Err(); err != werr {
				t.Errorf("Err() after WriteTwo = %v; want %v", err, werr)
			}
			if n := spillFiles(dir); n > 0 {
				t.Errorf("open files in the temp dir = %d; want 0", n)
			}
		})
	}
}

// TestClientWriterStall checks the stall timeout: a client that takes nothing fails the
// writer after about stallTimeout; one that reads slowly but steadily does not.
func TestClientWriterStall(t *testing.T) {
	const stall = 200 * time.Millisecond
	t.Run("never reads", func(t *testing.T) {
		defer checkGoroutines(t)()
		wc, _ := tcpPair(t)
		dir := t.TempDir()
		w := newClientWriter(wc, 64<<10, stall, dir)
		all := pattern(4 << 20)
		sent := fillSocket(t, w, all)
		w.Write(all[len(sent):][:256<<10])
		waitStalled(t, w, stall)
		if n := spillFiles(dir); n > 0 {
			t.Errorf("open files in the temp dir = %d; want 0", n)
		}
	})
	t.Run("slow reader", func(t *testing.T) {
		defer checkGoroutines(t)()
		wc, rc := tcpPair(t)
		w := newClientWriter(wc, 64<<10, stall, t.TempDir())
		want := pattern(512 << 10)
		w.Write(want) // about 1 s at the client's pace: five stall timeouts
		compare(t, "slow reader", finish(t, w, wc, readSlowly(rc, 16<<10, 20*time.Millisecond)), want)
	})
}

func TestClientWriterReadFrom(t *testing.T) {
	tests := []struct {
		name    string
		pending int   // bytes Written (and left pending: the socket is full) before ReadFrom
		file    int   // size of the file
		limit   int64 // ReadFrom(io.LimitReader(file, limit)) if > 0, as respond.go does
	}{
		{"nothing pending", 0, 1 << 20, 0},
		{"pending in memory", 32 << 10, 1 << 20, 0},
		{"pending in the file", 256 << 10, 1 << 20, 0},
		{"limited", 256 << 10, 1 << 20, 100000},
		{"empty file", 32 << 10, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer checkGoroutines(t)()
			wc, rc := tcpPair(t)
			dir := t.TempDir()
			w := newClientWriter(wc, 64<<10, testStall, dir)
			body := pattern(tt.file + 1)[1:] // shifted, so it differs from the head
			f := writeTempFile(t, body)

			all := pattern(4 << 20)
			var want []byte
			if tt.pending > 0 {
				want = fillSocket(t, w, all)
				p := all[len(want):][:tt.pending]
				w.Write(p)
				want = append(want, p...)
			}
			var r io.Reader = f
			wantN := int64(len(body))
			if tt.limit > 0 {
				r, wantN = io.LimitReader(f, tt.limit), tt.limit
			}
			want = append(want, body[:wantN]...)

			start := make(chan struct{})
			got := readAfter(rc, start)
			close(start)
			n, err := w.ReadFrom(r)
			if n != wantN || err != nil {
				t.Errorf("ReadFrom(%d-byte file) = %d, %v; want %d, nil", len(body), n, err, wantN)
			}
			compare(t, "ReadFrom", finish(t, w, wc, got), want)
			if got, want := w.writtenBytes(), int64(tt.pending)+wantN; got != want {
				t.Errorf("written = %d; want %d", got, want)
			}
		})
	}
}

// TestClientWriterReadFromSlowReader checks that the stall timeout bounds a pause, not the
// whole file: a client reading a big file slowly but steadily gets all of it.
func TestClientWriterReadFromSlowReader(t *testing.T) {
	defer checkGoroutines(t)()
	// The client pauses 20 ms between reads; the stall timeout is far above that pause (a
	// loaded machine stretches a sleep) and far below the whole transfer.
	const stall = 500 * time.Millisecond
	wc, rc := tcpPair(t)
	w := newClientWriter(wc, 64<<10, stall, t.TempDir())
	want := pattern(2 << 20) // about 2.5 s at the client's pace: five stall timeouts
	f := writeTempFile(t, want)
	got := readSlowly(rc, 16<<10, 20*time.Millisecond)
	n, err := w.ReadFrom(io.LimitReader(f, int64(len(want))))
	if n != int64(len(want)) || err != nil {
		t.Errorf("ReadFrom(%d bytes) to a slow client = %d, %v; want %d, nil", len(want), n, err, len(want))
	}
	compare(t, "ReadFrom to a slow client", finish(t, w, wc, got), want)
}

func TestClientWriterReadFromAfterFailure(t *testing.T) {
	defer checkGoroutines(t)()
	wc, _ := tcpPair(t)
	w := newClientWriter(wc, 64<<10, testStall, t.TempDir())
	failed := errors.New("client gone")
	w.err = failed
	f := writeTempFile(t, pattern(100))
	if n, err := w.ReadFrom(f); n != 0 || err != failed {
		t.Errorf("ReadFrom after a failure = %d, %v; want 0, %v", n, err, failed)
	}
}

// TestClientWriterNoRawConn covers a conn without a SyscallConn (net.Pipe): every write goes
// through the drain goroutine, in order.
func TestClientWriterNoRawConn(t *testing.T) {
	defer checkGoroutines(t)()
	c1, c2 := net.Pipe()
	defer c2.Close()
	w := newClientWriter(c1, 64<<10, testStall, t.TempDir())
	if w.raw != nil {
		t.Fatal("net.Pipe has a raw conn; the test needs one without")
	}
	want := pattern(300 << 10)
	start := make(chan struct{})
	got := readAfter(c2, start)
	w.Write(want[:100])
	w.WriteTwo(want[100:1000], want[1000:200<<10])
	w.Write(want[200<<10:])
	close(start)
	if err := w.Wait(); err != nil {
		t.Fatalf("Wait() = %v; want nil", err)
	}
	c1.Close()
	r := <-got
	if r.err != nil {
		t.Fatalf("client read: %v", r.err)
	}
	compare(t, "net.Pipe", r.b, want)
}

// writeTempFile returns an open file holding b, positioned at its start.
func writeTempFile(t *testing.T, b []byte) *os.File {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "body-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestClientWriterIdleAfterDrain checks that the stall timeout of a finished drain (or of a
// ReadFrom) does not outlive it: a streamed response whose application pauses longer than
// the stall timeout between two blocks must still send the second one. The non-blocking
// write path goes through the same poller as net.Conn.Write and honours its deadline.
func TestClientWriterIdleAfterDrain(t *testing.T) {
	const stall = 200 * time.Millisecond
	tests := []struct {
		name string
		send func(t *testing.T, w *clientWriter, rc net.Conn, p []byte)
	}{
		{"drain", func(t *testing.T, w *clientWriter, rc net.Conn, p []byte) {
			fillSocket(t, w, p)
			w.Write([]byte("pending"))
			go io.Copy(io.Discard, rc) // ends when the conns close
			for deadline := time.Now().Add(10 * time.Second); w.Pending(); {
				if time.Now().After(deadline) {
					t.Fatal("the drain never finished")
				}
				time.Sleep(time.Millisecond)
			}
		}},
		{"ReadFrom", func(t *testing.T, w *clientWriter, rc net.Conn, p []byte) {
			go io.Copy(io.Discard, rc)
			if _, err := w.ReadFrom(bytes.NewReader(p[:100<<10])); err != nil {
				t.Fatalf("ReadFrom = %v", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer checkGoroutines(t)()
			wc, rc := tcpPair(t)
			w := newClientWriter(wc, 64<<10, stall, t.TempDir())
			tt.send(t, w, rc, pattern(4<<20))
			time.Sleep(2 * stall) // the application thinks; the client waits
			if _, err := w.Write([]byte("next block")); err != nil {
				t.Errorf("Write after a pause of %v = %v; want nil", 2*stall, err)
			}
			w.WriteTwo([]byte("head"), []byte("body"))
			if err := w.Err(); err != nil {
				t.Errorf("WriteTwo after a pause of %v: Err() = %v; want nil", 2*stall, err)
			}
			wc.Close()
			rc.Close()
		})
	}
}

// pendingBytes returns the bytes waiting for the client and the size of the spill file.
func (w *clientWriter) pendingBytes() (pending, fileSize int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	pending = int64(w.memBytes) + w.fileW - w.fileR
	if w.file != nil {
		if st, err := w.file.Stat(); err == nil {
			fileSize = st.Size()
		}
	}
	return pending, fileSize
}

// TestClientWriterSpoolCap checks --max-response-spool: with a client that reads nothing,
// Write queues no more than spoolCap bytes and then blocks (backpressure), however much the
// caller has to write; once the client reads, every byte arrives in order, through a spill
// file that never grows past spoolCap although many times that passes through it (a ring).
func TestClientWriterSpoolCap(t *testing.T) {
	tests := []struct {
		name     string
		memCap   int
		spoolCap int64
		block    int
	}{
		{"memory and file", 64 << 10, 256 << 10, 100 << 10},
		{"blocks bigger than the cap", 64 << 10, 256 << 10, 700 << 10},
		{"file only, odd sizes", 0, 100003, 7919},
		{"memory only", 256 << 10, 128 << 10, 50 << 10},
		{"nothing held", 64 << 10, 0, 100 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer checkGoroutines(t)()
			wc, rc := tcpPair(t)
			dir := t.TempDir()
			w := newClientWriter(wc, tt.memCap, testStall, dir)
			w.spoolCap = tt.spoolCap
			all := pattern(8 << 20)
			sent := fillSocket(t, w, all)
			rest := all[len(sent):]

			// The caller, as respond is: Write after Write; each checks the bound.
			var maxPending, maxFile int64
			wrote := make(chan error, 1)
			go func() {
				for p := rest; len(p) > 0; {
					n := min(tt.block, len(p))
					if _, err := w.Write(p[:n]); err != nil {
						wrote <- err
						return
					}
					p = p[n:]
					pending, file := w.pendingBytes()
					maxPending, maxFile = max(maxPending, pending), max(maxFile, file)
				}
				wrote <- nil
			}()
			// Nobody reads: the pending bytes reach the cap (within one block's rounding)
			// and the caller blocks there.
			deadline := time.Now().Add(10 * time.Second)
			for {
				pending, _ := w.pendingBytes()
				if pending >= tt.spoolCap-int64(tt.block) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("pending bytes = %d after 10 s; want about %d", pending, tt.spoolCap)
				}
				time.Sleep(5 * time.Millisecond)
			}
			select {
			case err := <-wrote:
				t.Fatalf("all %d bytes were queued (err %v) while the client read nothing; want Write to block at %d", len(rest), err, tt.spoolCap)
			case <-time.After(300 * time.Millisecond):
			}
			if pending, file := w.pendingBytes(); pending > tt.spoolCap || file > tt.spoolCap {
				t.Errorf("pending %d bytes, spill file %d bytes; want both at most spoolCap %d", pending, file, tt.spoolCap)
			}

			start := make(chan struct{})
			got := readAfter(rc, start)
			close(start)
			if err := <-wrote; err != nil {
				t.Fatalf("Write with a reading client = %v", err)
			}
			compare(t, "backpressured writes", finish(t, w, wc, got), all)
			if maxPending > tt.spoolCap || maxFile > tt.spoolCap {
				t.Errorf("at most %d bytes pending and a %d-byte spill file; want both at most spoolCap %d", maxPending, maxFile, tt.spoolCap)
			}
			if got := w.writtenBytes(); got != int64(len(rest)) {
				t.Errorf("written = %d; want %d", got, len(rest))
			}
			if n := spillFiles(dir); n > 0 {
				t.Errorf("open files in the temp dir after Wait = %d; want 0", n)
			}
		})
	}
}

// TestClientWriterSpoolCapStall checks that a Write blocked on a full spool ends with the
// stall error when the client takes nothing for stallTimeout: the worker waiting behind it
// is not held forever.
func TestClientWriterSpoolCapStall(t *testing.T) {
	const stall = 200 * time.Millisecond
	for _, spoolCap := range []int64{0, 256 << 10} {
		t.Run(fmt.Sprint(spoolCap), func(t *testing.T) {
			defer checkGoroutines(t)()
			wc, _ := tcpPair(t)
			w := newClientWriter(wc, 64<<10, stall, t.TempDir())
			w.spoolCap = spoolCap
			all := pattern(4 << 20)
			sent := fillSocket(t, w, all)
			_, err := w.Write(all[len(sent):][:1<<20])
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("Write beyond the spool to a client that reads nothing = %v; want a deadline error", err)
			}
			if err2 := w.Wait(); err2 != err {
				t.Errorf("Wait() = %v; want the sticky %v", err2, err)
			}
		})
	}
}

// readerFromConn is a net.Conn whose ReadFrom records each reader it was offered, as
// *net.TCPConn's ReadFrom would take a file to send with sendfile(2).
type readerFromConn struct {
	net.Conn
	offered []io.Reader
}

func (c *readerFromConn) ReadFrom(r io.Reader) (int64, error) {
	c.offered = append(c.offered, r)
	return io.Copy(writerOnly{c.Conn}, r)
}

// isFile reports whether r is a file, or a LimitedReader over one: what net hands to
// sendfile(2).
func isFile(r io.Reader) bool {
	if lr, ok := r.(*io.LimitedReader); ok {
		r = lr.R
	}
	_, ok := r.(*os.File)
	return ok
}

// TestClientWriterNoSendfile checks that with --no-sendfile a file body never reaches the
// conn's ReadFrom (so net cannot send it with sendfile or splice) and arrives byte-exact,
// and that by default every step of it is offered as a file.
func TestClientWriterNoSendfile(t *testing.T) {
	for _, noSendfile := range []bool{false, true} {
		t.Run(fmt.Sprintf("noSendfile=%v", noSendfile), func(t *testing.T) {
			defer checkGoroutines(t)()
			c1, c2 := net.Pipe()
			defer c2.Close()
			conn := &readerFromConn{Conn: c1}
			w := newClientWriter(conn, 64<<10, testStall, t.TempDir())
			w.noSendfile = noSendfile
			body := pattern(300<<10 + 7)
			f := writeTempFile(t, body)
			start := make(chan struct{})
			close(start)
			got := readAfter(c2, start)
			n, err := w.ReadFrom(io.LimitReader(f, int64(len(body)-5)))
			if n != int64(len(body)-5) || err != nil {
				t.Errorf("ReadFrom = %d, %v; want %d, nil", n, err, len(body)-5)
			}
			c1.Close()
			r := <-got
			compare(t, "file body", r.b, body[:len(body)-5])
			if noSendfile {
				for _, o := range conn.offered {
					if isFile(o) {
						t.Errorf("--no-sendfile: the conn was offered %T over a file; want a copy through a buffer", o)
					}
				}
				return
			}
			if len(conn.offered) == 0 {
				t.Fatal("default: the conn was offered nothing; want the file, for sendfile")
			}
			for _, o := range conn.offered {
				if !isFile(o) {
					t.Errorf("default: the conn was offered %T; want a file (LimitedReader over *os.File)", o)
				}
			}
		})
	}
}

// TestClientWriterSpoolShare: writers sharing a budget (the streams of an HTTP/2
// connection) together queue no more than it for clients that read nothing; the one that
// finds it spent waits (backpressure); once the clients read, every byte arrives and the
// budget is whole again.
func TestClientWriterSpoolShare(t *testing.T) {
	defer checkGoroutines(t)()
	const budget = 100 << 10
	share := newSpoolShare(budget)
	var ws [2]*clientWriter
	var peers [2]net.Conn
	for i := range ws {
		c1, c2 := net.Pipe()
		defer c1.Close()
		defer c2.Close()
		ws[i] = newClientWriter(c1, 16<<10, testStall, t.TempDir())
		ws[i].spoolCap, ws[i].share = 1<<20, share
		peers[i] = c2
	}
	want := [2][]byte{pattern(80 << 10), pattern(80 << 10)}
	if n, err := ws[0].Write(want[0]); n != len(want[0]) || err != nil {
		t.Fatalf("first writer: Write = %d, %v; want all queued", n, err)
	}
	second := make(chan error, 1)
	go func() {
		_, err := ws[1].Write(want[1])
		second <- err
	}()
	// The second writer gets what is left of the budget, and waits for the rest.
	spent := func() bool { share.mu.Lock(); defer share.mu.Unlock(); return share.free == 0 }
	for deadline := time.Now().Add(10 * time.Second); !spent(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the second writer took nothing of the budget")
		}
	}
	p0, _ := ws[0].pendingBytes()
	p1, _ := ws[1].pendingBytes()
	if p0+p1 > budget {
		t.Errorf("pending %d + %d bytes; want at most the shared %d", p0, p1, budget)
	}
	select {
	case err := <-second:
		t.Fatalf("the second writer's Write returned (%v) with the budget spent and no client reading", err)
	default:
	}
	start := make(chan struct{})
	got := [2]<-chan readResult{readAfter(peers[0], start), readAfter(peers[1], start)}
	close(start)
	if err := <-second; err != nil {
		t.Fatalf("second writer: %v", err)
	}
	for i, w := range ws {
		if err := w.Wait(); err != nil {
			t.Fatalf("writer %d: Wait() = %v", i, err)
		}
		w.c.Close()
		r := <-got[i]
		compare(t, "writer "+strconv.Itoa(i), r.b, want[i])
	}
	if share.free != budget {
		t.Errorf("budget after both drained: %d; want %d", share.free, budget)
	}
}

// waitStalled checks that w's Wait fails with a deadline error about stall after it was
// called (the client took nothing), and that the error is sticky for later writes.
func waitStalled(t *testing.T, w *clientWriter, stall time.Duration) {
	t.Helper()
	t0 := time.Now()
	err := w.Wait()
	elapsed := time.Since(t0)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Wait() = %v; want a deadline error", err)
	}
	if elapsed < stall-50*time.Millisecond || elapsed > stall+2*time.Second {
		t.Errorf("Wait() returned after %v; want about %v", elapsed, stall)
	}
	if _, err2 := w.Write([]byte("x")); err2 != err {
		t.Errorf("Write after the stall = %v; want the sticky %v", err2, err)
	}
}
