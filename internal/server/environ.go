package server

import (
	"strconv"

	"github.com/gonicorn/gonicorn/internal/http1"
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
	b = pairString(b, "wsgi.url_scheme", "http")

	// PATH_INFO is the percent-decoded path (RFC 3986 §2.1), read as latin-1 (PEP 3333).
	// With a root path (SCRIPT_NAME), the prefix moves from PATH_INFO to SCRIPT_NAME.
	c.scratch = http1.DecodePath(c.scratch[:0], req.Path)
	path := c.scratch
	script := s.cfg.RootPath
	if script != "" && hasPathPrefix(path, script) {
		path = path[len(script):]
	}
	b = pairString(b, "SCRIPT_NAME", script)
	b = pair(b, "PATH_INFO", path)

	b = pairString(b, "REMOTE_ADDR", c.remoteHost)
	b = pairString(b, "REMOTE_PORT", c.remotePort)

	// SERVER_NAME/PORT come from the Host header when there is one (like gunicorn), else
	// from the listening socket.
	serverName, serverPort := c.localHost, c.localPort
	// An empty Host (allowed by RFC 9112 §3.2) names nothing: PEP 3333 wants SERVER_NAME
	// never empty, and gunicorn ignores it too.
	if i := findHeader(req.Headers, "Host"); i >= 0 && len(req.Headers[i].Value) > 0 {
		serverName, serverPort = splitHost(req.Headers[i].Value, serverPort)
	}
	b = pairString(b, "SERVER_NAME", serverName)
	b = pairString(b, "SERVER_PORT", serverPort)
	if bodyLen >= 0 {
		b = wire.AppendString(b, "CONTENT_LENGTH")
		b = wire.AppendBytes(b, strconv.AppendInt(c.num[:0], bodyLen, 10))
	}

	// Header fields become HTTP_* keys; repeated fields are joined with ", " (RFC 9110
	// §5.3). Content-Type and Content-Length have their CGI names. A chunked body arrives
	// de-chunked, so Transfer-Encoding is not passed on: CONTENT_LENGTH describes it.
	hs := req.Headers
	for i := range hs {
		name := hs[i].Name
		if seenBefore(hs, i) {
			continue
		}
		switch {
		case asciiEqualFold(name, "Content-Length"):
			continue // CONTENT_LENGTH above is the body the app will read
		case asciiEqualFold(name, "Transfer-Encoding") && req.Chunked:
			continue
		case asciiEqualFold(name, "Content-Type"):
			b = wire.AppendString(b, "CONTENT_TYPE")
		default:
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
		b = wire.AppendBytes(b, joinedValue(c, hs, i))
	}
	return wire.AppendDictEnd(b)
}

// joinedValue returns the value of header i joined with the values of later fields of the
// same name.
func joinedValue(c *conn, hs []http1.Header, i int) []byte {
	v := hs[i].Value
	joined := false
	for j := i + 1; j < len(hs); j++ {
		if asciiEqualFoldBytes(hs[j].Name, hs[i].Name) {
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

// seenBefore reports whether a field with the name of hs[i] occurs before i.
func seenBefore(hs []http1.Header, i int) bool {
	for j := 0; j < i; j++ {
		if asciiEqualFoldBytes(hs[j].Name, hs[i].Name) {
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

// splitHost splits a Host header value into name and port; the port defaults to def's
// scheme default (80 for http).
func splitHost(h []byte, _ string) (string, string) {
	s := string(h)
	if len(s) > 0 && s[0] == '[' {
		if i := lastIndexByte(s, ']'); i > 0 {
			if i+1 < len(s) && s[i+1] == ':' {
				return s[:i+1], portOr80(s[i+2:])
			}
			return s[:i+1], "80"
		}
	}
	if i := lastIndexByte(s, ':'); i >= 0 {
		return s[:i], portOr80(s[i+1:])
	}
	return s, "80"
}

// portOr80 returns p, or 80 if it is empty: "host:" has the scheme's default port (RFC 3986
// §3.2.3), and PEP 3333 wants SERVER_PORT never empty.
func portOr80(p string) string {
	if p == "" {
		return "80"
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

func asciiEqualFoldBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lower(a[i]) != lower(b[i]) {
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
