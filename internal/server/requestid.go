package server

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"log/slog"
	"sync/atomic"
)

// Request ids (--request-id-header, docs/logging.md). Every request gets one: the value of
// the header when a trusted proxy (--forwarded-allow-ips) sent a valid one, else a new one.
// The app sees it as HTTP_X_REQUEST_ID (replacing whatever an untrusted client sent), the
// client gets it back in the response unless the app set the header itself, and it is in
// the access log and in the error-log lines about the request.

// maxRequestIDLen is the longest request id taken from a proxy: room for a UUID, a W3C
// trace id or an AWS trace header, not for a client's essay.
const maxRequestIDLen = 128

// idSource generates request ids: 32 lower-case hex digits, the first 16 a random prefix
// chosen once per master, the last 16 a counter mixed by a bijection (splitmix64's
// finaliser) starting at a random point. An id costs one atomic add and no system call;
// ids are unique within a master (the mix is one-to-one) and, with 64 random bits, across
// masters; and they do not tell a client how many requests the server has served.
type idSource struct {
	prefix [16]byte      // hex of 8 random bytes
	next   atomic.Uint64 // counter; its start is random
}

func newIDSource() *idSource {
	var seed [16]byte
	rand.Read(seed[:]) // crypto/rand.Read does not fail on Linux (getrandom)
	g := &idSource{}
	hexEncode(g.prefix[:], seed[:8])
	g.next.Store(binary.LittleEndian.Uint64(seed[8:]))
	return g
}

// append appends a new id to b.
func (g *idSource) append(b []byte) []byte {
	var raw [8]byte
	binary.BigEndian.PutUint64(raw[:], mix64(g.next.Add(1)))
	var hex [16]byte
	hexEncode(hex[:], raw[:])
	b = append(b, g.prefix[:]...)
	return append(b, hex[:]...)
}

// mix64 is splitmix64's finaliser: each step (xor with a shift, multiplication by an odd
// number) is invertible, so distinct counters give distinct ids.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func hexEncode(dst, src []byte) {
	const digits = "0123456789abcdef"
	for i, c := range src {
		dst[2*i], dst[2*i+1] = digits[c>>4], digits[c&0xf]
	}
}

// validRequestID reports whether a proxy's id may be used as is: 1 to maxRequestIDLen
// visible ASCII characters (no space, no control, nothing that needs escaping in a header
// or a log line but '"' and '\', which the logs escape).
func validRequestID(v []byte) bool {
	if len(v) == 0 || len(v) > maxRequestIDLen {
		return false
	}
	for _, c := range v {
		if c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

// environKey returns the WSGI environ key of a header name: HTTP_X_REQUEST_ID.
func environKey(name string) string {
	k := []byte("HTTP_")
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '-':
			c = '_'
		case 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		}
		k = append(k, c)
	}
	return string(k)
}

// takeRequestID sets cn.reqID for the request just read: the id header's value when the
// peer is a trusted proxy and the value is valid, else a new id. Nothing when ids are off.
func (cn *conn) takeRequestID() {
	s := cn.srv
	cn.reqID = cn.reqID[:0]
	if s.ids == nil {
		return
	}
	if cn.trustedPeer {
		if i := findHeader(cn.req.Headers, s.cfg.RequestIDHeader); i >= 0 && validRequestID(cn.req.Headers[i].Value) {
			cn.reqID = append(cn.reqID, cn.req.Headers[i].Value...)
			return
		}
	}
	cn.reqID = s.ids.append(cn.reqID)
}

// requestID returns the current request's id, making one for a request rejected before
// takeRequestID ran (a malformed head): its error response and log line get one too.
// nil when ids are off.
func (cn *conn) requestID() []byte {
	if len(cn.reqID) == 0 && cn.srv.ids != nil {
		cn.reqID = cn.srv.ids.append(cn.reqID)
	}
	return cn.reqID
}

// isRequestIDField reports whether a request header field becomes the environ key of the
// request id (the name in any case, '_' taken for '-' as CGI does): the app sees our id
// instead.
func (cn *conn) isRequestIDField(name []byte) bool {
	id := cn.srv.cfg.RequestIDHeader
	return id != "" && sameCGIName(name, id)
}

// reqLog returns the error log for lines about the current request: with its request_id,
// when it has one. Only error paths call it, so the logger it builds costs nothing per
// request.
func (cn *conn) reqLog() *slog.Logger {
	if len(cn.reqID) == 0 {
		return cn.srv.log
	}
	return slog.New(withRequestID{cn.srv.log.Handler(), string(cn.reqID)})
}

// withRequestID adds the request_id attribute after a record's own attributes, so that a
// text line reads "message key=value ... request_id=…" (slog's With would put it first).
type withRequestID struct {
	slog.Handler
	id string
}

func (h withRequestID) Handle(ctx context.Context, r slog.Record) error {
	r = r.Clone()
	r.AddAttrs(slog.String("request_id", h.id))
	return h.Handler.Handle(ctx, r)
}

func (h withRequestID) WithAttrs(as []slog.Attr) slog.Handler {
	return withRequestID{h.Handler.WithAttrs(as), h.id}
}

func (h withRequestID) WithGroup(name string) slog.Handler {
	return withRequestID{h.Handler.WithGroup(name), h.id}
}
