// Package rawio does socket I/O on Go's non-blocking sockets with raw system calls.
//
// Why: net.Conn's Read and Write enter the runtime's "in a system call" state. On a busy
// single core, a loopback write or read often lasts longer than sysmon's 20 µs tick, so sysmon
// hands the P to another thread: a futex wake-up and a context switch per request. These
// calls cannot block (the sockets are non-blocking; EAGAIN parks the goroutine on the
// netpoller through syscall.RawConn, as net.Conn does), so they need no such hand-off. The
// deadlines set on the net.Conn still apply: RawConn.Read/Write wait through the same
// poller.
package rawio

import (
	"syscall"
	"unsafe"
)

// Conn does the raw reads and writes of one socket without allocating: the poller needs a
// callback, and a callback made at each call would put it, and the variables it fills, on
// the heap; a Conn makes its callbacks once and keeps a call's state in itself. So at most
// one read (Read, ReadLazy or Recvmsg), and one Write or TryWrite, may be in progress at a
// time.
type Conn struct {
	rc           syscall.RawConn
	rd, wr       call                  // the read and the write in progress
	readFn, wrFn func(fd uintptr) bool // rd.read and wr.write, bound once by NewConn
	lazyFn       func(fd uintptr) bool // rd.lazy, likewise
	msgFn        func(fd uintptr) bool // rd.recvmsg, likewise
}

// NewConn returns a Conn on rc.
func NewConn(rc syscall.RawConn) *Conn {
	c := &Conn{rc: rc}
	c.readFn, c.wrFn, c.lazyFn, c.msgFn = c.rd.read, c.wr.write, c.rd.lazy, c.rd.recvmsg
	return c
}

// ReadLazy is Read for a socket that may wait long for its next bytes (an idle keep-alive
// connection): it takes a buffer from get only to try a read, and gives it back to put
// before it waits, so that a waiting connection holds no buffer. It returns the buffer it
// read into (nil when it returns an error without having read).
func (c *Conn) ReadLazy(get func() []byte, put func([]byte)) ([]byte, int, error) {
	c.rd = call{get: get, put: put}
	n, err := c.rd.result(c.rc.Read(c.lazyFn))
	p := c.rd.p
	c.rd = call{}
	if err != nil {
		n = 0
	}
	return p, n, err
}

// Recvmsg reads into p and control messages into oob, waiting for readability if nothing is
// there yet. flags are the returned msg_flags (MSG_CTRUNC and the like).
func (c *Conn) Recvmsg(p, oob []byte, recvFlags int) (n, oobn, flags int, err error) {
	c.rd = call{p: p, oob: oob, recvFlags: recvFlags}
	n, err = c.rd.result(c.rc.Read(c.msgFn))
	oobn, flags = int(c.rd.msg.Controllen), int(c.rd.msg.Flags)
	c.rd = call{}
	if err != nil {
		return 0, 0, 0, err
	}
	return n, oobn, flags, nil
}

// Read reads into p, waiting for readability if nothing is there yet. It returns io.EOF as
// (0, nil) like read(2): the caller checks n == 0.
func (c *Conn) Read(p []byte) (int, error) {
	c.rd = call{p: p}
	n, err := c.rd.result(c.rc.Read(c.readFn))
	c.rd.p = nil // not kept past the call
	return n, err
}

// Write writes all of p, waiting for writability as needed.
func (c *Conn) Write(p []byte) (int, error) { return c.write(p, true) }

// TryWrite writes as much of p as the socket takes now; it never waits. A full socket
// buffer is not an error: the caller sees n < len(p).
func (c *Conn) TryWrite(p []byte) (int, error) { return c.write(p, false) }

func (c *Conn) write(p []byte, wait bool) (int, error) {
	c.wr = call{p: p, wait: wait}
	n, err := c.wr.result(c.rc.Write(c.wrFn))
	c.wr.p = nil
	return n, err
}

// call is the state of one read or write: its buffer, how much was done, how it failed.
type call struct {
	p     []byte
	n     int           // bytes read, or written so far
	errno syscall.Errno // the system call's failure; 0 = none
	wait  bool          // a write waits for writability until all of p is written

	get func() []byte // lazy: where p comes from before each try
	put func([]byte)  // lazy: where p goes back to before a wait

	oob       []byte // recvmsg: room for control messages
	recvFlags int    // recvmsg: its flags argument
	msg       syscall.Msghdr
	iov       syscall.Iovec
}

// lazy is the poller's callback of ReadLazy: it takes a buffer for each try and gives it
// back before a wait.
func (c *call) lazy(fd uintptr) bool {
	c.p = c.get()
	if !c.read(fd) {
		c.put(c.p)
		c.p = nil
		return false
	}
	return true
}

// recvmsg is the poller's callback of Recvmsg.
func (c *call) recvmsg(fd uintptr) bool {
	c.msg = syscall.Msghdr{}
	if len(c.p) > 0 {
		c.iov.Base = &c.p[0]
		c.iov.SetLen(len(c.p))
		c.msg.Iov = &c.iov
		c.msg.Iovlen = 1
	}
	for {
		if len(c.oob) > 0 {
			c.msg.Control = &c.oob[0]
			c.msg.SetControllen(len(c.oob))
		}
		r, _, e := syscall.RawSyscall(syscall.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&c.msg)), uintptr(c.recvFlags))
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		c.errno = e
		if e == 0 {
			c.n = int(r)
		}
		return true
	}
}

// read is the poller's callback of a read: it reports false (wait for readability) on EAGAIN.
func (c *call) read(fd uintptr) bool {
	for {
		c.n, c.errno = rawRW(syscall.SYS_READ, fd, c.p)
		switch c.errno {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		return true
	}
}

// write is the poller's callback of a write.
func (c *call) write(fd uintptr) bool {
	for c.n < len(c.p) {
		n, e := rawRW(syscall.SYS_WRITE, fd, c.p[c.n:])
		switch e {
		case 0:
			c.n += n
			continue
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return !c.wait // false: the poller waits for writability and calls again
		}
		c.errno = e
		return true
	}
	return true
}

// result is what the call returns, given the poller's error (a deadline, a closed conn).
// A failed read has read nothing (n is 0); a failed write reports what it wrote before.
func (c *call) result(err error) (int, error) {
	if err != nil {
		return c.n, err
	}
	if c.errno != 0 {
		return c.n, c.errno
	}
	return c.n, nil
}

func rawRW(trap uintptr, fd uintptr, p []byte) (int, syscall.Errno) {
	if len(p) == 0 {
		return 0, 0
	}
	n, _, e := syscall.RawSyscall(trap, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), 0
}
