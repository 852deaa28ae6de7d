package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gonicorn/gonicorn/internal/dispatch"
	"github.com/gonicorn/gonicorn/internal/http1"
	"github.com/gonicorn/gonicorn/internal/proxy"
	"github.com/gonicorn/gonicorn/internal/rawio"
	"github.com/gonicorn/gonicorn/internal/static"
	"github.com/gonicorn/gonicorn/internal/wire"
	"golang.org/x/net/http2"
)

// conn is one client connection. Its goroutine (serve) waits for each request's first
// bytes (awaitNext) and hands the request to a runner (runner.go), which owns every field
// until it reports the end on done: one goroutine at a time works on a conn.
//
// Life of a request:
//  0. Once per connection, with --proxy-protocol: read the PROXY header (readProxyHeader).
//  1. Read and parse the request head (readHead), strictly, with limits and a timeout. A
//     file under a --static mount is answered now, without a worker (serveStatic).
//  2. Read the whole body: into the request frame when small, else into an unlinked temp
//     file (readBody). Nothing of the app is involved yet, so a slow upload costs only this
//     goroutine.
//  3. Take a worker slot from the pool (waiting in its queue if none is free), send the
//     request frame, and relay the worker's answer to the client (respond) through a
//     clientWriter that never blocks on the client.
//  4. Release the slot when the worker reports the end, then wait for the client to take
//     the rest of the response, log the request, and hand the connection back to its
//     goroutine, which waits for the next one (keep-alive), holding no buffer (idle.go).
type conn struct {
	srv *Server
	c   net.Conn // the client's stream: nc, or a *tls.Conn over it
	nc  net.Conn // the socket; other goroutines (Shutdown) set its deadlines and close it
	// raw reads c (and its clientWriter tries writes) with raw system calls that do not
	// allocate; nil if c has no raw conn (TLS: its transport has its own, tls.go).
	raw *rawio.Conn

	// tlsIn is what the TLS connection c reads and writes, nil on a plain connection;
	// tlsEnv is the marshal-encoded TLS part of every request's environ, set by handshake.
	tlsIn   *tlsTransport
	tlsVars [][2]string // the TLS variables of the environ (tlsconf.Environ)
	tlsEnv  []byte

	buf  []byte // input buffer; buf[r:w] is read but not yet parsed
	r, w int
	// pinned is the end of the current request's head in buf: req's slices point into
	// buf[:pinned], so reading the body (fill) must not overwrite it. 0 between requests.
	pinned int

	req   http1.Request
	frame []byte // the request frame being built
	// linger is set when the connection is closed after an error response: what the client
	// still sends is read and dropped for a while before the close (see lingeringClose).
	linger bool
	out    []byte // response bytes being assembled before a flush

	cw     *clientWriter // writes to the client; created with the first response
	resp   response      // the response being relayed; reset per request
	static static.Reply  // the static answer of the current request; see static.go
	held   heldHead      // an app's head held for X-Sendfile/X-Accel-Redirect; see sendfile.go

	scratch, key, join []byte   // reused by appendEnviron
	num                [20]byte // scratch for number formatting
	startHeaders       [][2][]byte
	accessHeaders      [][2][]byte // copy of the response headers for the access log
	accessBytes        []byte      // backing store of accessHeaders

	// reqStart is when the current request's first byte arrived, for the access log.
	reqStart time.Time
	// times of the current request's passage through a worker, for the access log; zero
	// until it happened. Reset per request.
	times workerTimes
	// reqID is the current request's id (requestid.go); empty when ids are off or until
	// the head was read.
	reqID []byte

	remoteHost, remotePort string
	client                 string // "host:port" of remoteHost and remotePort, made once (clientAddr)
	localHost, localPort   string

	// trustedPeer reports whether the peer is a trusted proxy (--forwarded-allow-ips); set
	// once by newConn. fwd is what the current request's forwarded headers say (package
	// proxy); zero unless trustedPeer. See forwarded.go.
	trustedPeer bool
	fwd         proxy.Forwarded
	fwdEnv      proxy.Environ // what a trusted peer's forwarder headers set (--forwarder-headers)

	// wait says whether the connection waits for the first byte of a request (waitFirst,
	// waitNext) or not (waitNone); a graceful stop closes the ones that wait (closeIdle).
	wait     atomic.Int32
	accepted time.Time // when the connection was accepted
	served   bool      // a request was read on it
	// idleSince is when the connection began to wait for its next request (unix ns), so
	// that at --max-connections the one idle longest is closed first (Server.closeOldestIdle).
	// evictMu orders that closing with the end of the wait: see evict and endWait.
	idleSince atomic.Int64
	evictMu   sync.Mutex

	wd watchdog // --timeout of the request on a worker; see watchdog.go

	// h2 is the HTTP/2 stream this conn serves (h2.go), nil on an HTTP/1.1 connection.
	h2 *h2Stream

	// ctx is serve's, for the runner that serves a request (runner.go); done is where the
	// runner reports whether the connection stays open.
	ctx  context.Context
	done chan bool
}

// Values of conn.wait.
const (
	waitNone    = iota // reading or serving a request
	waitFirst          // no request yet: a stop gives it firstRequestGrace to send one
	waitNext           // idle keep-alive: a stop closes it at once
	waitEvicted        // was idle keep-alive, and is being closed to make room (evict)
)

const (
	smallFrame     = 16 << 10 // request frames up to this size use the connection's buffer
	initialBufSize = 4 << 10
)

func (s *Server) newConn(c net.Conn, conf *tls.Config) *conn {
	cn := &conn{srv: s, c: c, nc: c, accepted: time.Now()}
	cn.remoteHost, cn.remotePort = hostPort(c.RemoteAddr())
	cn.localHost, cn.localPort = hostPort(c.LocalAddr())
	cn.trustedPeer = s.cfg.Trust.TrustedPeer(c.RemoteAddr())
	if conf != nil {
		cn.c, cn.tlsIn = wrapTLS(c, conf) // the handshake is the connection goroutine's
	} else if sc, ok := c.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			cn.raw = rawio.NewConn(raw)
		}
	}
	if cn.localHost == "" {
		cn.localHost = "localhost"
	}
	return cn
}

// read reads from the client like net.Conn.Read, with a raw system call where possible
// (see package rawio).
func (cn *conn) read(p []byte) (int, error) {
	if cn.raw == nil {
		return cn.c.Read(p)
	}
	n, err := cn.raw.Read(p)
	if err == nil && n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	return n, err
}

// Lingering close (RFC 9112 §9.6). A server that closes a connection while the client is
// still sending (the body of a rejected request, requests pipelined behind it) makes the
// kernel answer with a reset, and a reset that overtakes the error response destroys it in
// the client's receive buffer before the client read it. So after an error response the
// write side is closed first (the client sees the end of the response), and what the client
// still sends is read and dropped until it closes too, it pauses for lingerPause, or
// lingerTotal passed (nginx's lingering_timeout and lingering_time, shortened).
const (
	lingerPause = time.Second
	lingerTotal = 5 * time.Second
)

// lingeringClose closes c's write side and drains its read side as described above; the
// caller closes c afterwards.
func lingeringClose(c net.Conn) {
	hc, ok := c.(interface{ CloseWrite() error })
	if !ok || hc.CloseWrite() != nil {
		return
	}
	var scratch [4096]byte
	end := time.Now().Add(lingerTotal)
	for {
		deadline := time.Now().Add(lingerPause)
		if deadline.After(end) {
			deadline = end
		}
		c.SetReadDeadline(deadline)
		if _, err := c.Read(scratch[:]); err != nil {
			return
		}
	}
}

// clientAddr is the client's "host:port" as gonicorn ctl shows it, joined once per
// connection (after a PROXY header has set the client), not once per request.
func (cn *conn) clientAddr() string {
	if cn.client == "" {
		cn.client = net.JoinHostPort(cn.remoteHost, cn.remotePort)
	}
	return cn.client
}

func hostPort(a net.Addr) (string, string) {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.IP.String(), strconv.Itoa(a.Port)
	case *net.UnixAddr:
		return "", ""
	}
	return "", ""
}

func (cn *conn) serve(ctx context.Context) {
	defer cn.close()
	if !cn.open(ctx) {
		return
	}
	cn.ctx, cn.done = ctx, make(chan bool, 1)
	for cn.awaitNext() {
		// The request runs on a runner (runner.go), and this goroutine waits.
		if !cn.srv.runOne(cn) {
			return
		}
	}
}

// open does what comes before the first request: the PROXY header, the TLS handshake, and
// HTTP/2 if ALPN chose it (RFC 9113 §3.2), which serves the whole connection. It reports
// whether HTTP/1.1 requests follow. Apart from serve, whose frame a waiting connection
// keeps (see awaitNext).
func (cn *conn) open(ctx context.Context) bool {
	if cn.srv.cfg.ProxyProtocol != ProxyOff && !cn.readProxyHeader() {
		return false
	}
	if cn.isTLS() && !cn.handshake() {
		return false
	}
	if cn.srv.h2 != nil && cn.isTLS() && cn.c.(*tls.Conn).ConnectionState().NegotiatedProtocol == http2.NextProtoTLS {
		cn.serveH2(ctx, cn.c, http2.ServeConnOpts{})
		return false
	}
	return true
}

// close ends the connection: lingering after an error response, then closed, its buffers
// back in the pools.
func (cn *conn) close() {
	if cn.linger {
		lingeringClose(cn.c)
	}
	cn.c.Close()
	cn.releaseBuffers()
}

// awaitNext waits, on the connection's own goroutine, for the first bytes of the first or
// next request, unless some were read already (pipelined), and reports whether there are.
//
// Why here and not in readHead: a goroutine keeps the stack its deepest call needed, and
// serving a request needs more than the 4 KiB that the garbage collector leaves a goroutine
// waiting in a deep frame: a connection whose goroutine served requests and then waited
// held an 8 KiB stack for as long as it was idle. So the connection's goroutine only waits,
// in a shallow frame, and each request is served by a runner (runner.go), whose grown
// stack serves the next request of any connection. The frames of this wait fit the smallest stack
// (2 KiB less the runtime's guard): serve and awaitNext keep theirs small (the handshake and
// closing are in open and close). 10,000 idle keep-alive connections cost the master 12.5
// KiB each before, 6.9 after (docs/performance.md); TestIdleConnMemory watches it.
func (cn *conn) awaitNext() bool {
	if cn.r < cn.w {
		return true
	}
	// Idle: wait up to --keep-alive for the (next) request. A graceful stop wakes the
	// connection (see Server.closeIdle), and at --max-connections an idle one may be closed
	// for room (evict).
	cn.c.SetReadDeadline(time.Now().Add(cn.srv.cfg.KeepAlive))
	if !cn.awaitRequest() {
		return false
	}
	n, _ := cn.readIdle() // holds no buffer while it waits
	cn.endWait()
	cn.w = n
	return n > 0
}

// serveOne handles one request and reports whether the connection stays open.
func (cn *conn) serveOne(ctx context.Context) bool {
	s := cn.srv
	cn.times, cn.reqID = workerTimes{}, cn.reqID[:0]
	start, err := cn.readHead()
	cn.reqStart = start
	if err == errH2Preface {
		cn.serveH2C(ctx)
		return false
	}
	if err != nil {
		var he *http1.Error
		if errors.As(err, &he) && cn.h2c() && cn.req.Major != 1 {
			// On an h2c listener, a first request line that is not HTTP/1.x is taken for a
			// broken HTTP/2 preface: a connection error, closed unanswered (RFC 9113 §3.4).
			cn.reqLog().Debug("rejected connection", "reason", "invalid HTTP/2 preface", "remote", cn.remoteHost)
			return false
		}
		if errors.As(err, &he) {
			cn.forgetPartialRequest()
			cn.writeError(he.Status, he.Reason)
		}
		return false
	}
	if cn.upgradeH2C(ctx) {
		return false
	}
	cn.served = true
	if o := s.cfg.Observer; o != nil {
		o.RequestBegun()
		defer o.RequestEnded()
	}
	req := &cn.req
	if err := cn.resolveForwarded(); err != nil {
		cn.writeError(err.Status, err.Reason)
		return false
	}
	cn.takeRequestID()
	// A file under a static mount is answered here, before a body is read or a worker
	// is involved (static.go).
	if s.cfg.Static != nil {
		if handled, keep := cn.serveStatic(start); handled {
			return keep
		}
	}

	// RFC 9110 §10.1.1: a body limit is checked before 100-continue is sent.
	if req.ContentLength > 0 && s.cfg.MaxBody > 0 && req.ContentLength > s.cfg.MaxBody {
		cn.writeError(413, "request body too large")
		return false
	}
	body, err := cn.readBody(req)
	if err != nil {
		var he *http1.Error
		if errors.As(err, &he) {
			cn.writeError(he.Status, he.Reason)
		}
		return false
	}
	defer body.close()
	return cn.runRequest(ctx, start, &body)
}

// runRequest runs a request whose head and body were read whole (from an HTTP/1.1
// connection, or an HTTP/2 stream, h2.go) on a worker, relays the answer and logs it. It
// reports whether the connection may stay open.
func (cn *conn) runRequest(ctx context.Context, start time.Time, body *body) bool {
	s := cn.srv
	cn.observeBody(body)

	// The frame is built before a slot is taken: a slot is held only while the worker is.
	cn.times.bodyBytes = max(body.n, 0)
	if err := cn.buildRequest(body); err != nil {
		cn.reqLog().Error("preparing request body", "err", err)
		cn.writeError(500, "internal server error")
		return false
	}
	cn.times.ready = time.Now()
	slot, turn, ok := cn.sendToWorker(ctx, body)
	if !ok {
		return false
	}
	// The worker starts on the request now (its turn came): --timeout counts from here.
	cn.times.began = time.Now()
	slot.Run(&dispatch.Running{Method: string(cn.req.Method), Target: string(cn.req.Target),
		Client: cn.clientAddr(), Start: cn.times.began}) // for gonicorn ctl workers
	cn.arm(slot)
	res := cn.respond(slot, turn) // ends the turn once the worker's answer was read
	if s.access != nil {
		cn.logAccess(start, res, slot.Group.PID)
	}
	cn.observeAnswer(start, res, body.n)
	return res.keepAlive && !s.shuttingDown.Load()
}

// forgetPartialRequest clears what the parser filled in of a request head it rejected, unless
// the whole request line was parsed: the error response's version and the access log then
// follow that line (see errorResponse), else they know nothing of the request.
func (cn *conn) forgetPartialRequest() {
	if cn.req.Major != 1 || len(cn.req.Target) == 0 {
		cn.req = http1.Request{Headers: cn.req.Headers[:0], ContentLength: -1}
	}
}

// awaitRequest marks the connection as waiting for the first byte of a request and reports
// whether it may wait. During a graceful stop an idle keep-alive connection may not; one that
// has not sent its first request may, until firstRequestGrace after it was accepted.
func (cn *conn) awaitRequest() bool {
	if cn.served {
		cn.markIdle()
		return !cn.srv.shuttingDown.Load()
	}
	cn.wait.Store(waitFirst)
	if cn.srv.shuttingDown.Load() {
		cn.c.SetReadDeadline(cn.accepted.Add(firstRequestGrace))
	}
	return true
}

// markIdle marks the connection idle in keep-alive from now: a graceful stop closes it, and
// at --max-connections it may be closed for room, the one idle longest first (evict).
func (cn *conn) markIdle() {
	cn.idleSince.Store(time.Now().UnixNano())
	cn.wait.Store(waitNext)
	cn.srv.noteIdle()
}

// evict closes an idle keep-alive connection to make room for a new client: its pending read
// ends at once, and the connection goroutine closes it. A connection whose next request
// arrived meanwhile is not closed: its wait already ended (endWait), or ends after the
// deadline was set here, and the head deadline it sets next replaces this one, so the
// request is served. A client whose request crossed the close on the wire gets no answer
// and retries it on a new connection, as for any keep-alive close (RFC 9112 §9.3.1).
func (cn *conn) evict() {
	cn.evictMu.Lock()
	defer cn.evictMu.Unlock()
	if cn.wait.CompareAndSwap(waitNext, waitEvicted) {
		cn.nc.SetReadDeadline(time.Now())
	}
}

// endWait marks the end of the wait for a request's first bytes. Under evictMu, so that an
// eviction either happens wholly before it (its deadline is then replaced by the head
// deadline once bytes arrived) or finds the connection no longer idle.
func (cn *conn) endWait() {
	cn.evictMu.Lock()
	cn.wait.Store(waitNone)
	cn.evictMu.Unlock()
}

// maxDispatches is how often a request is sent to a worker at most: once, plus a new try each
// time the worker it was pipelined on died before starting it, or the slot it got was gone
// before it was written (see sendToWorker).
const maxDispatches = 3

// sendToWorker sends the request built in cn.frame to a worker slot and waits for its turn. A
// request pipelined behind one whose worker died before answering it whole was never started
// by that worker (dispatch.Ended): it is sent again, to another slot. One pipelined behind a
// protocol error (dispatch.Broken) may have been started, and its answer cannot be found in
// the stream: it gets 502. It reports false after it answered the client with an error.
func (cn *conn) sendToWorker(ctx context.Context, b *body) (*dispatch.Slot, dispatch.Turn, bool) {
	s := cn.srv
	// A big frame goes back to its pool once the request reached its worker for good.
	defer cn.trimFrame()
	for try := 1; ; try++ {
		slot, err := s.pool.Acquire(ctx)
		if err != nil {
			if cn.streamGone(ctx) {
				return nil, dispatch.Turn{}, false
			}
			s.observeRejected(queueRejection(err))
			cn.writeError(503, "no worker available")
			return nil, dispatch.Turn{}, false
		}
		turn, err := slot.Send(func(*net.UnixConn) error { return cn.sendRequest(slot, b) })
		switch {
		case errors.Is(err, dispatch.ErrSlotGone):
			// Nothing was written: the slot's stream ended or broke since Acquire.
			s.pool.Discard(slot)
			if try == maxDispatches {
				cn.writeError(502, "worker failed")
				return nil, dispatch.Turn{}, false
			}
			continue
		case err != nil:
			cn.reqLog().Error("sending request to worker", "pid", slot.Group.PID, "err", err)
			s.pool.Discard(slot)
			cn.writeError(502, "worker failed")
			return nil, dispatch.Turn{}, false
		}
		switch turn.Wait() {
		case dispatch.Answered:
			return slot, turn, true
		case dispatch.Broken:
			// The worker broke the protocol on a request ahead of this one. Whoever reads
			// the slot next learns the same.
			s.pool.Discard(slot)
			turn.Break()
			cn.reqLog().Error("Worker broke the protocol on a request pipelined ahead of this one; "+
				"not sending it again, as the worker may have started it", "pid", slot.Group.PID,
				"request", string(cn.req.Target))
			cn.writeError(502, "worker failed")
			return nil, dispatch.Turn{}, false
		}
		// The worker died before it got to this request. Whoever reads the slot next
		// learns the same, as this request never reaches it either.
		s.pool.Discard(slot)
		turn.Fail()
		if try == maxDispatches {
			cn.reqLog().Error("worker failed before the request started", "pid", slot.Group.PID)
			cn.writeError(502, "worker failed")
			return nil, dispatch.Turn{}, false
		}
		if b.file != nil {
			if _, err := b.file.Seek(0, io.SeekStart); err != nil {
				cn.writeError(500, "internal server error")
				return nil, dispatch.Turn{}, false
			}
		}
		cn.reqLog().Info("Sending a request again: the worker it was queued on died before starting it", "pid", slot.Group.PID)
	}
}

// readHead reads until a complete request head is parsed into cn.req. It returns the time
// the request started (its first byte arrived) or the error that ends the connection.
func (cn *conn) readHead() (time.Time, error) {
	s := cn.srv
	if cn.buf == nil {
		cn.buf = s.getInBuf()
	}
	var start time.Time
	cn.pinned = 0 // the previous request is done with its head
	for {
		if cn.r < cn.w {
			if start.IsZero() {
				// The head must arrive within --header-timeout of its first byte.
				start = time.Now()
				cn.c.SetReadDeadline(start.Add(s.cfg.HeaderTimeout))
			}
			// With h2c, the HTTP/2 client preface instead of a request (h2c.go).
			wait, err := cn.sniffPreface()
			if err != nil {
				return start, err
			}
			if !wait {
				n, err := http1.ParseHead(cn.buf[cn.r:cn.w], cn.limits(), &cn.req)
				if err == nil {
					cn.r += n
					cn.pinned = cn.r
					return start, nil
				}
				if err != http1.ErrNeedMore {
					return start, err
				}
			}
		}
		// Make room: move unparsed bytes to the front, grow up to the head limit.
		if cn.r > 0 {
			cn.w = copy(cn.buf, cn.buf[cn.r:cn.w])
			cn.r = 0
		}
		if cn.w == len(cn.buf) {
			if len(cn.buf) >= s.maxHead {
				return start, &http1.Error{Status: 431, Reason: "request header fields too large"}
			}
			nb := make([]byte, min(2*len(cn.buf), s.maxHead))
			copy(nb, cn.buf[:cn.w])
			cn.buf = nb
		}
		// awaitNext read the head's first bytes: the rest of it is read here.
		n, err := cn.read(cn.buf[cn.w:])
		cn.w += n
		if n > 0 {
			continue
		}
		if cn.w > 0 && errors.Is(err, os.ErrDeadlineExceeded) {
			return start, &http1.Error{Status: 408, Reason: "request header timeout"}
		}
		if err == nil {
			err = io.ErrNoProgress
		}
		return start, err
	}
}

// body is a fully read request body: in memory (inline) or in an unlinked temp file.
type body struct {
	inline []byte   // when file is nil and framed is false
	file   *os.File // large bodies
	n      int64    // length; -1 when the request has none
	framed bool     // the body is already in cn.frame, after the environ
}

func (b *body) close() {
	if b.file != nil {
		b.file.Close()
	}
}

// fill reads more input into the buffer (after the parsed head) and returns how many bytes
// arrived. It reuses only buf[pinned:]: the head before it is still referenced by cn.req
// until the request frame is built, after the body was read.
func (cn *conn) fill() (int, error) {
	if cn.r > cn.pinned && cn.r == cn.w {
		cn.r, cn.w = cn.pinned, cn.pinned
	}
	if cn.w == len(cn.buf) {
		if cn.r > cn.pinned {
			cn.w = cn.pinned + copy(cn.buf[cn.pinned:], cn.buf[cn.r:cn.w])
			cn.r = cn.pinned
		} else {
			// A new buffer: the old one keeps the head for cn.req.
			nb := make([]byte, 2*len(cn.buf))
			copy(nb, cn.buf[:cn.w])
			cn.buf = nb
		}
	}
	cn.c.SetReadDeadline(time.Now().Add(cn.srv.cfg.BodyTimeout))
	n, err := cn.read(cn.buf[cn.w:])
	cn.w += n
	if n > 0 {
		return n, nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return 0, err
}

// Read makes conn an io.Reader of the bytes after the parsed head (buffered first), used by
// the chunked decoder and the body copy.
func (cn *conn) Read(p []byte) (int, error) {
	if cn.r == cn.w && len(p) >= initialBufSize {
		// Nothing buffered and a big read: straight from the socket into p, as bufio
		// does, rather than 4 KiB at a time through buf.
		cn.c.SetReadDeadline(time.Now().Add(cn.srv.cfg.BodyTimeout))
		n, err := cn.read(p)
		if n > 0 {
			return n, nil
		}
		if err == nil {
			err = io.ErrNoProgress
		}
		return 0, err
	}
	if cn.r == cn.w {
		if _, err := cn.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, cn.buf[cn.r:cn.w])
	cn.r += n
	return n, nil
}

// sendContinue sends the interim 100 (Continue) response that a client which sent
// "Expect: 100-continue" may wait for before it sends the body (RFC 9110 §10.1.1), unless
// the body has begun to arrive. A client that takes none of it within the write timeout,
// or is gone, fails the request here: readBody returns the error, and the connection ends
// without a response and before a worker is involved.
func (cn *conn) sendContinue(req *http1.Request) error {
	if !req.Expect100 || req.Minor < 1 || cn.r != cn.w {
		return nil
	}
	cn.c.SetWriteDeadline(time.Now().Add(cn.srv.cfg.WriteTimeout))
	_, err := io.WriteString(cn.c, "HTTP/1.1 100 Continue\r\n\r\n")
	cn.c.SetWriteDeadline(time.Time{})
	if err != nil {
		return fmt.Errorf("sending 100 Continue: %w", err)
	}
	return nil
}

// readBody reads the whole request body. Small bodies go to memory, large ones to an
// unlinked temp file.
func (cn *conn) readBody(req *http1.Request) (body, error) {
	s := cn.srv
	switch {
	case req.Chunked:
		if err := cn.sendContinue(req); err != nil {
			return body{}, err
		}
		return cn.readChunked()
	case req.ContentLength < 0:
		return body{n: -1}, nil
	case req.ContentLength == 0:
		return body{n: 0}, nil
	}
	if err := cn.sendContinue(req); err != nil {
		return body{}, err
	}
	n := req.ContentLength
	if n <= s.cfg.BodyMemory {
		// The body is read straight into the request frame, after the environ.
		cn.beginFrame(wire.Request, n, int(n))
		start := len(cn.frame)
		cn.frame = cn.frame[:start+int(n)]
		if _, err := io.ReadFull(cn, cn.frame[start:]); err != nil {
			return body{}, bodyReadError(err)
		}
		return body{n: n, framed: true}, nil
	}
	f, err := s.tempFile("gonicorn-body-*")
	if err != nil {
		return body{}, err
	}
	if _, err := io.CopyN(f, cn, n); err != nil {
		f.Close()
		return body{}, bodyReadError(err)
	}
	return body{file: f, n: n}, nil
}

func (cn *conn) readChunked() (body, error) {
	br := bufio.NewReaderSize(cn, 16<<10)
	cr := http1.NewChunkedReader(br, &cn.srv.cfg.Limits)
	defer cn.unread(br)
	return cn.spoolBody(cr)
}

// spoolBody reads a body of unknown length from r to its end: in memory up to
// --body-memory, then into an unlinked temp file; beyond --limit-request-body it is a 413.
func (cn *conn) spoolBody(r io.Reader) (body, error) {
	s := cn.srv
	var inline []byte
	var file *os.File
	var total int64
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		total += int64(n)
		if s.cfg.MaxBody > 0 && total > s.cfg.MaxBody {
			if file != nil {
				file.Close()
			}
			return body{}, &http1.Error{Status: 413, Reason: "request body too large"}
		}
		if n > 0 {
			if file == nil && int64(len(inline)+n) > s.cfg.BodyMemory {
				f, ferr := s.tempFile("gonicorn-body-*")
				if ferr != nil {
					return body{}, ferr
				}
				file = f
				if _, ferr := file.Write(inline); ferr != nil {
					file.Close()
					return body{}, ferr
				}
				inline = nil
			}
			if file != nil {
				if _, ferr := file.Write(buf[:n]); ferr != nil {
					file.Close()
					return body{}, ferr
				}
			} else {
				inline = append(inline, buf[:n]...)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			if file != nil {
				file.Close()
			}
			return body{}, bodyReadError(err)
		}
	}
	if file != nil {
		return body{file: file, n: total}, nil
	}
	return body{inline: inline, n: total}, nil
}

// unread gives back the bytes br read past the chunked body (a pipelined next request) by
// putting them in front of the connection's unparsed input.
func (cn *conn) unread(br *bufio.Reader) {
	n := br.Buffered()
	if n == 0 {
		return
	}
	rest, _ := br.Peek(n)
	tail := cn.buf[cn.r:cn.w]
	nb := make([]byte, max(len(cn.buf), n+len(tail)))
	copy(nb, rest)
	copy(nb[n:], tail)
	cn.buf, cn.r, cn.w, cn.pinned = nb, 0, n+len(tail), 0 // the old buf keeps the head
}

// bodyReadError maps a failed body read to the client fault to answer, if any.
func bodyReadError(err error) error {
	var he *http1.Error
	if errors.As(err, &he) {
		return he
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return &http1.Error{Status: 408, Reason: "request body timeout"}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return &http1.Error{Status: 400, Reason: "incomplete request body"}
	}
	return err
}

// buildRequest completes the request frame for the current request in cn.frame: the environ
// and, for a body in memory, the body (an R frame); for a body in a file, a B frame whose file
// descriptor sendRequest attaches.
func (cn *conn) buildRequest(b *body) error {
	switch {
	case b.framed:
	case b.file == nil:
		cn.beginFrame(wire.Request, b.n, len(b.inline))
		cn.frame = append(cn.frame, b.inline...)
	default:
		if _, err := b.file.Seek(0, io.SeekStart); err != nil {
			return err
		}
		cn.beginFrame(wire.RequestFile, b.n, 0)
	}
	var hdr [wire.HeaderSize]byte
	kind := wire.Request
	if b.file != nil {
		kind = wire.RequestFile
	}
	copy(cn.frame, wire.AppendHeader(hdr[:0], kind, len(cn.frame)-wire.HeaderSize))
	return nil
}

// beginFrame starts a request frame in cn.frame: room for the header, then (for an R frame)
// the environ's length and the environ. The caller appends the inline body, if any, and
// buildRequest writes the header. extra is the body size to reserve room for.
func (cn *conn) beginFrame(kind wire.Kind, bodyLen int64, extra int) {
	f := cn.frameBuffer(wire.HeaderSize + 4 + 2048 + extra)
	f = append(f, make([]byte, wire.HeaderSize)...)
	if kind == wire.Request {
		f = append(f, 0, 0, 0, 0)
	}
	start := len(f)
	f = cn.appendEnviron(f, &cn.req, bodyLen)
	if kind == wire.Request {
		putUint32(f[wire.HeaderSize:], uint32(len(f)-start))
	}
	cn.frame = f
}

// frameBuffer returns an empty buffer with room for n bytes: the connection's own for small
// frames, a pooled one for big bodies, so that neither every request allocates a body-sized
// buffer nor every idle connection keeps one.
func (cn *conn) frameBuffer(n int) []byte {
	if n <= smallFrame {
		if cap(cn.frame) < smallFrame {
			if f, ok := cn.srv.smallFrames.Get().(*frameBuf); ok {
				cn.frame = f[:0]
			} else {
				cn.frame = make([]byte, 0, smallFrame)
			}
		}
		return cn.frame[:0]
	}
	if p, ok := cn.srv.bigFrames.Get().(*[]byte); ok && cap(*p) >= n {
		return (*p)[:0]
	}
	return make([]byte, 0, n)
}

// sendRequest writes the frame built by buildRequest to a worker slot; the caller holds the
// slot's write lock (dispatch.Slot.Send).
func (cn *conn) sendRequest(slot *dispatch.Slot, b *body) error {
	sc := slot.Conn
	if b.file == nil {
		if slot.Raw != nil {
			_, err := slot.Raw.Write(cn.frame)
			return err
		}
		_, err := sc.Write(cn.frame)
		return err
	}
	return wire.WriteWithFD(sc, cn.frame, int(b.file.Fd()))
}

// trimFrame hands a big frame buffer back to the pool once it was sent.
func (cn *conn) trimFrame() {
	if cap(cn.frame) > smallFrame {
		f := cn.frame[:0]
		cn.srv.bigFrames.Put(&f)
		cn.frame = nil
	}
}

func putUint32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

// limits returns the parser's limits for the connection's peer: a trusted proxy's keep its
// forwarder headers (--forwarder-headers), which are names with '_' --header-map drops.
func (cn *conn) limits() *http1.Limits {
	if cn.trustedPeer {
		return &cn.srv.trustedLimits
	}
	return &cn.srv.cfg.Limits
}
