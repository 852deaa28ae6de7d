package server

import (
	"strconv"

	"github.com/gonicorn/gonicorn/internal/http1"
	"github.com/gonicorn/gonicorn/internal/proxy"
	"github.com/gonicorn/gonicorn/internal/wire"
)

// appendEnviron writes the CGI part of the WSGI environ (PEP 3333) for req as a marshal dict
// straight into b; the worker adds the wsgi.* objects. All strings are the wire's bytes read as
// latin-1, as PEP 3333's native strings are. bodyLen < 0 means no request body.
func (c *conn) appendEnviron(b []byte, req *http1.Request, bodyLen int64) []byte {
	s := c.srv
	b = wire.AppendDictStart(b)
	b = pair(b, "REQUEST_METHOD", req.Method)
	b = pairString(b, "SERVER_PROTOCOL", protoString(req))
	b = pairString(b, "SERVER_SOFTWARE", s.cfg.Software)
	b = pair(b, "RAW_URI", req.Target)
	b = pair(b, "REQUEST_URI", req.Target)
	b = pair(b, "QUERY_STRING", req.Query)
	scheme, defPort := c.scheme()
	b = pairString(b, "wsgi.url_scheme", scheme)
	b = append(b, c.tlsEnv...) // HTTPS, SSL_* (tls.go)

	// PATH_INFO is the percent-decoded path (RFC 3986 §2.1), read as latin-1 (PEP 3333).
	// With a root path (SCRIPT_NAME), the prefix moves from PATH_INFO to SCRIPT_NAME. A
	// trusted proxy's forwarder headers (forwarded.go) replace both, and REMOTE_USER.
	c.scratch = http1.DecodePath(c.scratch[:0], req.Path)
	path := c.scratch
	fe := &c.fwdEnv
	if fe.ScriptName != nil {
		path, _ = proxy.SplitPath(path, fe.ScriptName) // checked by resolveForwarder
		b = pair(b, "SCRIPT_NAME", fe.ScriptName)
	} else {
		script := s.cfg.RootPath
		if script != "" && hasPathPrefix(path, script) {
			path = path[len(script):]
		}
		b = pairString(b, "SCRIPT_NAME", script)
	}
	if fe.PathInfo != nil {
		path = fe.PathInfo
	}
	b = pair(b, "PATH_INFO", path)
	if fe.RemoteUser != nil {
		b = pair(b, "REMOTE_USER", fe.RemoteUser)
	}

	// REMOTE_ADDR/PORT: the peer, or the client a trusted proxy names (port "" when it
	// gave none: the peer's port would belong to the proxy).
	if c.fwd.Client != nil {
		b = pair(b, "REMOTE_ADDR", c.fwd.Client)
		b = pair(b, "REMOTE_PORT", c.fwd.ClientPort)
	} else {
		b = pairString(b, "REMOTE_ADDR", c.remoteHost)
		b = pairString(b, "REMOTE_PORT", c.remotePort)
	}

	// SERVER_NAME/PORT come from the Host header when there is one (like gunicorn), else
	// from the listening socket; a trusted proxy's forwarded host and port override both.
	serverName, serverPort := c.localHost, c.localPort
	if c.fwd.Scheme != "" {
		// The client spoke to the proxy, not to our socket: its port means nothing.
		serverPort = defPort
	}
	// An empty Host (allowed by RFC 9112 §3.2) names nothing: PEP 3333 wants SERVER_NAME
	// never empty, and gunicorn ignores it too.
	var host []byte
	if i := findHeader(req.Headers, "Host"); i >= 0 && len(req.Headers[i].Value) > 0 {
		host = req.Headers[i].Value
	}
	if c.fwd.Host != nil {
		host = c.fwd.Host
	}
	if host != nil {
		serverName, serverPort = splitHost(host, defPort)
	}
	if c.fwd.Port != nil {
		serverPort = string(c.fwd.Port)
	}
	b = pairString(b, "SERVER_NAME", serverName)
	b = pairString(b, "SERVER_PORT", serverPort)
	// With a forwarded host or port, HTTP_HOST is what the client asked the proxy for (as
	// werkzeug's ProxyFix writes it), so that apps building URLs from it get them right:
	// the name, and the port unless it is the scheme's default.
	rewriteHost := host != nil && (c.fwd.Host != nil || c.fwd.Port != nil)
	if rewriteHost {
		v := append(c.key[:0], serverName...)
		if serverPort != defPort {
			v = append(append(v, ':'), serverPort...)
		}
		c.key = v
		b = pair(b, "HTTP_HOST", v)
	}
	if bodyLen >= 0 {
		b = wire.AppendString(b, "CONTENT_LENGTH")
		b = wire.AppendBytes(b, strconv.AppendInt(c.num[:0], bodyLen, 10))
	}

	// Header fields become HTTP_* keys; repeated fields are joined with ", " (RFC 9110
	// §5.3). Content-Type and Content-Length have their CGI names. A chunked body arrives
	// de-chunked, so Transfer-Encoding is not passed on: CONTENT_LENGTH describes it. A
	// body that is still coded (gzip, chunked) keeps it, as in gunicorn, so that the app can
	// tell: HTTP_TRANSFER_ENCODING is then the field as received.
	dropTE := req.Chunked && !req.TransferCoded
	hs := req.Headers
	for i := range hs {
		name := hs[i].Name
		if c.isRequestIDField(name) {
			continue // replaced by the request's id, below
		}
		switch keyOf(name, dropTE) {
		case keyNone:
			continue
		case keyContentType:
			b = wire.AppendString(b, "CONTENT_TYPE")
		default:
			if seenBefore(hs, i, dropTE) || rewriteHost && asciiEqualFold(name, "Host") {
				continue
			}
			k := append(c.key[:0], "HTTP_"...)
			for _, ch := range name {
				switch {
				case ch == '-':
					ch = '_'
				case 'a' <= ch && ch <= 'z':
					ch -= 'a' - 'A'
				}
				k = append(k, ch)
			}
			c.key = k
			b = wire.AppendBytes(b, k)
		}
		b = wire.AppendBytes(b, joinedValue(c, hs, i, dropTE))
	}
	if len(c.reqID) > 0 {
		b = pair(b, s.idEnviron, c.reqID)
	}
	return wire.AppendDictEnd(b)
}

// scheme returns the request's wsgi.url_scheme and its default port: the connection's
// (https over TLS), unless a trusted proxy says otherwise (package proxy).
func (c *conn) scheme() (string, string) {
	if c.fwd.Scheme == "https" || c.fwd.Scheme == "" && c.isTLS() {
		return "https", "443"
	}
	return "http", "80"
}

// What a header field becomes in the environ.
const (
	keyHTTP        = iota // HTTP_NAME, '-' written as '_'
	keyNone               // nothing: Content-Length (CONTENT_LENGTH is the body read), a plain chunked Transfer-Encoding
	keyContentType        // CONTENT_TYPE (RFC 3875 §4.1.3)
)

// keyOf tells what the field name becomes in the environ. CONTENT_LENGTH describes the body
// the app will read, and a chunked body arrives de-chunked, so neither Content-Length nor
// its Transfer-Encoding is passed on (dropTE), unless it names a coding the body still has.
func keyOf(name []byte, dropTE bool) int {
	switch {
	case asciiEqualFold(name, "Content-Length"):
		return keyNone
	case asciiEqualFold(name, "Transfer-Encoding") && dropTE:
		return keyNone
	case asciiEqualFold(name, "Content-Type"):
		return keyContentType
	}
	return keyHTTP
}

// sameHTTPKey reports whether fields i and j of hs both become the same HTTP_* key: their
// names are equal ignoring case (RFC 9110 §5.1) and with '_' taken for '-', as CGI maps both
// to '_'. Names with '_' reach here only with --header-map dangerous; without this, X-Foo
// and X_Foo would write the key twice and Python would keep only the last.
func sameHTTPKey(hs []http1.Header, i, j int, dropTE bool) bool {
	a, b := hs[i].Name, hs[j].Name
	return len(a) == len(b) && keyOf(b, dropTE) == keyHTTP && sameCGIName(a, b)
}

// sameCGIName reports whether header names a and b become the same CGI key: equal ignoring
// ASCII case, with '_' taken for '-'.
func sameCGIName[T ~string | ~[]byte](a []byte, b T) bool {
	if len(a) != len(b) {
		return false
	}
	for k := 0; k < len(a); k++ {
		x, y := lower(a[k]), lower(b[k])
		if x == '_' {
			x = '-'
		}
		if y == '_' {
			y = '-'
		}
		if x != y {
			return false
		}
	}
	return true
}

// joinedValue returns the value of header i joined with the values of later fields of the
// same key.
func joinedValue(c *conn, hs []http1.Header, i int, dropTE bool) []byte {
	v := hs[i].Value
	joined := false
	for j := i + 1; j < len(hs); j++ {
		if sameHTTPKey(hs, i, j, dropTE) {
			if !joined {
				c.join = append(c.join[:0], v...)
				joined = true
			}
			c.join = append(c.join, ", "...)
			c.join = append(c.join, hs[j].Value...)
		}
	}
	if joined {
		return c.join
	}
	return v
}

// seenBefore reports whether a field with the HTTP_* key of hs[i] occurs before i.
func seenBefore(hs []http1.Header, i int, dropTE bool) bool {
	for j := 0; j < i; j++ {
		if sameHTTPKey(hs, i, j, dropTE) {
			return true
		}
	}
	return false
}

func pair(b []byte, k string, v []byte) []byte {
	return wire.AppendBytes(wire.AppendString(b, k), v)
}

func pairString(b []byte, k, v string) []byte {
	return wire.AppendString(wire.AppendString(b, k), v)
}

func protoString(req *http1.Request) string {
	if req.Major == 2 {
		return "HTTP/2"
	}
	if req.Minor == 0 {
		return "HTTP/1.0"
	}
	return "HTTP/1.1"
}

func hasPathPrefix(path []byte, prefix string) bool {
	return len(path) >= len(prefix) && string(path[:len(prefix)]) == prefix &&
		(len(path) == len(prefix) || path[len(prefix)] == '/')
}

func findHeader(hs []http1.Header, name string) int {
	for i := range hs {
		if asciiEqualFold(hs[i].Name, name) {
			return i
		}
	}
	return -1
}

// splitHost splits a Host header value into name and port; the port defaults to def, the
// scheme's default (80 for http, 443 for https).
func splitHost(h []byte, def string) (string, string) {
	s := string(h)
	if len(s) > 0 && s[0] == '[' {
		if i := lastIndexByte(s, ']'); i > 0 {
			if i+1 < len(s) && s[i+1] == ':' {
				return s[:i+1], portOr(s[i+2:], def)
			}
			return s[:i+1], def
		}
	}
	if i := lastIndexByte(s, ':'); i >= 0 {
		return s[:i], portOr(s[i+1:], def)
	}
	return s, def
}

// portOr returns p, or def if it is empty: "host:" has the scheme's default port (RFC 3986
// §3.2.3), and PEP 3333 wants SERVER_PORT never empty.
func portOr(p, def string) string {
	if p == "" {
		return def
	}
	return p
}

func lastIndexByte(s string, c byte) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == c {
			return i
		}
	}
	return -1
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
