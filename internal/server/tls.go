package server

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gonicorn/gonicorn/internal/rawio"
	"github.com/gonicorn/gonicorn/internal/tlsconf"
)

// TLS on a listener (ServeTLS): each connection is wrapped in a tls.Conn over a tlsTransport
// when it is accepted, and its goroutine does the handshake before the first request
// (after the PROXY header, if any: a layer-4 proxy sends it in the clear). Everything after
// the handshake is the same as on a plain connection; the environ gets wsgi.url_scheme
// https and the variables of tlsconf.Environ. See docs/tls.md.

// ServeTLS is Serve with TLS: the configuration (from package tlsconf) is used for every
// connection accepted on ln.
func (s *Server) ServeTLS(ctx context.Context, ln net.Listener, conf *tls.Config) error {
	return s.serve(ctx, ln, conf)
}

// tlsTransport is what a tls.Conn reads and writes: the client's socket, with the bytes read
// ahead of the handshake (after a PROXY header) given back first, and writes that, like the
// plain clientWriter's, fail only when the client takes nothing for the write timeout.
//
// Reads and writes are raw system calls on the non-blocking socket (package rawio), as on
// a plain connection: through net.Conn each would enter the runtime's system-call state
// and often cost a sysmon hand-off. Waits go through the poller, so deadlines apply.
type tlsTransport struct {
	// replayConn reads and writes the socket: the bytes read ahead of the handshake (pre)
	// first, then with raw system calls. A rawio.Conn allows one read and one write at a
	// time: crypto/tls reads under its input lock and writes under its output lock.
	replayConn
	// stall is the duration of the last write deadline set, in nanoseconds; 0 = none.
	// crypto/tls makes a write timeout permanent (a record may be cut), so the transport
	// renews the deadline itself while the client makes progress: a slow but steady reader
	// is not cut, as on a plain connection (see clientWriter.writeBlocking).
	stall atomic.Int64
	// took reports whether the socket took bytes since the write deadline was set or last
	// renewed. crypto/tls writes a response as records, one Write each, so a client's
	// progress counts across Writes: a Write that waits from its start is not cut at the
	// deadline if the one before it made progress since.
	took atomic.Bool

	// The spooling mode, for a response written inline by the connection's goroutine
	// (clientWriter.tryWriteTLS): crypto/tls has no non-blocking write, so while spooling
	// is on, Write sends what the socket takes now and keeps the rest of the ciphertext in
	// owed, reporting success; the clientWriter's drain then sends it (flush). Off (the
	// default: the handshake, HTTP/2, the read path's own writes), Write sends the bytes
	// owed first and then its own, blocking, so that the records stay in order whoever
	// writes them.
	mu       sync.Mutex
	spooling bool         // guarded by mu
	owed     []byte       // ciphertext crypto/tls counts as sent and the client has not been sent; guarded by mu; nil when none
	owedN    atomic.Int64 // len(owed), for the clientWriter's accounting without mu (a flush holds mu while it waits)
	err      error        // sticky: sending owed bytes failed, so the record stream has a gap; guarded by mu
}

func (t *tlsTransport) SetWriteDeadline(d time.Time) error {
	stall := int64(0)
	if !d.IsZero() {
		stall = int64(max(time.Until(d), 1))
	}
	t.stall.Store(stall)
	t.took.Store(false)
	return t.Conn.SetWriteDeadline(d)
}

func (t *tlsTransport) SetDeadline(d time.Time) error {
	t.stall.Store(0) // the handshake's deadline bounds it as a whole
	t.took.Store(false)
	return t.Conn.SetDeadline(d)
}

func (t *tlsTransport) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err != nil {
		return 0, t.err
	}
	if t.spooling {
		return t.spoolLocked(p)
	}
	if err := t.flushLocked(); err != nil {
		return 0, err
	}
	return t.writeBlocking(p)
}

// setSpooling turns the spooling mode on or off (possible only with a raw conn) and returns
// how many bytes are owed.
func (t *tlsTransport) setSpooling(on bool) int {
	t.mu.Lock()
	t.spooling = on && t.raw != nil
	n := len(t.owed)
	t.mu.Unlock()
	return n
}

// spoolLocked writes what of p the socket takes now, behind the bytes owed already, and
// owes the rest.
func (t *tlsTransport) spoolLocked(p []byte) (int, error) {
	n := 0
	if len(t.owed) == 0 {
		var err error
		n, err = t.raw.TryWrite(p)
		if err != nil {
			return n, opError(t.Conn, "write", err)
		}
	}
	if n < len(p) {
		t.owed = append(t.owed, p[n:]...)
		t.owedN.Store(int64(len(t.owed)))
	}
	return len(p), nil
}

// flush sends the bytes owed, under the write deadline set (renewed while the client takes
// bytes, as Write's).
func (t *tlsTransport) flush() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err != nil {
		return t.err
	}
	return t.flushLocked()
}

func (t *tlsTransport) flushLocked() error {
	if len(t.owed) == 0 {
		return nil
	}
	_, err := t.writeBlocking(t.owed)
	// Sent or not, the buffer goes: after a failure nothing more may be sent (t.err).
	t.owed = nil
	t.owedN.Store(0)
	if err != nil {
		t.err = err
	}
	return err
}

// writeBlocking writes all of p, renewing the write deadline while the client takes bytes:
// it fails when the client took nothing since the deadline was set or last renewed.
func (t *tlsTransport) writeBlocking(p []byte) (int, error) {
	done := 0
	for {
		n, err := t.replayConn.Write(p[done:])
		done += n
		if n > 0 {
			t.took.Store(true)
		}
		if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
			return done, err
		}
		stall := t.stall.Load()
		if stall == 0 || !t.took.Swap(false) {
			return done, err
		}
		t.Conn.SetWriteDeadline(time.Now().Add(time.Duration(stall)))
	}
}

// wrapTLS makes c's TLS connection; the caller keeps c for what must bypass TLS.
func wrapTLS(c net.Conn, conf *tls.Config) (*tls.Conn, *tlsTransport) {
	t := &tlsTransport{replayConn: replayConn{Conn: c}}
	if sc, ok := c.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			t.raw = rawio.NewConn(raw)
		}
	}
	return tls.Server(t, conf), t
}

// handshake does the TLS handshake, which must end within --header-timeout of the accept,
// and prepares the connection's TLS environ. A client that sends plain HTTP gets a 400 in
// the clear (plainHTTPRequest). It reports whether the connection goes on.
func (cn *conn) handshake() bool {
	s := cn.srv
	tc := cn.c.(*tls.Conn)
	if cn.r < cn.w { // read after a PROXY header: the start of the ClientHello
		cn.tlsIn.pre = append([]byte(nil), cn.buf[cn.r:cn.w]...)
		cn.r, cn.w = 0, 0
	}
	tc.SetDeadline(cn.accepted.Add(s.cfg.HeaderTimeout))
	cn.awaitRequest() // a graceful stop gives it until firstRequestGrace after the accept
	err := tc.HandshakeContext(context.Background())
	cn.wait.Store(waitNone)
	if err != nil {
		var re tls.RecordHeaderError
		if errors.As(err, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader[:]) {
			cn.plainHTTPRequest()
			return false
		}
		s.log.Debug("TLS handshake failed", "remote", cn.remoteHost, "err", err)
		return false
	}
	tc.SetDeadline(time.Time{})
	// ALPN offers only http/1.1 (tlsconf.NextProtos); when HTTP/2 comes, a connection whose
	// st.NegotiatedProtocol is "h2" is handed to it here, with the same TLS variables.
	st := tc.ConnectionState()
	cn.tlsVars = tlsconf.Environ(&st, time.Now())
	cn.tlsEnv = appendPairs(nil, cn.tlsVars)
	return true
}

// environ looks up a variable of the request's environ that describes the connection, for
// the access log's {wsgi.url_scheme}e, {HTTPS}e and {SSL_*}e atoms.
func (cn *conn) environ(name string) []byte {
	if asciiEqualFold([]byte(name), "wsgi.url_scheme") {
		scheme, _ := cn.scheme()
		return []byte(scheme)
	}
	for _, kv := range cn.tlsVars {
		if asciiEqualFold([]byte(name), kv[0]) {
			return []byte(kv[1])
		}
	}
	return nil
}

// looksLikeHTTP reports whether the first bytes of a connection are an HTTP request line (an
// upper-case method) rather than a TLS record, whose first byte is a content type from 20 to
// 24 (RFC 8446 §5.1), or an SSL 2 hello (0x80).
func looksLikeHTTP(b []byte) bool {
	for i, c := range b {
		switch {
		case 'A' <= c && c <= 'Z':
		case i > 0 && (c == ' ' || c == '/' || c == '-' || c == '_'):
		default:
			return false
		}
	}
	return len(b) > 0
}

// plainHTTPBody is nginx's wording for the same mistake (its status 497, sent as 400).
const plainHTTPBody = "The plain HTTP request was sent to HTTPS port\n"

// plainHTTPRequest answers a plain HTTP request on a TLS port with 400 in the clear, as
// nginx and net/http do, so that whoever typed http:// for https:// sees why, then closes
// the connection after draining what the client sent for a moment, so that the close does
// not reset the connection before the client read the answer. The request is not read: it
// was never meant for the app, and the access log shows it as "-".
func (cn *conn) plainHTTPRequest() {
	s := cn.srv
	b := append(cn.out[:0], "HTTP/1.1 400 Bad Request\r\nServer: gonicorn\r\nDate: "...)
	b = append(b, s.date()...)
	b = append(b, "\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(plainHTTPBody)), 10)
	b = append(b, "\r\n\r\n"+plainHTTPBody...)
	cn.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	written, _ := cn.nc.Write(b)
	cn.out = b[:0]
	s.log.Debug("rejected request", "status", 400, "reason", "plain HTTP request on a TLS port", "remote", cn.remoteHost)
	if s.access != nil {
		sent := min(max(written-(len(b)-len(plainHTTPBody)), 0), len(plainHTTPBody))
		cn.logAccess(cn.accepted, result{status: 400, bodyBytes: int64(sent)}, 0)
	}
	lingeringClose(cn.nc)
}

// appendPairs appends the environ pairs kv, marshal-encoded, to b: the connection's TLS
// variables are encoded once and copied into the environ of each request.
func appendPairs(b []byte, kv [][2]string) []byte {
	for _, p := range kv {
		b = pairString(b, p[0], p[1])
	}
	return b
}

// isTLS reports whether the connection speaks TLS.
func (cn *conn) isTLS() bool { return cn.tlsIn != nil }
