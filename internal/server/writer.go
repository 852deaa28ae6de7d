package server

import (
	"crypto/tls"
	"errors"
	"io"
	"math"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/gonicorn/gonicorn/internal/rawio"
	"golang.org/x/sys/unix"
)

// clientWriter writes response bytes to a client without blocking the caller while the
// client owes less than spoolCap bytes, so that a worker slot is released as soon as the
// application is done, however slowly the client reads (DESIGN: "a slow reader costs a
// goroutine, never a Python worker"), and so that a client that reads nothing cannot make
// the master hold an endless response.
//
// Life of a write:
//  1. While nothing is pending, Write tries the socket directly with one non-blocking
//     write(2). Usually everything fits in the socket buffer and that is all. Over TLS
//     the block is encrypted and written the same way (tryWriteTLS); what the socket does
//     not take is owed ciphertext, which the drain of step 2 sends before anything else.
//  2. What does not fit is kept in memory, up to memCap bytes, then in an unlinked temp
//     file, and a drain goroutine starts writing it out with blocking writes.
//  3. Later Writes append behind the pending bytes, so order is kept.
//  4. A Write that would make the pending bytes exceed spoolCap queues what fits and waits
//     for the drain to make room (backpressure: the caller stops reading the worker's
//     answer, so the worker waits). The temp file is a ring of at most spoolCap bytes, so
//     a long response to a slow but steady client reuses it instead of growing it.
//  5. Wait blocks until everything is written (or the client failed); the connection
//     goroutine calls it after the slot was released, before the next request.
type clientWriter struct {
	c   net.Conn
	raw syscall.RawConn // nil when the conn offers none: then writes block
	// rio makes tryWrite's system call on raw without allocating; only this writer uses its
	// write half (under mu, while not draining). The connection's own is given to the
	// writer (conn.writer), whose goroutine only reads with it; else tryWrite makes one.
	rio          *rawio.Conn
	memCap       int           // bytes kept in memory (TLS ciphertext owed included) before spilling to a file
	stallTimeout time.Duration // a blocking write that makes no progress this long fails
	noSendfile   bool          // ReadFrom copies through a buffer, never with sendfile(2) (--no-sendfile)
	tempDir      string
	// tls is the transport under c when c is the server's TLS connection (nil otherwise):
	// its spooling mode lets Write send a block inline (tryWriteTLS).
	tls *tlsTransport
	// spoolCap is the most bytes pending (memory and file) before Write waits for the
	// client (--max-response-spool); 0 = none may wait: Write writes them itself; < 0 = no
	// limit (noSpoolLimit, what newClientWriter sets; the server sets its own).
	spoolCap int64
	// share, when not nil, is a budget of pending bytes this writer shares with others (the
	// streams of one HTTP/2 connection, h2.go): what it queues is taken from it and given
	// back as the drain writes it. When the budget is spent and this writer has nothing
	// pending, Write writes itself (backpressure, as at spoolCap).
	share *spoolShare
	room  *sync.Cond // on mu: broadcast by the drain when pending bytes were written or it failed

	mu       sync.Mutex
	err      error    // sticky: the first write error; guarded by mu
	mem      [][]byte // pending in-memory blocks, in order; guarded by mu
	memBytes int      // sum of len(mem); guarded by mu
	file     *os.File // spill file once mem is full; guarded by mu
	fileR    int64    // read offset in file, counted as if it were not a ring; guarded by mu
	fileW    int64    // write offset in file, likewise; fileW-fileR <= ring; guarded by mu
	ring     int64    // size of the ring the file is: spoolCap, or MaxInt64 with no limit; set with file
	draining bool     // a drain goroutine runs; guarded by mu
	drained  chan struct{}
	written  int64 // bytes handed to Write that were accepted, for the access log
}

// spoolShare is a budget of pending bytes shared by several clientWriters. A nil
// *spoolShare has no limit.
type spoolShare struct {
	mu   sync.Mutex
	free int64 // bytes that may still be queued; guarded by mu
}

func newSpoolShare(n int64) *spoolShare { return &spoolShare{free: n} }

// take reserves up to n bytes of the budget and returns how many it got.
func (s *spoolShare) take(n int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := int(min(int64(n), max(s.free, 0)))
	s.free -= int64(k)
	return k
}

// give returns n bytes to the budget.
func (s *spoolShare) give(n int) {
	if s == nil || n <= 0 {
		return
	}
	s.mu.Lock()
	s.free += int64(n)
	s.mu.Unlock()
}

// noSpoolLimit is a spoolCap without limit.
const noSpoolLimit = -1

func newClientWriter(c net.Conn, memCap int, stall time.Duration, tempDir string) *clientWriter {
	w := &clientWriter{c: c, memCap: memCap, stallTimeout: stall, tempDir: tempDir, spoolCap: noSpoolLimit}
	w.room = sync.NewCond(&w.mu)
	if sc, ok := c.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			w.raw = raw
		}
	}
	if tc, ok := c.(*tls.Conn); ok {
		if t, ok := tc.NetConn().(*tlsTransport); ok && t.raw != nil {
			w.tls = t
		}
	}
	return w
}

// errWouldBlock is what a non-blocking write returns when the socket buffer is full.
var errWouldBlock = errors.New("would block")

// tryWriter is a writer that can tell, without waiting, whether it takes bytes now: an
// HTTP/2 stream (streamWriter.TryWrite). A clientWriter over one writes to it directly
// while nothing is pending, as it writes to a plain socket.
type tryWriter interface {
	// TryWrite writes as much of p as it takes without waiting, and errWouldBlock if
	// that is not all of it.
	TryWrite(p []byte) (int, error)
}

// tryWrite writes as much of p as the socket takes now, without waiting.
func (w *clientWriter) tryWrite(p []byte) (int, error) {
	if tw, ok := w.c.(tryWriter); ok {
		return tw.TryWrite(p)
	}
	if w.raw == nil {
		if w.tls != nil {
			return w.tryWriteTLS(p)
		}
		return 0, errWouldBlock
	}
	if w.rio == nil {
		w.rio = rawio.NewConn(w.raw)
	}
	n, err := w.rio.TryWrite(p)
	if err == nil && n < len(p) {
		err = errWouldBlock
	}
	return n, err
}

// tryWriteTLS writes p through TLS without waiting: with the transport in its spooling
// mode, the ciphertext goes to the socket as far as it takes it now, and the rest is owed
// by the transport (reported as written to crypto/tls), for the drain, which tryWriteTLS
// starts, to send first. The owed bytes count as pending, against memCap and spoolCap: so
// only a block that could be queued in memory is written this way, and the memory held is
// what queueing it would hold (its ciphertext: the block and a few bytes per record). A
// bigger one, or any with spoolCap 0, is left to Write to queue or write itself, as on a
// plain connection whose socket is full.
func (w *clientWriter) tryWriteTLS(p []byte) (int, error) {
	if len(p) > w.memCap || w.share != nil || w.roomLocked(len(p)) < len(p) {
		return 0, errWouldBlock
	}
	w.tls.setSpooling(true)
	n, err := w.c.Write(p)
	owed := w.tls.setSpooling(false)
	if owed > 0 && err == nil {
		w.startDrainLocked()
	}
	return n, err
}

// owed returns how many ciphertext bytes the TLS transport owes the client (tryWriteTLS).
func (w *clientWriter) owed() int64 {
	if w.tls == nil {
		return 0
	}
	return w.tls.owedN.Load()
}

// startDrainLocked starts the drain goroutine, which writes the pending bytes out.
func (w *clientWriter) startDrainLocked() {
	w.draining = true
	w.drained = make(chan struct{})
	go w.drain()
}

// WriteTwo writes a then b, as Write(a) and Write(b) would, but with one writev(2) when
// nothing is pending, so a response head and a big body block cost one syscall and no copy.
func (w *clientWriter) WriteTwo(a, b []byte) {
	w.mu.Lock()
	if w.err != nil || w.draining || w.raw == nil || len(a) == 0 {
		w.mu.Unlock()
		w.Write(a)
		w.Write(b)
		return
	}
	var n int
	var werr error
	iov := [2][]byte{a, b}
	err := w.raw.Write(func(fd uintptr) bool {
		for {
			m, e := unix.Writev(int(fd), iov[:])
			if e == syscall.EINTR {
				continue
			}
			if e != nil && e != syscall.EAGAIN {
				werr = e
			}
			n = max(m, 0)
			return true
		}
	})
	if err == nil {
		err = werr
	}
	if err != nil {
		w.err = err
		w.mu.Unlock()
		return
	}
	w.written += int64(min(n, len(a)+len(b)))
	w.mu.Unlock()
	// What the socket did not take is queued by Write, in order.
	if n < len(a) {
		w.Write(a[n:])
		n = len(a)
	}
	if rest := b[n-len(a):]; len(rest) > 0 {
		w.Write(rest)
	}
}

// Write queues p for the client. It blocks only while the client owes spoolCap bytes
// already, until the client has taken enough for the rest of p to fit; it fails if the client
// failed (or stalled past stallTimeout meanwhile) or the spill file cannot be written. It
// returns how many bytes of p were accepted.
func (w *clientWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return 0, w.err
	}
	if len(p) == 0 {
		// Queued, an empty block would look like the end of the pending bytes to drain.
		return 0, nil
	}
	total := len(p)
	for {
		if w.err != nil {
			return total - len(p), w.err
		}
		if !w.draining {
			n, err := w.tryWrite(p)
			w.written += int64(n)
			p = p[n:]
			if err != nil && err != errWouldBlock {
				w.err = err
				return total - len(p), err
			}
			if len(p) == 0 {
				return total, nil
			}
		}
		room := w.roomLocked(len(p))
		if w.share != nil && room > 0 {
			room = w.share.take(room)
		}
		switch {
		case room > 0:
			if err := w.appendLocked(p[:room]); err != nil {
				w.share.give(room)
				w.err = err
				return total - len(p), err
			}
			w.written += int64(room)
			p = p[room:]
			if !w.draining {
				w.startDrainLocked()
			}
			if len(p) == 0 {
				return total, nil
			}
		case !w.draining:
			// spoolCap 0: nothing may wait, so the caller writes p itself, standing in for
			// the drain (Wait and other Writes wait for it as for the drain).
			n, err := w.writeSelfLocked(p)
			if err != nil {
				return n + total - len(p), err
			}
			return total, nil
		default:
			w.room.Wait() // the drain broadcasts when it wrote some or failed
		}
	}
}

// writeSelfLocked writes p with blocking writes on the caller's goroutine, as the drain
// would, without holding mu meanwhile.
func (w *clientWriter) writeSelfLocked(p []byte) (int, error) {
	w.draining = true
	w.drained = make(chan struct{})
	w.mu.Unlock()
	n, err := w.writeBlocking(p)
	w.mu.Lock()
	w.written += int64(n)
	if err != nil {
		w.err = err
	}
	w.clearDeadlineLocked() // see drain
	w.draining = false
	close(w.drained)
	w.room.Broadcast()
	return n, err
}

// roomLocked returns how many of n more bytes may be queued now: all of them without a
// limit, else what keeps the pending bytes within spoolCap.
func (w *clientWriter) roomLocked(n int) int {
	if w.spoolCap < 0 {
		return n
	}
	free := w.spoolCap - int64(w.memBytes) - (w.fileW - w.fileR) - w.owed()
	return int(max(min(int64(n), free), 0))
}

func (w *clientWriter) appendLocked(p []byte) error {
	if w.file == nil && int64(w.memBytes+len(p))+w.owed() <= int64(w.memCap) {
		w.mem = append(w.mem, append([]byte(nil), p...))
		w.memBytes += len(p)
		return nil
	}
	if w.file == nil {
		f, err := os.CreateTemp(w.tempDir, "gonicorn-response-*")
		if err != nil {
			return err
		}
		os.Remove(f.Name()) // unlinked: gone when closed, whatever happens
		w.file, w.fileR, w.fileW = f, 0, 0
		w.ring = math.MaxInt64
		if w.spoolCap >= 0 {
			w.ring = max(w.spoolCap, 1)
		}
	}
	// The file is a ring: the pending bytes [fileR, fileW) never exceed its size (roomLocked),
	// so a write that reaches its end goes on at its start, over bytes already sent.
	for len(p) > 0 {
		off := w.fileW % w.ring
		n := int(min(int64(len(p)), w.ring-off))
		m, err := w.file.WriteAt(p[:n], off)
		w.fileW += int64(m)
		if err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

// drain writes the pending bytes with blocking writes until none are left: first the
// ciphertext the TLS transport owes, if any, then the queued blocks. It is started by Write
// and ends by itself; Wait waits for it.
func (w *clientWriter) drain() {
	w.flushOwed()
	// The buffer for the spill file is made when the file is first read: most drains send
	// memory blocks only, and a 64 KiB allocation per drain was a tenth of a TLS request's
	// CPU, in allocation and garbage collection, when every TLS response was drained.
	var buf []byte
	for {
		w.mu.Lock()
		var chunk []byte
		fromFile := false
		switch {
		case len(w.mem) > 0:
			chunk = w.mem[0]
		case w.file != nil && w.fileR < w.fileW:
			if buf == nil {
				buf = make([]byte, 64<<10)
			}
			off := w.fileR % w.ring
			n, err := w.file.ReadAt(buf[:min(int64(cap(buf)), w.fileW-w.fileR, w.ring-off)], off)
			if err != nil && err != io.EOF {
				w.err = err
			}
			chunk, fromFile = buf[:n], true
		}
		if len(chunk) == 0 || w.err != nil {
			w.share.give(w.memBytes + int(w.fileW-w.fileR)) // what a failure left unsent
			w.releaseFileLocked()
			w.mem, w.memBytes = nil, 0
			// The next Write tries the socket directly, and the raw write honours the
			// deadline too: left set, it would fail a streamed block that the
			// application took longer than stallTimeout to produce.
			w.clearDeadlineLocked()
			w.draining = false
			close(w.drained)
			w.room.Broadcast()
			w.mu.Unlock()
			return
		}
		w.mu.Unlock()

		n, err := w.writeBlocking(chunk)

		w.mu.Lock()
		w.share.give(n)
		if fromFile {
			w.fileR += int64(n)
		} else if n == len(chunk) {
			w.mem[0] = nil
			w.mem = w.mem[1:]
			w.memBytes -= n
		} else {
			w.mem[0] = chunk[n:]
			w.memBytes -= n
		}
		if err != nil {
			w.err = err
		}
		w.room.Broadcast()
		w.mu.Unlock()
	}
}

// flushOwed sends the ciphertext the TLS transport owes from an inline write (tryWriteTLS),
// failing when the client takes nothing for stallTimeout.
func (w *clientWriter) flushOwed() {
	if w.owed() == 0 {
		return
	}
	if w.stallTimeout > 0 {
		w.c.SetWriteDeadline(time.Now().Add(w.stallTimeout))
	}
	err := w.tls.flush()
	w.mu.Lock()
	if err != nil && w.err == nil {
		w.err = err
	}
	w.room.Broadcast() // the owed bytes counted against spoolCap
	w.mu.Unlock()
}

// writeBlocking writes p, failing when the client takes nothing for stallTimeout.
func (w *clientWriter) writeBlocking(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		if w.stallTimeout > 0 {
			w.c.SetWriteDeadline(time.Now().Add(w.stallTimeout))
		}
		n, err := w.c.Write(p[done:])
		done += n
		if err != nil {
			if n > 0 && errors.Is(err, os.ErrDeadlineExceeded) {
				continue // progress was made: a slow reader, not a stalled one
			}
			return done, err
		}
	}
	return done, nil
}

func (w *clientWriter) releaseFileLocked() {
	if w.file != nil {
		w.file.Close()
		w.file = nil
	}
}

// Pending reports whether bytes wait to be written.
func (w *clientWriter) Pending() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.draining
}

// Wait blocks until all queued bytes were written or the client failed, and returns the
// first error.
func (w *clientWriter) Wait() error {
	w.mu.Lock()
	ch := w.drained
	draining := w.draining
	w.mu.Unlock()
	if draining {
		<-ch
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stallTimeout > 0 && w.raw != nil {
		w.c.SetWriteDeadline(time.Time{})
	}
	return w.err
}

// Err returns the sticky write error, if any.
func (w *clientWriter) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// readFromStep is how much of a file ReadFrom sends under one write deadline.
const readFromStep = 64 << 10

// ReadFrom sends the contents of r (a file from the worker) after the pending bytes, with
// sendfile when r is a file and the conn supports it (unless noSendfile). It blocks: the caller released its slot
// already.
//
// The file goes in steps of readFromStep bytes, each under a fresh deadline, so that
// stallTimeout bounds a client's pause, not the whole file: one deadline for all of it would
// fail a big file sent to a slow but steady client. Each step is one *io.LimitedReader over
// the file itself, which net still sends with sendfile (it unwraps one, not two).
func (w *clientWriter) ReadFrom(r io.Reader) (int64, error) {
	if err := w.Wait(); err != nil {
		return 0, err
	}
	lr, ok := r.(*io.LimitedReader)
	if !ok {
		lr = &io.LimitedReader{R: r, N: math.MaxInt64}
	}
	var n int64
	var err error
	var dst io.Writer = w.c // *net.TCPConn/*net.UnixConn use sendfile/splice for files
	var buf []byte
	if w.noSendfile {
		dst = writerOnly{w.c} // hides the conn's ReadFrom: io.CopyBuffer reads and writes
		buf = make([]byte, min(lr.N, readFromStep))
	}
	for lr.N > 0 {
		if w.stallTimeout > 0 {
			w.c.SetWriteDeadline(time.Now().Add(w.stallTimeout))
		}
		step := &io.LimitedReader{R: lr.R, N: min(lr.N, readFromStep)}
		var m int64
		m, err = io.CopyBuffer(dst, step, buf)
		n += m
		lr.N -= m
		if err != nil || step.N > 0 { // failed, or the file ended
			break
		}
	}
	w.mu.Lock()
	w.written += n
	if err != nil && w.err == nil {
		w.err = err
	}
	w.clearDeadlineLocked() // see drain
	w.mu.Unlock()
	return n, err
}

// writerOnly is a writer without the ReadFrom of the conn it wraps, so that io.Copy to it
// copies through a buffer instead of letting the kernel send a file (--no-sendfile).
type writerOnly struct{ io.Writer }

// clearDeadlineLocked removes the write deadline that the blocking writes set.
func (w *clientWriter) clearDeadlineLocked() {
	if w.stallTimeout > 0 {
		w.c.SetWriteDeadline(time.Time{})
	}
}
