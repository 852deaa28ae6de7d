//go:build unix

package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/gonicorn/gonicorn/internal/rawio"
)

// readSize is the initial buffer size: room for many small frames per
// read. The buffer grows up to HeaderSize+MaxPayload for a big frame.
const readSize = 64 << 10

// oobSize is room for the control message of one read. Linux stops a read
// of a stream socket after the first message that carries fds, and the
// worker attaches one fd per message, so a few slots are plenty.
var oobSize = syscall.CmsgSpace(8 * 4)

// Reader reads frames from one worker socket. It buffers, so one read can
// yield several frames, and it queues the fds that arrive with SCM_RIGHTS
// (the kernel delivers them with the bytes of the frame they were sent
// with, hence never after that frame's header). A Reader is not safe for
// concurrent use; one goroutine owns it.
type Reader struct {
	c    *net.UnixConn
	rc   *rawio.Conn // c's raw conn, for recvmsg without a runtime hand-off or an allocation (see rawio)
	buf  []byte      // buf[r:w] is unread; len(buf) is the capacity in use
	r, w int
	cur  int    // size of the frame returned by the last Next, consumed by the next
	oob  []byte // control message space for each read
	fds  []int  // received fds not yet taken, in arrival order
}

// NewReader returns a Reader for c. It has no side effects.
func NewReader(c *net.UnixConn) *Reader {
	r := &Reader{c: c}
	if rc, err := c.SyscallConn(); err == nil {
		r.rc = rawio.NewConn(rc)
	}
	return r
}

// Frame is one frame read by a Reader.
type Frame struct {
	Kind    Kind
	Payload []byte // valid until the next call to Next
}

// Next reads the next whole frame. At a clean end of stream (between
// frames) it returns io.EOF; inside a frame io.ErrUnexpectedEOF. A length
// above MaxPayload, or fds lost, is an error wrapping ErrProtocol: the
// stream cannot be read on, and the worker must be replaced.
func (r *Reader) Next() (Frame, error) {
	r.r += r.cur
	r.cur = 0
	if err := r.fill(HeaderSize); err != nil {
		return Frame{}, err
	}
	n := binary.LittleEndian.Uint32(r.buf[r.r:])
	k := Kind(r.buf[r.r+4])
	if n > MaxPayload {
		return Frame{}, fmt.Errorf("wire: %w: %v frame length %d exceeds %d", ErrProtocol, k, n, MaxPayload)
	}
	size := HeaderSize + int(n)
	if err := r.fill(size); err != nil {
		return Frame{}, err
	}
	r.cur = size
	return Frame{Kind: k, Payload: r.buf[r.r+HeaderSize : r.r+size : r.r+size]}, nil
}

// fill reads until at least n unread bytes are buffered.
func (r *Reader) fill(n int) error {
	if r.w-r.r >= n {
		return nil
	}
	if r.r == r.w {
		r.r, r.w = 0, 0 // empty: read from the start of the buffer
	}
	if r.r+n > len(r.buf) {
		// Make room: move the unread bytes to the front, grow if needed.
		if n > len(r.buf) || r.buf == nil {
			nb := make([]byte, max(n, readSize, 2*len(r.buf)))
			nb = nb[:min(len(nb), max(n, HeaderSize+MaxPayload))]
			r.w = copy(nb, r.buf[r.r:r.w])
			r.buf = nb
		} else {
			r.w = copy(r.buf, r.buf[r.r:r.w])
		}
		r.r = 0
	}
	if r.oob == nil {
		r.oob = make([]byte, oobSize)
	}
	for r.w-r.r < n {
		var m, oobn, flags int
		var err error
		if r.rc != nil {
			m, oobn, flags, err = r.rc.Recvmsg(r.buf[r.w:], r.oob, syscall.MSG_CMSG_CLOEXEC)
			if err == nil && m == 0 && oobn == 0 {
				err = io.EOF
			}
		} else {
			m, oobn, flags, _, err = r.c.ReadMsgUnix(r.buf[r.w:], r.oob)
		}
		r.w += m
		if oobn > 0 {
			if perr := r.queueFDs(r.oob[:oobn]); perr != nil {
				return perr
			}
		}
		if flags&syscall.MSG_CTRUNC != 0 {
			return fmt.Errorf("wire: %w: control message truncated, file descriptors lost", ErrProtocol)
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				if r.w > r.r {
					return fmt.Errorf("wire: reading frame: %w after %d of %d bytes", io.ErrUnexpectedEOF, r.w-r.r, n)
				}
				return io.EOF
			}
			return fmt.Errorf("wire: reading frame: %w", err)
		}
	}
	return nil
}

func (r *Reader) queueFDs(oob []byte) error {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return fmt.Errorf("wire: %w: parsing control message: %v", ErrProtocol, err)
	}
	for _, m := range msgs {
		if m.Header.Level != syscall.SOL_SOCKET || m.Header.Type != syscall.SCM_RIGHTS {
			continue
		}
		fds, err := syscall.ParseUnixRights(&m)
		if err != nil {
			return fmt.Errorf("wire: %w: parsing SCM_RIGHTS: %v", ErrProtocol, err)
		}
		r.fds = append(r.fds, fds...)
	}
	return nil
}

// TakeFD returns the next received fd; the caller owns it. An F frame
// takes one.
func (r *Reader) TakeFD() (int, error) {
	if len(r.fds) == 0 {
		return -1, fmt.Errorf("wire: %w: no file descriptor was received for the frame", ErrProtocol)
	}
	fd := r.fds[0]
	r.fds = r.fds[1:]
	return fd, nil
}

// Close closes the fds received but not taken. It does not close the
// connection, which belongs to the caller.
func (r *Reader) Close() error {
	var first error
	for _, fd := range r.fds {
		if err := syscall.Close(fd); err != nil && first == nil {
			first = fmt.Errorf("wire: closing received fd %d: %w", fd, err)
		}
	}
	r.fds = nil
	return first
}

// WriteWithFD writes frame with fd attached (SCM_RIGHTS) in one sendmsg;
// the kernel delivers the fd with the frame's first bytes. The caller
// keeps its own fd and may close it once WriteWithFD returns.
func WriteWithFD(c *net.UnixConn, frame []byte, fd int) error {
	n, _, err := c.WriteMsgUnix(frame, syscall.UnixRights(fd), nil)
	if err != nil {
		return fmt.Errorf("wire: sending %d-byte frame with fd %d: %w", len(frame), fd, err)
	}
	if n < len(frame) {
		// A stream socket may take part of it; the fd went with that part.
		if _, err := c.Write(frame[n:]); err != nil {
			return fmt.Errorf("wire: sending %d-byte frame with fd %d: %w", len(frame), fd, err)
		}
	}
	return nil
}
