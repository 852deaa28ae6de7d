// Package server is gonicorn's HTTP/1.1 front: it accepts connections, reads each request
// completely (strictly parsed by package http1), hands it to a free worker slot from the
// dispatch pool, and relays the worker's answer to the client with correct framing.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gonicorn/gonicorn/internal/accesslog"
	"github.com/gonicorn/gonicorn/internal/dispatch"
	"github.com/gonicorn/gonicorn/internal/http1"
	"github.com/gonicorn/gonicorn/internal/proxy"
	"github.com/gonicorn/gonicorn/internal/static"
)

// Config is what the front needs to know. Zero durations and sizes take the defaults below.
type Config struct {
	Limits        http1.Limits
	MaxBody       int64         // request body limit in bytes; 0 = unlimited
	BodyMemory    int64         // bodies above this are spooled to a temp file; default 1 MiB
	KeepAlive     time.Duration // idle time between requests; default 75 s
	HeaderTimeout time.Duration // time to receive a request head from its first byte; default 30 s
	BodyTimeout   time.Duration // longest pause while a body is uploading; default 30 s
	WriteTimeout  time.Duration // longest time a client may take nothing of the response (--write-timeout); default 60 s
	Timeout       time.Duration // --timeout: longest time a request may run on a worker before it is killed; 0 = none
	RootPath      string        // SCRIPT_NAME
	Trust         *proxy.Trust  // peers whose forwarded headers count (--forwarded-allow-ips); nil = none
	ProxyProtocol ProxyProtocol // --proxy-protocol: a PROXY header before the request; zero = off
	ProxyAllow    *proxy.Trust  // peers that may send a PROXY header (--proxy-allow-from); nil = none
	// MaxConnections is the most client connections open at once (--max-connections); at
	// the limit the server stops accepting, so new connections wait in the kernel's listen
	// backlog until one closes. 0 = unlimited.
	MaxConnections int
	Software       string // SERVER_SOFTWARE
	TempDir        string // for spooled bodies and responses (--tmp-dir); "" = os.TempDir()

	AccessLog    *accesslog.Format // nil = no access log
	AccessWriter io.Writer

	Observer Observer // told about requests and rejections, for metrics; nil = none
	// RequestIDHeader is the header of request ids (--request-id-header, requestid.go);
	// "" = none.
	RequestIDHeader string

	// ForwardedHeaders are the forwarded headers a trusted peer is believed to set
	// (--forwarded-allow-headers); zero = none.
	ForwardedHeaders proxy.Headers
	// MaxResponseSpool is the most bytes of one response held for a client that reads slower
	// than the app writes, in memory (outputMemory) and then in a temp file; beyond it the
	// worker's answer is read no further until the client takes some (--max-response-spool).
	// 0 = the default, 64 MiB; < 0 = hold nothing.
	MaxResponseSpool int64
	// Static answers requests for files under its mounts in the master (--static; see
	// static.go); nil = none, every request goes to the app.
	Static *static.Handler

	// NoSendfile copies file bodies (wsgi.file_wrapper files, static files, X-Sendfile)
	// through a buffer instead of handing them to the socket, which uses sendfile(2)
	// (--no-sendfile; writer.go). false = sendfile.
	NoSendfile bool
	// Forwarder is the header names with '_' a trusted peer may send and the environ keys
	// they set (--forwarder-headers, package proxy); nil = none.
	Forwarder *proxy.Forwarder
	// HTTP2 turns HTTP/2 on (--http-protocols h2, h2.go): offered by ALPN on TLS listeners,
	// and with HTTP2.Cleartext as h2c on plain ones; nil = HTTP/1.1 only.
	HTTP2 *HTTP2
}

// outputMemory is how many response bytes a slow client may owe before they go to a temp
// file. 1 MiB holds almost every page whole; bigger answers are rare enough for the file.
const outputMemory = 1 << 20

// defaultMaxResponseSpool is the default of Config.MaxResponseSpool and --max-response-spool:
// enough for a big page or export to be taken off the worker at once, small enough that the
// disk of a host with many slow clients is not at their mercy (docs/limits.md).
const defaultMaxResponseSpool = 64 << 20

// Server serves HTTP/1.1 on any number of listeners, with one pool of worker slots.
type Server struct {
	cfg     Config
	pool    *dispatch.Pool
	log     *slog.Logger
	access  *accesslog.Format
	maxHead int // bytes of a request head we are willing to buffer
	// trustedLimits are cfg.Limits with the forwarder headers kept, for the requests of
	// trusted peers (--forwarder-headers).
	trustedLimits http1.Limits

	ids       *idSource // request ids; nil when Config.RequestIDHeader is ""
	idEnviron string    // the environ key of the request id header: HTTP_X_REQUEST_ID

	shuttingDown atomic.Bool
	dateCache    atomic.Pointer[dateEntry]
	accessMu     sync.Mutex // serialises access log writes
	bigFrames    sync.Pool  // *[]byte request frames for bodies above smallFrame
	smallFrames  sync.Pool  // *frameBuf: request frames of idle connections (idle.go)
	inBufs       sync.Pool  // *inBuf: input buffers of idle connections (idle.go)
	// getInBufFn and putInBufFn are getInBuf and putInBuf bound once, for rawio's ReadLazy:
	// a method value made at each call would be an allocation per request.
	getInBufFn func() []byte
	putInBufFn func([]byte)
	staticBufs sync.Pool // *staticBuf: heads and small bodies of static responses (static.go)
	h2         *h2Front  // HTTP/2 (h2.go); nil when off

	// connSlots holds a token per open connection when MaxConnections > 0 (nil otherwise);
	// stopping is closed by Shutdown, so that an accept loop waiting for a slot ends.
	connSlots chan struct{}
	stopping  chan struct{}
	// runq hands a request to a waiting runner; idleRunners counts those (runner.go).
	runq        chan *conn
	idleRunners atomic.Int32
	stopOnce    sync.Once
	fullLog     atomic.Int64 // unix time of the last "max connections reached" log line
	// roomWanted counts the accept loops waiting for a connection slot; while it is not 0, a
	// connection that becomes idle sends on becameIdle (capacity 1) so that one of them
	// closes it (limit.go).
	roomWanted atomic.Int32
	becameIdle chan struct{}

	mu        sync.Mutex // guards conns and listeners
	conns     map[*conn]struct{}
	listeners []net.Listener
	accepting sync.WaitGroup // one per accept loop (Serve)
	wg        sync.WaitGroup // one per connection goroutine
}

// firstRequestGrace is how long after it was accepted a connection may take to send its
// first request once a graceful stop began. A connection the kernel queued before the
// listener closed usually carries its request already (a client of a load balancer, or of
// the other master during a binary upgrade): closing it unread would reset the client. One
// that stays silent longer (a pre-opened or health-check connection) is closed, so that it
// does not hold the stop up. net/http waits 5 s for such connections.
const firstRequestGrace = 2 * time.Second

// New returns a server; it listens on nothing until Serve.
func New(cfg Config, pool *dispatch.Pool, log *slog.Logger) *Server {
	if cfg.BodyMemory <= 0 {
		cfg.BodyMemory = 1 << 20
	}
	if cfg.MaxResponseSpool == 0 {
		cfg.MaxResponseSpool = defaultMaxResponseSpool
	}
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = 75 * time.Second
	}
	if cfg.HeaderTimeout <= 0 {
		cfg.HeaderTimeout = 30 * time.Second
	}
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = 30 * time.Second
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 60 * time.Second
	}
	if cfg.Software == "" {
		cfg.Software = "gonicorn"
	}
	maxHead := cfg.Limits.HeaderBlock
	if maxHead <= 0 {
		maxHead = 64 << 10
	}
	// The buffer must hold a full request line plus the header block.
	maxHead += max(cfg.Limits.RequestLine, 8190) + 4
	s := &Server{cfg: cfg, pool: pool, log: log, access: cfg.AccessLog, maxHead: maxHead,
		conns: make(map[*conn]struct{}), stopping: make(chan struct{}), runq: make(chan *conn),
		becameIdle: make(chan struct{}, 1)}
	s.getInBufFn, s.putInBufFn = s.getInBuf, s.putInBuf
	s.trustedLimits = cfg.Limits
	if cfg.Forwarder != nil {
		s.trustedLimits.Forwarder = cfg.Forwarder.Keeps
	}
	if cfg.MaxConnections > 0 {
		s.connSlots = make(chan struct{}, cfg.MaxConnections)
	}
	if cfg.RequestIDHeader != "" {
		s.ids, s.idEnviron = newIDSource(), environKey(cfg.RequestIDHeader)
	}
	if cfg.HTTP2 != nil {
		s.h2 = newH2Front(&s.cfg, log)
	}
	return s
}

// Serve accepts connections on ln until it is closed (by Shutdown); each connection gets
// its own goroutine, awaited by Shutdown.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	return s.serve(ctx, ln, nil)
}

// serve is Serve, with TLS when conf is not nil (ServeTLS).
func (s *Server) serve(ctx context.Context, ln net.Listener, conf *tls.Config) error {
	s.mu.Lock()
	if s.shuttingDown.Load() {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.listeners = append(s.listeners, ln)
	s.accepting.Add(1)
	s.mu.Unlock()
	defer s.accepting.Done()
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.shuttingDown.Load() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Out of fds and the like: back off instead of spinning (as net/http does).
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.log.Error("accept failed", "addr", ln.Addr().String(), "err", err, "retry_in", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		// At --max-connections, make room by closing an idle connection, or wait for one
		// to close before accepting another.
		if !s.takeConnSlot(ln) {
			c.Close()
			return nil
		}
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetNoDelay(true)
		}
		// A connection accepted while Shutdown closes the listener is served all the same:
		// Shutdown waits for the accept loops before it waits for the connections.
		cn := s.newConn(c, conf)
		s.mu.Lock()
		s.conns[cn] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			cn.serve(ctx)
			s.mu.Lock()
			delete(s.conns, cn)
			s.mu.Unlock()
			s.releaseConnSlot()
		}()
	}
}

// Shutdown stops accepting, closes idle keep-alive connections, and waits for requests in
// flight (and those already queued for a slot) to finish. When ctx ends first it closes every
// connection and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shuttingDown.Store(true)
	s.stopOnce.Do(func() { close(s.stopping) })
	for _, ln := range s.listeners {
		ln.Close()
	}
	s.listeners = nil
	s.mu.Unlock()

	done := make(chan struct{})
	go func() {
		s.accepting.Wait() // no connection is added after this
		s.wg.Wait()
		close(done)
	}()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		s.closeIdle()
		if s.h2 != nil {
			// Each HTTP/2 connection sends GOAWAY and ends once its streams are done; again
			// at each tick for those that turned to HTTP/2 since (a handshake under way).
			s.h2.base.Shutdown(context.Background())
		}
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			s.mu.Lock()
			for cn := range s.conns {
				cn.nc.Close() // not a TLS close_notify, which could wait on the client
			}
			s.mu.Unlock()
			<-done
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// closeIdle wakes connections waiting for a next request so that they close, and gives those
// waiting for their first request until firstRequestGrace after they were accepted.
func (s *Server) closeIdle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for cn := range s.conns {
		switch cn.wait.Load() {
		case waitNext:
			cn.nc.SetReadDeadline(time.Now())
		case waitFirst:
			cn.nc.SetReadDeadline(cn.accepted.Add(firstRequestGrace))
		}
	}
}

func (s *Server) tempFile(pattern string) (*os.File, error) {
	f, err := os.CreateTemp(s.cfg.TempDir, pattern)
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name()) // unlinked at once: nothing to clean up, whatever happens
	return f, nil
}

type dateEntry struct {
	sec int64
	b   []byte
}

// date returns the Date header value (RFC 9110 §6.6.1), formatted once per second.
func (s *Server) date() []byte {
	now := time.Now()
	if d := s.dateCache.Load(); d != nil && d.sec == now.Unix() {
		return d.b
	}
	d := &dateEntry{sec: now.Unix(), b: now.UTC().AppendFormat(nil, "Mon, 02 Jan 2006 15:04:05 GMT")}
	s.dateCache.Store(d)
	return d.b
}

// errorResponse appends a complete error response that closes the connection, and returns
// it with the length of its body. The body is the status text only: rejected input is never
// echoed back. Its version follows the request's (RFC 9110 §6.2) once the request line was
// parsed as far as the version; before that (a request line too long or malformed) it is
// HTTP/1.1. A response to HEAD has no body (RFC 9110 §9.3.2).
func (s *Server) errorResponse(b []byte, status int, req *http1.Request, id []byte) ([]byte, int) {
	text := statusText(status)
	body := text + "\n"
	if req.Major == 1 && req.Minor == 0 {
		b = append(b, "HTTP/1.0 "...)
	} else {
		b = append(b, "HTTP/1.1 "...)
	}
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, text...)
	b = append(b, "\r\nServer: gonicorn\r\nDate: "...)
	b = append(b, s.date()...)
	b = append(b, "\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	if status == 503 {
		b = append(b, "\r\nRetry-After: 1"...)
	}
	if len(id) > 0 {
		b = append(b, "\r\n"...)
		b = append(b, s.cfg.RequestIDHeader...)
		b = append(b, ": "...)
		b = append(b, id...)
	}
	b = append(b, "\r\n\r\n"...)
	if string(req.Method) == "HEAD" {
		return b, 0
	}
	return append(b, body...), len(body)
}

// writeError answers a client fault (or a request the server cannot take) and logs it in
// the access log; the connection is closed after it.
func (cn *conn) writeError(status int, reason string) {
	if cn.h2 != nil {
		n := cn.h2.writeError(cn, status)
		cn.logRejected(status, reason, result{status: status, bodyBytes: int64(n)})
		return
	}
	cn.linger = true
	out, n := cn.srv.errorResponse(cn.out[:0], status, &cn.req, cn.requestID())
	cn.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	written, _ := cn.c.Write(out)
	cn.out = out[:0]
	// The body bytes the client got: what was written beyond the head.
	sent := min(max(written-(len(out)-n), 0), n)
	cn.logRejected(status, reason, result{status: status, bodyBytes: int64(sent)})
}

// logRejected logs and counts a request the server answered with an error itself.
func (cn *conn) logRejected(status int, reason string, res result) {
	cn.reqLog().Debug("rejected request", "status", status, "reason", reason, "remote", cn.remoteHost)
	cn.observeError(status)
	if cn.srv.access != nil {
		cn.logAccess(cn.reqStart, res, 0)
	}
}

func statusText(code int) string {
	switch code {
	case 400:
		return "Bad Request"
	case 408:
		return "Request Timeout"
	case 413:
		return "Content Too Large"
	case 414:
		return "URI Too Long"
	case 431:
		return "Request Header Fields Too Large"
	case 500:
		return "Internal Server Error"
	case 501:
		return "Not Implemented"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Gateway Timeout"
	case 505:
		return "HTTP Version Not Supported"
	}
	return "Error"
}

// workerTimes are the moments of a request's passage through a worker, for the access log.
// A zero time did not happen (yet).
type workerTimes struct {
	ready time.Time // the request was read whole and built: it may go to a worker
	began time.Time // its turn on a worker slot came: the worker starts on it
	ended time.Time // the worker's answer was read (or its stream ended)

	bodyBytes int64 // the request body's length as read
}

// queueAndApp returns the access log's queue time (ready → began) and app time (began →
// ended), -1 for what did not happen. A request refused while it waited for a slot (503)
// has waited until now.
func (t *workerTimes) queueAndApp() (queue, app time.Duration) {
	switch {
	case t.ready.IsZero():
		return -1, -1
	case t.began.IsZero():
		return time.Since(t.ready), -1
	case t.ended.IsZero():
		return t.began.Sub(t.ready), -1
	}
	return t.began.Sub(t.ready), t.ended.Sub(t.began)
}

// logAccess writes the access log line of the request just answered.
func (cn *conn) logAccess(start time.Time, res result, pid int) {
	req := &cn.req
	var proto []byte
	if req.Major >= 1 {
		proto = []byte(protoString(req))
	}
	queue, app := cn.times.queueAndApp()
	idHeader := cn.srv.cfg.RequestIDHeader
	e := accesslog.Entry{
		RemoteAddr: cn.clientHost(),
		Method:     req.Method, Target: req.Target, Path: req.Path, Query: req.Query,
		Proto:     proto,
		Status:    res.status,
		BytesSent: res.bodyBytes,
		Start:     start,
		Duration:  time.Since(start),
		WorkerPID: pid,
		BodyBytes: cn.times.bodyBytes,
		QueueTime: queue,
		AppTime:   app,
		RequestID: cn.reqID,
		RequestHeader: func(name string) []byte {
			// %({x-request-id}i)s is the id the app was given.
			if len(cn.reqID) > 0 && asciiEqualFold([]byte(name), idHeader) {
				return cn.reqID
			}
			if i := findHeader(req.Headers, name); i >= 0 {
				return req.Headers[i].Value
			}
			return nil
		},
		ResponseHeader: func(name string) []byte {
			for _, h := range res.headers {
				if asciiEqualFold(h[0], name) {
					return h[1]
				}
			}
			// The id the server added when the app set none.
			if len(cn.reqID) > 0 && asciiEqualFold([]byte(name), idHeader) {
				return cn.reqID
			}
			return nil
		},
		Environ: cn.environ,
	}
	s := cn.srv
	s.accessMu.Lock()
	line := s.access.Append(cn.scratch[:0], &e)
	s.cfg.AccessWriter.Write(line)
	s.accessMu.Unlock()
	cn.scratch = line[:0]
}
