package wire

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// socketpair returns the two ends of a real AF_UNIX stream socketpair, as
// the master holds them.
func socketpair(t testing.TB) (a, b *net.UnixConn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) *net.UnixConn {
		f := os.NewFile(uintptr(fd), "socketpair")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c.(*net.UnixConn)
	}
	return conn(fds[0]), conn(fds[1])
}

// unread reports how many bytes wait in c's receive queue (TIOCINQ).
func unread(t testing.TB, c *net.UnixConn) int {
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int32
	var errno syscall.Errno
	raw.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&n)))
	})
	if errno != 0 {
		t.Fatal(errno)
	}
	return int(n)
}

func frame(k Kind, payload string) []byte {
	return append(AppendHeader(nil, k, len(payload)), payload...)
}

// testFrames is a response as the worker writes it.
var testFrames = []Frame{
	{Start, []byte("(\x02\x00\x00\x00u\x06\x00\x00\x00200 OK[\x00\x00\x00\x00")},
	{Data, []byte("hello")},
	{Data, []byte(" world")},
	{End, []byte{}},
	{Error, []byte("Traceback")},
}

func encodeFrames(fs []Frame) []byte {
	var b []byte
	for _, f := range fs {
		b = append(AppendHeader(b, f.Kind, len(f.Payload)), f.Payload...)
	}
	return b
}

// readAll reads n frames, copying the payloads.
func readAll(t *testing.T, r *Reader, n int) []Frame {
	t.Helper()
	var out []Frame
	for range n {
		f, err := r.Next()
		if err != nil {
			t.Fatalf("Next after %d frames: %v", len(out), err)
		}
		out = append(out, Frame{f.Kind, bytes.Clone(f.Payload)})
	}
	return out
}

func equalFrames(a, b []Frame) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Kind != b[i].Kind || !bytes.Equal(a[i].Payload, b[i].Payload) {
			return false
		}
	}
	return true
}

// TestReaderSplitAtEveryByte sends the frames one byte at a time and waits
// until the reader has taken each byte, so every split point is crossed.
func TestReaderSplitAtEveryByte(t *testing.T) {
	goSide, worker := socketpair(t)
	r := NewReader(goSide)
	data := encodeFrames(testFrames)
	done := make(chan []Frame)
	go func() {
		var out []Frame
		for range testFrames {
			f, err := r.Next()
			if err != nil {
				t.Error(err)
				break
			}
			out = append(out, Frame{f.Kind, bytes.Clone(f.Payload)})
		}
		done <- out
	}()
	for i := range data {
		if _, err := worker.Write(data[i : i+1]); err != nil {
			t.Fatal(err)
		}
		for unread(t, goSide) > 0 {
			runtime.Gosched()
		}
	}
	if got := <-done; !equalFrames(got, testFrames) {
		t.Fatalf("frames = %q; want %q", got, testFrames)
	}
	if _, err := worker.Write(data[:3]); err != nil {
		t.Fatal(err)
	}
	worker.CloseWrite()
	if _, err := r.Next(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("Next at EOF inside a header = %v; want io.ErrUnexpectedEOF", err)
	}
}

func TestReaderManyFramesPerRead(t *testing.T) {
	goSide, worker := socketpair(t)
	r := NewReader(goSide)
	var all []Frame
	for range 200 {
		all = append(all, testFrames...)
	}
	go func() {
		worker.Write(encodeFrames(all))
		worker.CloseWrite()
	}()
	if got := readAll(t, r, len(all)); !equalFrames(got, all) {
		t.Fatal("frames differ")
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("Next at clean EOF = %v; want io.EOF", err)
	}
}

func TestReaderBigFrames(t *testing.T) {
	goSide, worker := socketpair(t)
	r := NewReader(goSide)
	big := strings.Repeat("x", MaxPayload)
	want := []Frame{{Data, []byte("a")}, {Data, []byte(big)}, {Data, []byte("b")}, {Data, []byte(big[:70000])}}
	go worker.Write(encodeFrames(want))
	if got := readAll(t, r, len(want)); !equalFrames(got, want) {
		t.Fatal("frames differ")
	}

	go worker.Write(AppendHeader(nil, Data, MaxPayload+1))
	_, err := r.Next()
	if !errors.Is(err, ErrProtocol) || err.Error() != "wire: worker broke the protocol: D frame length 1048641 exceeds 1048640" {
		t.Fatalf("Next over MaxPayload = %v; want a protocol error", err)
	}
}

func TestReaderFDs(t *testing.T) {
	goSide, worker := socketpair(t)
	r := NewReader(goSide)
	defer r.Close()
	var files []*os.File
	for i := range 3 {
		f, err := os.CreateTemp(t.TempDir(), "body")
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(strings.Repeat(string(rune('a'+i)), 10))
		defer f.Close()
		files = append(files, f)
	}
	fileFrame := frame(File, "\x02\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff")
	// S + F with the fd in one sendmsg (as the worker does), F, then
	// F + E; all sent before reading, so reads may join them.
	if err := WriteWithFD(worker, append(frame(Start, "s"), fileFrame...), int(files[0].Fd())); err != nil {
		t.Fatal(err)
	}
	if err := WriteWithFD(worker, fileFrame, int(files[1].Fd())); err != nil {
		t.Fatal(err)
	}
	if err := WriteWithFD(worker, append(fileFrame, frame(End, "")...), int(files[2].Fd())); err != nil {
		t.Fatal(err)
	}
	if f, err := r.Next(); err != nil || f.Kind != Start {
		t.Fatalf("Next = %v, %v; want S", f.Kind, err)
	}
	for i := range 3 {
		f, err := r.Next()
		if err != nil || f.Kind != File {
			t.Fatalf("Next = %v, %v; want F", f.Kind, err)
		}
		fd, err := r.TakeFD()
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 3)
		n, err := syscall.Pread(fd, buf, 2)
		syscall.Close(fd)
		if want := strings.Repeat(string(rune('a'+i)), 3); err != nil || string(buf[:n]) != want {
			t.Fatalf("pread(fd %d) = %q, %v; want %q", i, buf[:n], err, want)
		}
	}
	if _, err := r.TakeFD(); err == nil {
		t.Fatal("TakeFD with none left = nil error")
	}

	if f, err := r.Next(); err != nil || f.Kind != End {
		t.Fatalf("Next = %v, %v; want E", f.Kind, err)
	}

	// Close closes fds received but not taken.
	if err := WriteWithFD(worker, frame(End, ""), int(files[0].Fd())); err != nil {
		t.Fatal(err)
	}
	if f, err := r.Next(); err != nil || f.Kind != End || len(r.fds) != 1 {
		t.Fatalf("Next = %v, %v with %d fds queued; want E with 1", f.Kind, err, len(r.fds))
	}
	fd := r.fds[0]
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Fstat(fd, new(syscall.Stat_t)); err != syscall.EBADF {
		t.Fatalf("fstat(queued fd) after Close = %v; want EBADF", err)
	}
}
