package server

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gonicorn/gonicorn/internal/h2guard"
	"github.com/gonicorn/gonicorn/internal/http1"
	"github.com/gonicorn/gonicorn/internal/static"
	"golang.org/x/net/http2"
)

// HTTP/2 (RFC 9113). golang.org/x/net/http2 does the framing, HPACK, flow control, stream
// states and its own defences (rapid reset, CONTINUATION floods, control-frame floods);
// gonicorn gives it each connection that chose h2 (ALPN "h2" after the TLS handshake, or an
// h2c connection: the client preface, or Upgrade: h2c; h2c.go) and serves each stream with
// a conn value of its own, so that a stream takes the same path as an HTTP/1.1 request:
//
//  1. The stream's pseudo-header fields and header fields become the same http1.Request
//     the HTTP/1.1 parser makes (requestHead): :method, :path as the target, :authority
//     as Host, with the same limits on fields and the same policy on names with '_'.
//  2. Its body is read whole before a worker is involved, in memory then in a temp file
//     (spoolBody), under --limit-request-body (413) and --body-timeout between DATA
//     frames (408).
//  3. runRequest builds the environ (SERVER_PROTOCOL HTTP/2), dispatches it and relays
//     the worker's answer through the same validation; only the head is written
//     differently (writeHead): as fields given to x/net, which sends them as HEADERS.
//     The body goes through the stream's clientWriter, whose drain goroutine writes to the
//     stream (streamConn) as its flow-control window allows, so a slow or stalled reader
//     costs no worker. A response that cannot be completed resets the stream.
//
// The connection-level tunables are gunicorn 25's (--http2-*); see docs/http2.md.

// HTTP2 configures HTTP/2. The zero value of a field means gunicorn's default.
type HTTP2 struct {
	// Cleartext serves h2c on plain listeners: the HTTP/2 client preface (prior knowledge)
	// and requests with "Upgrade: h2c" (--http2-cleartext).
	Cleartext bool
	// MaxConcurrentStreams is SETTINGS_MAX_CONCURRENT_STREAMS (--http2-max-concurrent-streams):
	// the streams a client may have open at once; default 100.
	MaxConcurrentStreams uint32
	// InitialWindowSize is the receive window of each stream, the most body bytes of one
	// stream the master buffers before the client must wait (--http2-initial-window-size);
	// default 65535.
	InitialWindowSize uint32
	// MaxFrameSize is SETTINGS_MAX_FRAME_SIZE (--http2-max-frame-size): larger frames are a
	// FRAME_SIZE_ERROR; default 16384.
	MaxFrameSize uint32
	// MaxHeaderListSize is SETTINGS_MAX_HEADER_LIST_SIZE (--http2-max-header-list-size): the
	// most decoded header bytes of a request (RFC 9113 §6.5.2, 32 bytes per field
	// included); default 65536.
	MaxHeaderListSize uint32
}

// Defaults of HTTP2's fields (gunicorn 25's).
const (
	DefaultH2MaxConcurrentStreams = 100
	DefaultH2InitialWindowSize    = 65535
	DefaultH2MaxFrameSize         = 16384
	DefaultH2MaxHeaderListSize    = 65536
)

// h2StreamMemory is how many response bytes of one stream are kept in memory for a client
// that reads slower than the app writes, before they go to a temp file. Less than HTTP/1.1's
// outputMemory: a connection has up to --http2-max-concurrent-streams of them.
const h2StreamMemory = 64 << 10

// h2Front is the server's HTTP/2 part, made once by New when HTTP/2 is on.
type h2Front struct {
	srv    *http2.Server
	limits h2guard.Limits // x/net's settings, for the guard
	base   *http.Server   // what x/net reads its timeouts and header limit from; its Shutdown sends GOAWAY
	// maxHeaderList is --http2-max-header-list-size, the SETTINGS_MAX_HEADER_LIST_SIZE
	// advertised; the streams' handlers answer 431 above it (see h2DecodeLimit).
	maxHeaderList uint32
}

// h2DecodeLimit is the header list size up to which x/net decodes a request and hands it to
// gonicorn, for --http2-max-header-list-size limit: twice the limit. x/net answers a request
// over its own limit with 431 from a handler of its own, which gonicorn's access log and
// metrics never see; so x/net is given more room, gonicorn answers the requests over the
// limit 431 itself (requestHead), and the guard has x/net reset a stream over twice the limit
// (an HPACK bomb) before x/net would answer it (package h2guard). What the connection
// advertises stays the limit (h2guard.Advertise).
func h2DecodeLimit(limit uint32) uint32 {
	return uint32(min(2*uint64(limit), 1<<31-1))
}

// newH2Front builds the x/net server from the configuration.
func newH2Front(cfg *Config, log *slog.Logger) *h2Front {
	h := *cfg.HTTP2
	h.MaxConcurrentStreams = cmp.Or(h.MaxConcurrentStreams, DefaultH2MaxConcurrentStreams)
	h.InitialWindowSize = cmp.Or(h.InitialWindowSize, DefaultH2InitialWindowSize)
	h.MaxFrameSize = cmp.Or(h.MaxFrameSize, DefaultH2MaxFrameSize)
	h.MaxHeaderListSize = cmp.Or(h.MaxHeaderListSize, DefaultH2MaxHeaderListSize)
	cfg.HTTP2 = &h
	// The connection's receive window: a few streams' worth at once.
	connWindow := int32(min(max(int64(h.InitialWindowSize)*4, 1<<20), math.MaxInt32))
	f := &h2Front{
		srv: &http2.Server{
			MaxConcurrentStreams:         h.MaxConcurrentStreams,
			MaxReadFrameSize:             h.MaxFrameSize,
			MaxUploadBufferPerStream:     int32(h.InitialWindowSize),
			MaxUploadBufferPerConnection: connWindow,
			// With no stream open for --keep-alive, the connection ends with a GOAWAY.
			IdleTimeout: cfg.KeepAlive,
			// A client that takes no bytes of the connection for --write-timeout is gone.
			WriteByteTimeout: cfg.WriteTimeout,
		},
		// x/net's header list limit is MaxHeaderBytes plus room for 10 fields' overhead
		// (32 bytes each): see h2DecodeLimit.
		base: &http.Server{MaxHeaderBytes: max(int(h2DecodeLimit(h.MaxHeaderListSize))-320, 1), IdleTimeout: cfg.KeepAlive,
			// x/net's lines about clients that broke the protocol: at DEBUG, as the
			// HTTP/1.1 front logs rejected requests.
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)},
	}
	f.base.ConnState = f.connState
	f.limits = h2guard.Limits{MaxFrameSize: h.MaxFrameSize, MaxHeaderList: h2DecodeLimit(h.MaxHeaderListSize)}
	f.maxHeaderList = h.MaxHeaderListSize
	http2.ConfigureServer(f.base, f.srv) // so that base.Shutdown starts each connection's graceful stop
	return f
}

// guard puts an h2guard.Reader between the client's bytes and x/net (see package h2guard),
// keeping the TLS state visible to x/net, which checks the version and cipher suite
// (RFC 9113 §9.2).
func (f *h2Front) guard(c net.Conn, h *h2Handler) net.Conn {
	g := h2guard.New(c, f.limits)
	g.OnTimeout = h.onTimeout
	gc := guardedConn{Conn: c, g: g, advertise: f.maxHeaderList, h: h}
	if tc, ok := c.(*tls.Conn); ok {
		return &guardedTLSConn{gc, tc}
	}
	return &gc
}

// guardedConn is a connection read through an h2guard.Reader, whose first write, x/net's
// SETTINGS, advertises --http2-max-header-list-size rather than x/net's own limit (see
// h2DecodeLimit).
type guardedConn struct {
	net.Conn
	g *h2guard.Reader
	// advertise is the SETTINGS_MAX_HEADER_LIST_SIZE to send; 0 once the first write went.
	// Written by x/net's writes only, which are one at a time.
	advertise uint32
	h         *h2Handler // the connection's handler, for connState
}

func (c *guardedConn) Read(p []byte) (int, error) { return c.g.Read(p) }
func (c *guardedConn) handler() *h2Handler        { return c.h }

func (c *guardedConn) Write(p []byte) (int, error) {
	if c.advertise != 0 {
		// x/net writes its SETTINGS frame whole in its first write (a buffered writer's flush).
		q := h2guard.Advertise(p, http2.SettingMaxHeaderListSize, c.advertise)
		c.advertise = 0
		if q != nil {
			n, err := c.Conn.Write(q)
			return min(n, len(p)), err
		}
	}
	return c.Conn.Write(p)
}

// guardedTLSConn is a guarded TLS connection, with its TLS state.
type guardedTLSConn struct {
	guardedConn
	tc *tls.Conn
}

func (c *guardedTLSConn) ConnectionState() tls.ConnectionState { return c.tc.ConnectionState() }

// serveH2 serves the connection as HTTP/2 until it ends. c is what x/net reads and writes:
// the TLS connection, or the socket with the bytes read already (h2c.go). opts may carry an
// h2c upgrade's first request.
func (cn *conn) serveH2(ctx context.Context, c net.Conn, opts http2.ServeConnOpts) {
	s := cn.srv
	cn.served = true // a graceful stop waits for its streams, not for its first request
	// No read deadline of the HTTP/1.1 front (an h2c connection's head) carries over: on an
	// HTTP/2 connection a read deadline means "close if idle" (h2Handler.onTimeout).
	c.SetReadDeadline(time.Time{})
	opts.Context = ctx
	opts.BaseConfig = s.h2.base
	h := &h2Handler{parent: cn}
	if s.cfg.MaxResponseSpool > 0 {
		// The connection's streams share one --max-response-spool, as the requests of an
		// HTTP/1.1 connection do (one at a time).
		h.spool = newSpoolShare(s.cfg.MaxResponseSpool)
	}
	h.idle = sync.NewCond(&h.mu)
	opts.Handler = h
	s.h2.srv.ServeConn(s.h2.guard(c, h), &opts)
	// x/net does not wait for the handlers of streams cut by the connection's end.
	h.mu.Lock()
	for h.active > 0 {
		h.idle.Wait()
	}
	h.mu.Unlock()
}

// h2Handler serves the streams of one HTTP/2 connection, each on its own goroutine (x/net's).
//
// It also tells whether the connection is idle, for --max-connections (limit.go): an HTTP/2
// connection that served a stream and has none open, no handler running and no header block
// on its way is idle as an HTTP/1.1 connection waiting in keep-alive is, and marked so
// (conn.wait waitNext, since idleSince). Evicting it (conn.evict) sets its read deadline;
// the guard's read that times out then asks onTimeout, which has x/net end the connection
// gracefully (h2guard.GoAway) if it is still idle, or reads on if a request has begun since.
type h2Handler struct {
	parent *conn
	spool  *spoolShare // the response bytes its streams may hold for the client; nil = no limit
	mu     sync.Mutex
	idle   *sync.Cond // on mu: signalled when active drops to 0
	active int        // handlers running; guarded by mu
	// streams reports whether x/net has streams open (http.ConnState StateActive, not
	// StateIdle); served whether a handler ran. Guarded by mu.
	streams, served bool
}

func (h *h2Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.active++
	h.served = true
	h.noteStateLocked()
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		if h.active--; h.active == 0 {
			h.idle.Broadcast()
		}
		h.noteStateLocked()
		h.mu.Unlock()
	}()
	cn := h.parent.streamConn(w, r, h.spool)
	reset := cn.serveStream(r)
	cn.h2.waitWritten()
	if t := cn.srv.cfg.WriteTimeout; t > 0 {
		// What the handler leaves in x/net's buffer (a small body, the end of a big one) is
		// sent after it returns, as the client's flow-control window allows: a client that
		// never opens it must not hold the stream for ever (TestH2SmallAnswersZeroWindow).
		cn.h2.rc.SetWriteDeadline(time.Now().Add(t))
	}
	// The request frame buffer goes back to the pool: a stream's conn is garbage after this,
	// and a 16 KiB frame made for each stream was most of an HTTP/2 request's allocation.
	cn.releaseBuffers()
	if reset {
		if cn.h2.inline > 0 {
			// The bytes the app produced go out before the reset, as HTTP/1.1 sends them
			// before it closes; the drain flushes each block, TryWrite does not.
			cn.h2.rc.Flush()
		}
		// x/net answers a handler's ErrAbortHandler with RST_STREAM (INTERNAL_ERROR): the
		// client learns that the response is incomplete (RFC 9113 §8.1).
		panic(http.ErrAbortHandler)
	}
}

// connState is x/net's report (http.Server.ConnState) that the connection c has streams open
// (StateActive) or none (StateIdle).
func (f *h2Front) connState(c net.Conn, state http.ConnState) {
	gc, ok := c.(interface{ handler() *h2Handler })
	if !ok || state != http.StateActive && state != http.StateIdle {
		return
	}
	h := gc.handler()
	h.mu.Lock()
	h.streams = state == http.StateActive
	h.noteStateLocked()
	h.mu.Unlock()
}

// noteStateLocked marks the connection idle or busy (see h2Handler). h.mu is held.
func (h *h2Handler) noteStateLocked() {
	cn := h.parent
	if h.streams || h.active > 0 || !h.served {
		cn.endWait() // busy; an eviction under way is called off (onTimeout)
		return
	}
	if cn.wait.Load() == waitNone {
		cn.markIdle()
	}
}

// onTimeout is the guard's question when its read of the client's bytes timed out
// (h2guard.Reader.OnTimeout). On an HTTP/2 connection only an eviction (conn.evict) or a
// graceful stop (Server.closeIdle) sets a read deadline, to close an idle connection (x/net
// sets none, and serveH2 clears those of an h2c connection's first bytes). So the deadline
// is cleared, and the connection ends gracefully if it is still idle and the guard waits for
// a frame's first byte (RFC 9113 §6.8: x/net's GOAWAY with the last stream processed, then
// the close). In the middle of a frame (a WINDOW_UPDATE, say), the guard asks again at the
// next one. A header block on its way means a request: the eviction is called off, and an
// accept loop waiting for room looks for another idle connection.
func (h *h2Handler) onTimeout(at h2guard.ReadState) h2guard.TimeoutAction {
	cn := h.parent
	cn.evictMu.Lock()
	defer cn.evictMu.Unlock()
	cn.nc.SetReadDeadline(time.Time{})
	w := cn.wait.Load()
	switch {
	case w != waitNext && w != waitEvicted: // busy since
	case at == h2guard.Idle:
		cn.wait.Store(waitEvicted) // not to be chosen again
		return h2guard.GoAway
	case at == h2guard.InBlock:
		cn.wait.Store(waitNone)
		cn.srv.noteIdle()
	}
	return h2guard.Resume
}

// streamConn makes the conn value that serves one stream of the connection cn: the
// connection's addresses, TLS variables and trust, and a clientWriter onto the stream.
func (cn *conn) streamConn(w http.ResponseWriter, r *http.Request, spool *spoolShare) *conn {
	st := &h2Stream{w: w, r: r, rc: http.NewResponseController(w)}
	sc := &conn{srv: cn.srv, nc: cn.nc, accepted: cn.accepted, h2: st,
		tlsIn: cn.tlsIn, tlsVars: cn.tlsVars, tlsEnv: cn.tlsEnv,
		remoteHost: cn.remoteHost, remotePort: cn.remotePort, client: cn.client,
		localHost: cn.localHost, localPort: cn.localPort, trustedPeer: cn.trustedPeer}
	sc.c = &streamWriter{st: st, conn: cn.nc}
	sc.cw = newClientWriter(sc.c, h2StreamMemory, cn.srv.cfg.WriteTimeout, cn.srv.cfg.TempDir)
	sc.cw.spoolCap = max(cn.srv.cfg.MaxResponseSpool, 0)
	sc.cw.share = spool
	return sc
}

// serveStream serves the stream's request as serveOne serves an HTTP/1.1 one. It reports
// whether the stream must be reset: its response could not be completed, or its request
// could not be read and nothing was answered.
func (cn *conn) serveStream(r *http.Request) (reset bool) {
	s := cn.srv
	start := time.Now()
	cn.reqStart = start
	st := cn.h2
	if err := st.requestHead(&cn.req, &s.cfg.Limits, s.h2.maxHeaderList); err != nil {
		cn.writeError(err.Status, err.Reason)
		return false
	}
	cn.served = true
	if o := s.cfg.Observer; o != nil {
		o.RequestBegun()
		defer o.RequestEnded()
	}
	if err := cn.resolveForwarded(); err != nil {
		cn.writeError(err.Status, err.Reason)
		return false
	}
	cn.takeRequestID()
	if s.cfg.Static != nil && cn.serveStaticH2(start) {
		return cn.resp.incomplete
	}
	req := &cn.req
	if req.ContentLength > 0 && s.cfg.MaxBody > 0 && req.ContentLength > s.cfg.MaxBody {
		cn.writeError(413, "request body too large")
		return false
	}
	body, err := st.readBody(cn)
	if err != nil {
		var he *http1.Error
		switch {
		case errors.As(err, &he):
			cn.writeError(he.Status, he.Reason)
			return false
		case r.Context().Err() != nil:
			cn.logReset() // the client reset the stream, or the connection ended
			return true
		}
		// x/net's own complaints: a body shorter than its content-length (RFC 9113 §8.1.1).
		cn.writeError(400, "incomplete request body")
		return false
	}
	defer body.close()
	if r.Context().Err() != nil {
		cn.logReset() // reset before its turn: no worker runs it (CVE-2023-44487)
		return true
	}
	cn.runRequest(r.Context(), start, &body)
	return cn.resp.incomplete
}

// statusClientClosed is the access log's status of a stream that ended before its response
// was sent: nginx's 499 (client closed request). Nothing was sent with it.
const statusClientClosed = 499

// logReset logs and counts a stream that ended before a response was sent: the client reset
// it (RST_STREAM), or the connection ended. It has no status on the wire; its access log line
// says 499, as nginx logs such a stream, so that every request the server read is in the log.
func (cn *conn) logReset() {
	cn.reqLog().Debug("stream reset before its response", "request", requestLine(&cn.req), "remote", cn.remoteHost)
	if o := cn.srv.cfg.Observer; o != nil {
		o.Request(Observation{Method: cn.req.Method, Status: statusClientClosed, Total: time.Since(cn.reqStart)})
	}
	if cn.srv.access != nil {
		cn.logAccess(cn.reqStart, result{status: statusClientClosed}, 0)
	}
}

// streamGone reports whether the conn serves an HTTP/2 stream that ended (ctx is its
// request's context), after logging it (logReset): a request that lost its client while it
// waited for a worker gets no 503.
func (cn *conn) streamGone(ctx context.Context) bool {
	if cn.h2 == nil || ctx.Err() == nil {
		return false
	}
	cn.logReset()
	return true
}

// h2Stream is what an HTTP/2 stream's conn has of x/net's: the request and the response
// writer. The response writer is used by one goroutine at a time: the stream's handler, then
// (for the body) its clientWriter's drain; written orders them (see after).
type h2Stream struct {
	w  http.ResponseWriter
	rc *http.ResponseController
	r  *http.Request
	// written is closed once every hint and head queued so far went out; nil when none is
	// pending. A 103's HEADERS frame is written at once by x/net, and waits when the
	// connection's socket is full; it is written by a goroutine of its own, so that the
	// relay goes on reading the worker's answer (a slow reader costs no worker), and what
	// follows waits for it. Set by the stream's handler goroutine only, before the drain
	// starts.
	written chan struct{}
	// left is how many body bytes are still to come when the head gave the length (-1:
	// unknown). Set by writeHead before the body; then written by whoever writes the body:
	// TryWrite on the relay's goroutine while nothing is pending, else the drain goroutine.
	left int64
	// inline is how many body bytes streamWriter.TryWrite wrote on the relay's goroutine.
	inline int
}

// after runs write once every hint and head queued before it was written: at once when none
// is pending, else on a goroutine of its own.
func (st *h2Stream) after(write func()) {
	prev := st.written
	if prev == nil {
		write()
		return
	}
	done := make(chan struct{})
	st.written = done
	go func() {
		<-prev
		write()
		close(done)
	}()
}

// async runs write on a goroutine of its own, after what was queued before.
func (st *h2Stream) async(write func()) {
	prev := st.written
	done := make(chan struct{})
	st.written = done
	go func() {
		if prev != nil {
			<-prev
		}
		write()
		close(done)
	}()
}

// waitWritten waits until the hints and the head went out.
func (st *h2Stream) waitWritten() {
	if st.written != nil {
		<-st.written
	}
}

// requestHead fills req from the stream's request as the HTTP/1.1 parser would from a head:
// :method, :path (the target, split into path and query), :authority as Host (RFC 9113
// §8.3.1), with the same limits (--limit-request-line → 414 for :method and :path as an
// HTTP/1.1 request line, --limit-request-fields → 431, the size of a field as an HTTP/1.1
// line → 431) and the same policy on names with '_' (--header-map).
// x/net has checked the rest: the pseudo-header fields (RFC 9113 §8.3), lower-case names,
// values without CR, LF or NUL, no connection-specific fields (§8.2.2), and joined the cookie
// crumbs with "; " (§8.2.3).
func (st *h2Stream) requestHead(req *http1.Request, lim *http1.Limits, maxList uint32) *http1.Error {
	r := st.r
	*req = http1.Request{Headers: req.Headers[:0], ContentLength: r.ContentLength, Major: 2, KeepAlive: true}
	if _, ok := r.Header["Content-Length"]; !ok && r.ContentLength == 0 {
		// x/net's 0 without the field: the HEADERS frame ended the stream, there is no
		// body (an open stream without content-length has -1).
		req.ContentLength = -1
	}
	// The request line first, for the access log line of a rejection.
	req.Method = []byte(r.Method)
	req.Target = []byte(r.RequestURI)
	path, query, _ := strings.Cut(r.RequestURI, "?")
	if r.Method == "CONNECT" {
		path, query = "", "" // the target is :authority (RFC 9113 §8.5), as authority-form in HTTP/1.1
	}
	req.Path, req.Query = []byte(path), []byte(query)
	// --http2-max-header-list-size (RFC 9113 §6.5.2, §10.5.1): 431.
	if maxList > 0 && headerListSize(r) > int(maxList) {
		return &http1.Error{Status: 431, Reason: "header list too large"}
	}
	// --limit-request-line, counted as the HTTP/1.1 request line would be: 414.
	if len(r.Method)+len(r.RequestURI)+len(" HTTP/1.1\r\n")+1 > cmpOr(lim.RequestLine, 8190) {
		return &http1.Error{Status: 414, Reason: "request line too long"}
	}
	maxFields, fieldSize := cmpOr(lim.Fields, 100), cmpOr(lim.FieldSize, 8190)
	fields := 0
	add := func(name, value string) *http1.Error {
		fields++
		switch {
		case fields > maxFields:
			return &http1.Error{Status: 431, Reason: "too many header fields"}
		case len(name)+len(value)+4 > fieldSize:
			return &http1.Error{Status: 431, Reason: "header field too large"}
		case strings.IndexByte(name, '_') >= 0 && lim.HeaderMap == http1.HeaderMapRefuse:
			return &http1.Error{Status: 400, Reason: "header field name with '_'"}
		case strings.IndexByte(name, '_') >= 0 && lim.HeaderMap == http1.HeaderMapDrop:
			return nil
		}
		req.Headers = append(req.Headers, http1.Header{Name: []byte(name), Value: []byte(value)})
		return nil
	}
	if r.Host != "" {
		if err := add("Host", r.Host); err != nil {
			return err
		}
	}
	for name, values := range r.Header {
		if name == "Host" {
			continue // r.Host is :authority, or the Host field without one
		}
		for _, v := range values {
			if err := add(name, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// headerListSize is the size of the request's header list as SETTINGS_MAX_HEADER_LIST_SIZE
// counts it (RFC 9113 §6.5.2): each field's name and value and 32 bytes (RFC 7541 §4.1),
// pseudo-header fields included. It is counted from the request as x/net hands it over,
// which is the list received less what x/net folded: cookie crumbs joined into one field
// (RFC 9113 §8.2.3), a host field equal to :authority, Expect: 100-continue and Trailer.
// So a list can pass that is a little larger on the wire, never one that is smaller (RFC
// 9113 §6.5.2 calls the setting advisory).
func headerListSize(r *http.Request) int {
	const overhead = 32
	n := len(":method") + len(r.Method) + overhead
	if r.Method != "CONNECT" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		n += len(":scheme") + len(scheme) + overhead + len(":path") + len(r.RequestURI) + overhead
	}
	if r.Host != "" {
		n += len(":authority") + len(r.Host) + overhead
	}
	for name, values := range r.Header {
		for _, v := range values {
			n += len(name) + len(v) + overhead
		}
	}
	return n
}

func cmpOr(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// readBody reads the stream's body whole (spoolBody), each DATA frame within --body-timeout
// of the previous one.
func (st *h2Stream) readBody(cn *conn) (body, error) {
	if cn.req.ContentLength < 0 && st.r.ContentLength == 0 {
		return body{n: -1}, nil // no body
	}
	if cn.req.ContentLength == 0 {
		return body{n: 0}, nil
	}
	b, err := cn.spoolBody(&h2BodyReader{st: st, timeout: cn.srv.cfg.BodyTimeout})
	st.rc.SetReadDeadline(time.Time{})
	if err != nil {
		return b, bodyReadError(err)
	}
	return b, nil
}

// h2BodyReader reads a stream's body with a fresh read deadline for each read.
type h2BodyReader struct {
	st      *h2Stream
	timeout time.Duration
}

func (b *h2BodyReader) Read(p []byte) (int, error) {
	b.st.rc.SetReadDeadline(time.Now().Add(b.timeout))
	return b.st.r.Body.Read(p)
}

// writeHead gives x/net the response head (HEADERS, RFC 9113 §8.3.2): the app's fields
// less the connection-specific ones, the server's Date, Server and request id, and the
// Content-Length that framing chose. x/net sends it with the first body bytes, or with
// END_STREAM when there are none.
func (st *h2Stream) writeHead(rs *response, h *appHead) {
	cn, s := rs.cn, rs.cn.srv
	addLength, _ := rs.framing(h)
	fields := make([][2]string, 0, len(h.headers)+4)
	var own ownFields
	for _, hd := range h.headers {
		if rs.keepField(hd[0], &own) && !asciiEqualFold(hd[0], "Proxy-Connection") {
			fields = append(fields, [2]string{string(hd[0]), string(hd[1])})
		}
	}
	if !own.date {
		fields = append(fields, [2]string{"Date", string(s.date())})
	}
	if !own.server {
		fields = append(fields, [2]string{"Server", "gonicorn"})
	}
	if !own.id && len(cn.reqID) > 0 {
		fields = append(fields, [2]string{s.cfg.RequestIDHeader, string(cn.reqID)})
	}
	if addLength >= 0 {
		fields = append(fields, [2]string{"Content-Length", strconv.FormatInt(addLength, 10)})
	}
	st.left = h.length // the app's Content-Length, else the length the worker announced
	if st.left < 0 {
		st.left = addLength
	}
	code := h.code
	st.after(func() {
		hdr := st.w.Header()
		for _, f := range fields {
			hdr[f[0]] = append(hdr[f[0]], f[1])
		}
		st.w.WriteHeader(code)
	})
}

// writeHints sends a 103 (Early Hints) HEADERS frame with the fields (RFC 8297); the
// caller checked them.
func (st *h2Stream) writeHints(cn *conn, headers [][2][]byte) {
	for _, h := range headers {
		if !http1.ValidFieldName(h[0]) || !http1.ValidFieldValue(h[1]) {
			cn.srv.log.Error("invalid early hints header from application", "name", strconv.Quote(string(h[0])), "request", requestLine(&cn.req))
			return
		}
	}
	fields := make([][2]string, len(headers))
	for i, h := range headers {
		fields[i] = [2]string{string(h[0]), string(h[1])}
	}
	st.async(func() {
		hdr := st.w.Header()
		for _, f := range fields {
			hdr[f[0]] = append(hdr[f[0]], f[1])
		}
		st.w.WriteHeader(103)
		for _, f := range fields {
			delete(hdr, f[0]) // the hints are not the final response's fields
		}
	})
}

// writeError answers the stream with an error status of the server's own, like
// errorResponse, and returns the body bytes written.
func (st *h2Stream) writeError(cn *conn, status int) int {
	st.waitWritten()
	body := statusText(status) + "\n"
	hdr := st.w.Header()
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	hdr.Set("Server", "gonicorn")
	hdr.Set("Date", string(cn.srv.date()))
	if status == 503 {
		hdr.Set("Retry-After", "1")
	}
	if id := cn.requestID(); len(id) > 0 {
		hdr.Set(cn.srv.cfg.RequestIDHeader, string(id))
	}
	st.rc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	st.w.WriteHeader(status)
	if string(cn.req.Method) == "HEAD" {
		return 0
	}
	n, _ := io.WriteString(st.w, body)
	return n
}

// streamWriter is the net.Conn the stream's clientWriter writes the body to: each write
// goes to x/net's response writer and is flushed, so it waits for the stream's and the
// connection's flow-control windows (RFC 9113 §5.2), and the write deadline resets the
// stream when the client takes nothing for --write-timeout. The write that completes a body
// of known length is not flushed: x/net sends it with END_STREAM when the handler returns,
// at the worker's end, in one flush with the head, not as a DATA frame and an empty one.
// The clientWriter's drain writes through Write; while nothing is pending, the relay first
// tries TryWrite, which takes a small body of known length without waiting.
type streamWriter struct {
	st   *h2Stream
	conn net.Conn // the connection, for its addresses
}

func (w *streamWriter) Write(p []byte) (int, error) {
	w.st.waitWritten() // the head first
	n, err := w.st.w.Write(p)
	if w.st.left >= 0 {
		w.st.left -= int64(n)
	}
	if err == nil && w.st.left != 0 {
		err = w.st.rc.Flush()
	}
	return n, err
}

// h2InlineBody is the most body bytes of a stream that TryWrite hands to x/net on the
// relay's goroutine: x/net's handler buffer (handlerChunkWriteSize in x/net's server.go)
// takes that many without sending, and so without waiting for the client or its flow-control
// window; they go out with the head and END_STREAM when the handler returns, after the worker
// slot was released. TestH2ZeroWindow and TestH2SmallAnswersZeroWindow catch a write that waits.
const h2InlineBody = 4 << 10

// TryWrite writes p to the stream at once when that cannot wait: the head went out, the body
// has a known length that p does not exceed, and the body written this way stays within
// h2InlineBody. Anything else is left to the clientWriter's drain (errWouldBlock), which
// writes under the write deadline. A small response (most of them) thus costs no goroutine
// and no deadline, which for x/net is a message to the connection's goroutine and a timer.
func (w *streamWriter) TryWrite(p []byte) (int, error) {
	st := w.st
	if st.written != nil || st.left < int64(len(p)) || st.inline+len(p) > h2InlineBody {
		return 0, errWouldBlock
	}
	n, err := st.w.Write(p)
	st.left -= int64(n)
	st.inline += n
	if err == nil && n < len(p) {
		err = errWouldBlock
	}
	return n, err
}

func (w *streamWriter) SetWriteDeadline(t time.Time) error { return w.st.rc.SetWriteDeadline(t) }
func (w *streamWriter) SetDeadline(t time.Time) error      { return w.SetWriteDeadline(t) }
func (w *streamWriter) SetReadDeadline(time.Time) error    { return nil }
func (w *streamWriter) Read([]byte) (int, error)           { return 0, io.EOF }
func (w *streamWriter) Close() error                       { return nil }
func (w *streamWriter) LocalAddr() net.Addr                { return w.conn.LocalAddr() }
func (w *streamWriter) RemoteAddr() net.Addr               { return w.conn.RemoteAddr() }

// serveStaticH2 answers the stream from a static mount (static.go) when it is one, and
// reports whether it did.
func (cn *conn) serveStaticH2(start time.Time) bool {
	s := cn.srv
	r := &cn.static
	if !s.cfg.Static.Serve(&cn.req, r) {
		return false
	}
	defer r.Close()
	fields := cn.staticHeaders(r.Header)
	sent := cn.writeStaticH2(r, r.Status, nil, fields)
	if s.access != nil {
		cn.logAccess(start, result{status: r.Status, bodyBytes: sent, headers: fields}, 0)
	}
	return true
}

// writeStaticH2 answers the stream with a static reply (static.go) or the file of an
// X-Sendfile (sendfile.go): status code, the app's fields kept (appFields), the reply's own
// (fields), Date and Server unless the app sent them, then the body. A file that changed
// while it was sent resets the stream (cn.resp.incomplete). It returns the body bytes sent.
func (cn *conn) writeStaticH2(r *static.Reply, code int, appFields, fields [][2][]byte) int64 {
	st := cn.h2
	hdr := st.w.Header()
	for _, f := range appFields {
		hdr[string(f[0])] = append(hdr[string(f[0])], string(f[1]))
	}
	for _, f := range fields {
		hdr[string(f[0])] = []string{string(f[1])}
	}
	if len(hdr["Date"]) == 0 {
		hdr["Date"] = []string{string(cn.srv.date())}
	}
	if len(hdr["Server"]) == 0 {
		hdr["Server"] = []string{"gonicorn"}
	}
	st.w.WriteHeader(code)
	w := cn.writer()
	sent := int64(0)
	switch {
	case r.File == nil:
		n, _ := w.Write([]byte(r.Body))
		sent = int64(n)
	default:
		if _, err := r.File.Seek(r.Offset, io.SeekStart); err == nil {
			sent, _ = w.ReadFrom(io.LimitReader(r.File, r.Length))
		}
		if sent < r.Length || !r.Unchanged() {
			cn.staticChanged(r)
			cn.resp.incomplete = true
		}
	}
	w.Wait()
	return sent
}

// endSendfileH2 is endSendfile on an HTTP/2 stream: the file the app named, with the app's
// status and kept fields (or the reply's status, 206/304/404...).
func (rs *response) endSendfileH2() result {
	cn := rs.cn
	hh, r := &cn.held, &cn.static
	code := r.Status
	var app [][2][]byte
	switch r.Status {
	case 200, 206, 304:
		for _, hd := range hh.headers {
			if keepAppField(hd) {
				app = append(app, hd)
			}
		}
		if r.Status == 200 && len(hh.status) >= 3 {
			code = int(hh.status[0]-'0')*100 + int(hh.status[1]-'0')*10 + int(hh.status[2]-'0')
		}
	}
	sent := cn.writeStaticH2(r, code, app, cn.staticHeaders(r.Header))
	rs.res.status, rs.res.bodyBytes = r.Status, sent
	if cn.srv.access != nil {
		rs.res.headers = hh.headers
	}
	return rs.res
}

// isH2Preface reports whether b, the first bytes of a connection, begin the HTTP/2 client
// preface (RFC 9113 §3.4), as far as they go.
func isH2Preface(b []byte) bool {
	n := min(len(b), len(http2.ClientPreface))
	return n > 0 && bytes.Equal(b[:n], []byte(http2.ClientPreface[:n]))
}
