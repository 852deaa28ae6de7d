package server

import (
	"io"
	"net"
	"os"
	"syscall"

	"github.com/gonicorn/gonicorn/internal/rawio"
)

// replayConn is a client connection whose first reads return bytes read from it already
// (pre), and whose reads and writes are raw system calls on the socket (package rawio), as
// a plain HTTP/1.1 connection's are, failing as net.Conn's do. What a tls.Conn reads and
// writes (tlsTransport) and what x/net serves h2c over (takeBuffered) are one.
type replayConn struct {
	net.Conn
	pre []byte // read already, to be returned by Read first; owned by the reader
	// raw does the raw reads and writes; nil if the socket has none: then through Conn.
	// One read and one write at a time (rawio.Conn): crypto/tls and x/net read on one
	// goroutine and write one batch at a time.
	raw *rawio.Conn
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(p, c.pre)
		c.pre = c.pre[n:]
		return n, nil
	}
	if c.raw == nil {
		return c.Conn.Read(p)
	}
	n, err := c.raw.Read(p)
	if err != nil {
		return 0, opError(c.Conn, "read", err)
	}
	if n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

// Write writes all of p or fails, as net.Conn.Write does.
func (c *replayConn) Write(p []byte) (int, error) {
	if c.raw == nil {
		return c.Conn.Write(p)
	}
	n, err := c.raw.Write(p)
	if err != nil {
		return n, opError(c.Conn, "write", err)
	}
	return n, nil
}

// opError describes a failed raw read or write on c as net.Conn would: the poller's errors
// (deadline, closed) come wrapped already; a system call's errno is wrapped here, so that a
// log line names the connection and crypto/tls or x/net see the same error types as over
// net.Conn.
func opError(c net.Conn, op string, err error) error {
	errno, ok := err.(syscall.Errno)
	if !ok {
		return err
	}
	e := &net.OpError{Op: op, Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError(op, errno)}
	if e.Source != nil {
		e.Net = e.Source.Network()
	}
	return e
}
