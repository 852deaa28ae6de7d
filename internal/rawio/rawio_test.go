package rawio

import (
	"bytes"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// pair returns two connected unix stream sockets as *net.UnixConn (non-blocking, on the
// netpoller), like the worker links.
func pair(t *testing.T) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) *net.UnixConn {
		f := os.NewFile(uintptr(fd), "pair")
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

func raw(t *testing.T, c *net.UnixConn) syscall.RawConn {
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

func TestWriteThenReadWaits(t *testing.T) {
	a, b := pair(t)
	got := make(chan []byte)
	go func() {
		buf := make([]byte, 16)
		n, err := NewConn(raw(t, b)).Read(buf) // waits: nothing written yet
		if err != nil {
			t.Error(err)
		}
		got <- buf[:n]
	}()
	time.Sleep(20 * time.Millisecond)
	if n, err := NewConn(raw(t, a)).Write([]byte("hello")); n != 5 || err != nil {
		t.Fatalf("Write = %d, %v; want 5, nil", n, err)
	}
	if g := <-got; string(g) != "hello" {
		t.Errorf("Read = %q; want %q", g, "hello")
	}
}

func TestTryWriteStopsWhenFull(t *testing.T) {
	a, b := pair(t)
	big := bytes.Repeat([]byte("x"), 8<<20)
	n, err := NewConn(raw(t, a)).TryWrite(big)
	if err != nil || n <= 0 || n >= len(big) {
		t.Fatalf("TryWrite(8 MiB) into an unread socket = %d, %v; want a partial write and no error", n, err)
	}
	// Write waits until the reader makes room.
	done := make(chan error)
	go func() {
		_, err := NewConn(raw(t, a)).Write(big[n:])
		done <- err
	}()
	buf := make([]byte, 1<<20)
	total := 0
	for total < len(big) {
		m, err := NewConn(raw(t, b)).Read(buf)
		if err != nil || m == 0 {
			t.Fatalf("Read after %d bytes = %d, %v", total, m, err)
		}
		total += m
	}
	if err := <-done; err != nil {
		t.Fatalf("Write = %v", err)
	}
}

func TestReadDeadlineAndEOF(t *testing.T) {
	a, b := pair(t)
	b.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := NewConn(raw(t, b)).Read(make([]byte, 4)); !os.IsTimeout(err) {
		t.Fatalf("Read past the deadline = %v; want a timeout", err)
	}
	b.SetReadDeadline(time.Time{})
	a.Close()
	if n, err := NewConn(raw(t, b)).Read(make([]byte, 4)); n != 0 || err != nil {
		t.Fatalf("Read at EOF = %d, %v; want 0, nil (read(2)'s EOF)", n, err)
	}
}

func TestRecvmsgPassesFDs(t *testing.T) {
	a, b := pair(t)
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, _, err := a.WriteMsgUnix([]byte("F"), syscall.UnixRights(int(f.Fd())), nil); err != nil {
		t.Fatal(err)
	}
	buf, oob := make([]byte, 8), make([]byte, syscall.CmsgSpace(4*4))
	n, oobn, flags, err := NewConn(raw(t, b)).Recvmsg(buf, oob, syscall.MSG_CMSG_CLOEXEC)
	if err != nil || n != 1 || buf[0] != 'F' || flags&syscall.MSG_CTRUNC != 0 {
		t.Fatalf("Recvmsg = %d, %d, %#x, %v; want 1 byte 'F'", n, oobn, flags, err)
	}
	msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		t.Fatalf("control messages = %v, %v; want one", msgs, err)
	}
	fds, err := syscall.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		t.Fatalf("ParseUnixRights = %v, %v; want one fd", fds, err)
	}
	syscall.Close(fds[0])
}

// A Conn does what the functions do: a partial TryWrite into a full socket, a Write that
// waits for the reader, a Write cut by its deadline reporting what it wrote, a Read cut by
// its deadline, read(2)'s EOF.
func TestConn(t *testing.T) {
	a, b := pair(t)
	ca, cb := NewConn(raw(t, a)), NewConn(raw(t, b))
	big := bytes.Repeat([]byte("x"), 8<<20)
	n, err := ca.TryWrite(big)
	if err != nil || n <= 0 || n >= len(big) {
		t.Fatalf("TryWrite(8 MiB) into an unread socket = %d, %v; want a partial write and no error", n, err)
	}
	a.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	if m, err := ca.Write(big[n:]); m != 0 || !os.IsTimeout(err) {
		t.Fatalf("Write into a full socket past the deadline = %d, %v; want 0 and a timeout", m, err)
	}
	a.SetWriteDeadline(time.Time{})
	done := make(chan error)
	go func() {
		_, err := ca.Write(big[n:])
		done <- err
	}()
	buf := make([]byte, 1<<20)
	total := 0
	for total < len(big) {
		m, err := cb.Read(buf)
		if err != nil || m == 0 {
			t.Fatalf("Read after %d bytes = %d, %v", total, m, err)
		}
		total += m
	}
	if err := <-done; err != nil {
		t.Fatalf("Write = %v", err)
	}
	b.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := cb.Read(buf); !os.IsTimeout(err) {
		t.Fatalf("Read past the deadline = %v; want a timeout", err)
	}
	b.SetReadDeadline(time.Time{})
	a.Close()
	if n, err := cb.Read(buf); n != 0 || err != nil {
		t.Fatalf("Read at EOF = %d, %v; want 0, nil (read(2)'s EOF)", n, err)
	}
}

// A Conn's reads and writes do not allocate (the functions allocate their callback).
func TestConnNoAlloc(t *testing.T) {
	a, b := pair(t)
	ca, cb := NewConn(raw(t, a)), NewConn(raw(t, b))
	msg, buf, oob := []byte("hello"), make([]byte, 16), make([]byte, 64)
	get, put := func() []byte { return buf }, func([]byte) {}
	allocs := testing.AllocsPerRun(100, func() {
		if n, err := ca.TryWrite(msg); n != len(msg) || err != nil {
			t.Fatalf("TryWrite = %d, %v", n, err)
		}
		if n, err := cb.Read(buf); n != len(msg) || err != nil {
			t.Fatalf("Read = %d, %v", n, err)
		}
		if n, err := cb.Write(msg); n != len(msg) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
		if n, err := ca.Read(buf); n != len(msg) || err != nil {
			t.Fatalf("Read = %d, %v", n, err)
		}
		ca.Write(msg)
		if p, n, err := cb.ReadLazy(get, put); n != len(msg) || err != nil || &p[0] != &buf[0] {
			t.Fatalf("ReadLazy = %d, %v", n, err)
		}
		cb.Write(msg)
		if n, _, _, err := ca.Recvmsg(buf, oob, 0); n != len(msg) || err != nil {
			t.Fatalf("Recvmsg = %d, %v", n, err)
		}
	})
	if allocs != 0 {
		t.Errorf("allocations per TryWrite, Read, Write, Read, ReadLazy and Recvmsg = %v; want 0", allocs)
	}
}
