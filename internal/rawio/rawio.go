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

// Read reads into p, waiting for readability if nothing is there yet. It returns io.EOF as
// (0, nil) like read(2): the caller checks n == 0.
func Read(rc syscall.RawConn, p []byte) (int, error) {
	var n int
	var errno syscall.Errno
	err := rc.Read(func(fd uintptr) bool {
		for {
			n, errno = rawRW(syscall.SYS_READ, fd, p)
			switch errno {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false
			}
			return true
		}
	})
	if err != nil {
		return 0, err
	}
	if errno != 0 {
		return 0, errno
	}
	return n, nil
}

// Write writes all of p, waiting for writability as needed.
func Write(rc syscall.RawConn, p []byte) (int, error) { return write(rc, p, true) }

// TryWrite writes as much of p as the socket takes now; it never waits. A full socket
// buffer is not an error: the caller sees n < len(p).
func TryWrite(rc syscall.RawConn, p []byte) (int, error) { return write(rc, p, false) }

func write(rc syscall.RawConn, p []byte, wait bool) (int, error) {
	done := 0
	var errno syscall.Errno
	err := rc.Write(func(fd uintptr) bool {
		for done < len(p) {
			n, e := rawRW(syscall.SYS_WRITE, fd, p[done:])
			switch e {
			case 0:
				done += n
				continue
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return !wait // false: the poller waits for writability and calls again
			}
			errno = e
			return true
		}
		return true
	})
	if err != nil {
		return done, err
	}
	if errno != 0 {
		return done, errno
	}
	return done, nil
}

// Recvmsg reads into p and control messages into oob, waiting for readability if nothing is
// there yet. flags are the returned msg_flags (MSG_CTRUNC and the like).
func Recvmsg(rc syscall.RawConn, p, oob []byte, recvFlags int) (n, oobn, flags int, err error) {
	var errno syscall.Errno
	var msg syscall.Msghdr
	var iov syscall.Iovec
	if len(p) > 0 {
		iov.Base = &p[0]
		iov.SetLen(len(p))
		msg.Iov = &iov
		msg.Iovlen = 1
	}
	rerr := rc.Read(func(fd uintptr) bool {
		for {
			if len(oob) > 0 {
				msg.Control = &oob[0]
				msg.SetControllen(len(oob))
			}
			r, _, e := syscall.RawSyscall(syscall.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&msg)), uintptr(recvFlags))
			switch e {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false
			}
			errno = e
			n = int(r)
			return true
		}
	})
	if rerr != nil {
		return 0, 0, 0, rerr
	}
	if errno != 0 {
		return 0, 0, 0, errno
	}
	return n, int(msg.Controllen), int(msg.Flags), nil
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

// ReadLazy is Read for a socket that may wait long for its next bytes (an idle keep-alive
// connection): it takes a buffer from get only to try a read, and gives it back to put
// before it waits, so that a waiting connection holds no buffer. It returns the buffer it
// read into (nil when it returns an error without having read).
func ReadLazy(rc syscall.RawConn, get func() []byte, put func([]byte)) ([]byte, int, error) {
	var p []byte
	var n int
	var errno syscall.Errno
	err := rc.Read(func(fd uintptr) bool {
		p = get()
		for {
			n, errno = rawRW(syscall.SYS_READ, fd, p)
			switch errno {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				put(p)
				p = nil
				return false
			}
			return true
		}
	})
	if err != nil {
		return p, 0, err
	}
	if errno != 0 {
		return p, 0, errno
	}
	return p, n, nil
}
