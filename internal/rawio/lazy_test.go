package rawio

import (
	"errors"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

// ReadLazy holds no buffer while it waits: every buffer it took for a read that would block
// was given back, and the bytes land in the last buffer taken.
func TestReadLazy(t *testing.T) {
	a, b := pair(t)
	var got, put atomic.Int32
	get := func() []byte { got.Add(1); return make([]byte, 16) }
	release := func([]byte) { put.Add(1) }

	done := make(chan struct{})
	var p []byte
	var n int
	var err error
	go func() {
		defer close(done)
		p, n, err = NewConn(raw(t, a)).ReadLazy(get, release)
	}()
	time.Sleep(50 * time.Millisecond) // let it find nothing and wait
	if g, r := got.Load(), put.Load(); g == 0 || g != r {
		t.Errorf("while waiting: %d buffers taken, %d given back; want all given back", g, r)
	}
	b.Write([]byte("hello"))
	<-done
	if err != nil || n != 5 || string(p[:n]) != "hello" {
		t.Fatalf("ReadLazy = %q, %d, %v; want hello, 5, nil", p, n, err)
	}
	if g, r := got.Load(), put.Load(); g != r+1 {
		t.Errorf("after the read: %d taken, %d given back; want exactly the returned one kept", g, r)
	}

	// A deadline ends the wait with the buffer given back.
	a.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	p, n, err = NewConn(raw(t, a)).ReadLazy(get, release)
	if !errors.Is(err, os.ErrDeadlineExceeded) || p != nil || n != 0 {
		t.Errorf("ReadLazy past the deadline = %v, %d, %v; want nil, 0, deadline exceeded", p, n, err)
	}

	// End of stream: (buffer, 0, nil), as read(2).
	a.SetReadDeadline(time.Time{})
	b.Close()
	if p, n, err = NewConn(raw(t, a)).ReadLazy(get, release); err != nil || n != 0 || p == nil {
		t.Errorf("ReadLazy at EOF = %v, %d, %v; want a buffer, 0, nil", p, n, err)
	}
}
