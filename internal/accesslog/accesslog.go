// Package accesslog formats one line per finished request in gunicorn's
// --access-logformat language.
//
// A format is Python %-formatting over a mapping of atoms, as gunicorn
// evaluates it: %(h)s is the remote address, %({user-agent}i)s a request
// header, %% a literal percent sign. Compile parses the format once into a
// list of operations; Append walks that list for each request without
// allocating, so the access log costs a worker nothing but the bytes it
// writes.
//
// Every value that comes from the network is escaped (see appendEscaped), so a
// client cannot end a log line early or forge a field by sending a quote.
package accesslog

import (
	"encoding/base64"
	"fmt"
	"os"
	"strconv"
	"time"
	"unicode/utf8"
)

// DefaultFormat is gunicorn's default access_log_format, the Apache
// "combined" log format.
const DefaultFormat = `%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"`

// timeLayout is the %(t)s layout, gunicorn's '[%d/%b/%Y:%H:%M:%S %z]'
// (the Common Log Format date). Month names are English whatever the locale.
const timeLayout = "[02/Jan/2006:15:04:05 -0700]"

// Entry is what one finished request contributes to the access log. Byte
// slices may alias request buffers; they are only read during Append.
//
// A zero or empty field is "unknown" and prints as '-', the way gunicorn
// prints a missing atom.
type Entry struct {
	// RemoteAddr is the client's address, as in the WSGI REMOTE_ADDR.
	// A trailing port ("1.2.3.4:5678", "[::1]:5678") is dropped, so the
	// caller may pass a net.Addr's String() as is. Empty for a Unix socket.
	RemoteAddr string

	// Method, Target and Proto are the three words of the request line as
	// received: "GET", "/a%20b?q=1", "HTTP/1.1". Target is the raw request
	// target (gunicorn's RAW_URI), used by %(r)s.
	Method, Target, Proto []byte

	// Path and Query are the request target split at the first '?', as the
	// server puts them in PATH_INFO and QUERY_STRING. Query excludes the '?'.
	Path, Query []byte

	// Status is the response status code; 0 if no response was started.
	Status int

	// BytesSent is the number of response body bytes written to the client,
	// excluding the status line and headers; negative if unknown.
	BytesSent int64

	// Start is when the request was received; %(t)s prints it in Start's
	// location. The zero Time prints as '-'.
	Start time.Time

	// Duration is the time from Start to the last byte of the response.
	Duration time.Duration

	// WorkerPID is the process ID of the worker that ran the application;
	// 0 if unknown.
	WorkerPID int

	// BodyBytes is the length of the request body as read (after
	// de-chunking); 0 for none.
	BodyBytes int64

	// QueueTime is the time from the request being read whole (ready for a
	// worker) to a worker starting on it, and AppTime the time from then to
	// the worker's end of the response. Negative if the request never
	// reached a worker.
	QueueTime, AppTime time.Duration

	// RequestID is the request's id (the server's X-Request-ID); empty if
	// request ids are off.
	RequestID []byte

	// RequestHeader and ResponseHeader look a header up by name,
	// case-insensitively. They return nil if the header is absent; a nil
	// function means no headers. They must not allocate if Append is to
	// stay allocation-free.
	RequestHeader  func(name string) []byte
	ResponseHeader func(name string) []byte

	// Environ looks up a variable of the request's WSGI environ that describes the
	// connection (see RequestEnviron), case-insensitively; nil if absent. A nil function
	// means none.
	Environ func(name string) []byte
}

// Format is a compiled access log format. It is immutable and safe for
// concurrent use.
type Format struct {
	src  string // the format as given to Compile
	ops  []op   // what Append does, in order
	json bool   // the format is JSONFormat: ops is empty, Append writes JSON
}

// op is one step of a compiled format: a literal run of text or one atom.
type op struct {
	kind atom
	// text is the literal for atomLiteral (with %% already reduced and any
	// {var}e value already substituted and escaped), or the header name for
	// atomRequestHeader and atomResponseHeader.
	text string
}

// atom identifies what an op appends.
type atom uint8

const (
	atomLiteral        atom = iota
	atomRemoteAddr          // h
	atomUser                // u: user name from Basic auth
	atomTime                // t
	atomRequestLine         // r
	atomMethod              // m
	atomPath                // U
	atomQuery               // q
	atomProto               // H
	atomStatus              // s
	atomBytes               // B
	atomBytesCLF            // b
	atomReferer             // f
	atomUserAgent           // a
	atomSeconds             // T
	atomMillis              // M
	atomMicros              // D
	atomDecimalSeconds      // L
	atomPID                 // p
	atomRequestHeader       // {name}i
	atomResponseHeader      // {name}o
	atomEnviron             // {name}e of a RequestEnviron variable
)

// RequestEnviron reports whether a {name}e atom names a variable of the request's environ
// that the server knows per connection (wsgi.url_scheme, HTTPS and the SSL_* variables of
// TLS), rather than the process environment read at start. gunicorn reads every {name}e
// from the request's environ.
func RequestEnviron(name string) bool {
	return equalFoldString(name, "wsgi.url_scheme") || equalFoldString(name, "https") ||
		len(name) > 4 && equalFoldString(name[:4], "ssl_")
}

func equalFoldString(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// letters maps gunicorn's one-letter atom names to what they print.
// 'l' (the identd user, never looked up) is compiled to a literal '-'.
var letters = [128]atom{
	'h': atomRemoteAddr,
	'u': atomUser,
	't': atomTime,
	'r': atomRequestLine,
	'm': atomMethod,
	'U': atomPath,
	'q': atomQuery,
	'H': atomProto,
	's': atomStatus,
	'B': atomBytes,
	'b': atomBytesCLF,
	'f': atomReferer,
	'a': atomUserAgent,
	'T': atomSeconds,
	'M': atomMillis,
	'D': atomMicros,
	'L': atomDecimalSeconds,
	'p': atomPID,
}

// SyntaxError reports a format that Compile rejects.
type SyntaxError struct {
	Format string // the whole format
	Offset int    // byte offset of the offending '%' in Format
	Atom   string // the offending directive as written, e.g. "%(x)s"
	Msg    string // what is wrong with it
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("access log format: %s %q at offset %d", e.Msg, e.Atom, e.Offset)
}

// Compile parses an access log format: gunicorn's atoms, or JSONFormat for
// one JSON object per line. It reads the process environment
// once, now, for any %({var}e)s atoms; use CompileEnv to supply another
// environment.
func Compile(format string) (*Format, error) {
	return CompileEnv(format, os.LookupEnv)
}

// CompileEnv is Compile with the environment given as a lookup function
// (os.LookupEnv, or a map in tests). A nil lookupEnv means an empty
// environment.
//
// Unlike gunicorn, which prints '-' for an atom it does not know, CompileEnv
// rejects unknown atoms, conversions other than 's', and a '%' that does not
// start a directive, with a *SyntaxError naming the directive and its offset:
// a typo in a flag should fail at startup, not quietly log dashes.
func CompileEnv(format string, lookupEnv func(string) (string, bool)) (*Format, error) {
	f := &Format{src: format}
	if format == JSONFormat {
		f.json = true
		return f, nil
	}
	var lit []byte // pending literal text
	flush := func() {
		if len(lit) > 0 {
			f.ops = append(f.ops, op{kind: atomLiteral, text: string(lit)})
			lit = lit[:0]
		}
	}
	for i := 0; i < len(format); {
		c := format[i]
		if c != '%' {
			lit = append(lit, c)
			i++
			continue
		}
		start := i
		fail := func(end int, msg string) error {
			return &SyntaxError{Format: format, Offset: start, Atom: format[start:end], Msg: msg}
		}
		if i+1 == len(format) {
			return nil, fail(len(format), "incomplete directive")
		}
		switch format[i+1] {
		case '%':
			lit = append(lit, '%')
			i += 2
			continue
		case '(':
		default:
			// Python would apply a positional conversion such as %s or %d,
			// which needs a tuple gunicorn never passes.
			return nil, fail(i+2, "directive without an atom name")
		}
		closing := -1
		for j := i + 2; j < len(format); j++ {
			if format[j] == ')' {
				closing = j
				break
			}
		}
		if closing < 0 {
			return nil, fail(len(format), "unterminated atom name")
		}
		if closing+1 == len(format) {
			return nil, fail(len(format), "missing conversion after")
		}
		end := closing + 2 // just past the conversion character
		if format[closing+1] != 's' {
			// Only %(x)s: every gunicorn atom is a string, so %(s)d raises
			// in Python too.
			return nil, fail(end, "unsupported conversion (only 's' is allowed) in")
		}
		name := format[i+2 : closing]
		i = end

		switch {
		case len(name) == 1 && name[0] == 'l':
			lit = append(lit, '-')
		case len(name) == 1 && name[0] < 128 && letters[name[0]] != atomLiteral:
			flush()
			f.ops = append(f.ops, op{kind: letters[name[0]]})
		case len(name) >= 4 && name[0] == '{' && name[len(name)-2] == '}':
			key := name[1 : len(name)-2]
			if key == "" {
				return nil, fail(end, "empty name in")
			}
			switch name[len(name)-1] {
			case 'i', 'o':
				if !isToken(key) {
					return nil, fail(end, "invalid header name in")
				}
				kind := atomRequestHeader
				if name[len(name)-1] == 'o' {
					kind = atomResponseHeader
				}
				flush()
				f.ops = append(f.ops, op{kind: kind, text: key})
			case 'e':
				if RequestEnviron(key) {
					flush()
					f.ops = append(f.ops, op{kind: atomEnviron, text: key})
					break
				}
				// The value cannot change after startup, so it becomes
				// part of the surrounding literal.
				var v string
				if lookupEnv != nil {
					v, _ = lookupEnv(key)
				}
				lit = appendValue(lit, []byte(v))
			default:
				return nil, fail(end, "unknown atom kind (want {name}i, {name}o or {name}e) in")
			}
		default:
			return nil, fail(end, "unknown atom")
		}
	}
	flush()
	return f, nil
}

// String returns the format as given to Compile.
func (f *Format) String() string { return f.src }

// Append appends the log line for e, including the trailing '\n', to b and
// returns the extended buffer. It allocates only to grow b.
func (f *Format) Append(b []byte, e *Entry) []byte {
	if f.json {
		return appendJSON(b, e)
	}
	for i := range f.ops {
		o := &f.ops[i]
		switch o.kind {
		case atomLiteral:
			b = append(b, o.text...)
		case atomRemoteAddr:
			b = appendValueString(b, hostOnly(e.RemoteAddr))
		case atomUser:
			b = appendBasicUser(b, header(e.RequestHeader, "Authorization"))
		case atomTime:
			if e.Start.IsZero() {
				b = append(b, '-')
			} else {
				b = e.Start.AppendFormat(b, timeLayout)
			}
		case atomRequestLine:
			b = appendRequestLine(b, e)
		case atomMethod:
			b = appendValue(b, e.Method)
		case atomPath:
			b = appendValue(b, e.Path)
		case atomQuery:
			b = appendValue(b, e.Query)
		case atomProto:
			b = appendValue(b, e.Proto)
		case atomStatus:
			if e.Status <= 0 {
				b = append(b, '-')
			} else {
				b = strconv.AppendInt(b, int64(e.Status), 10)
			}
		case atomBytes, atomBytesCLF:
			// gunicorn prints "0" for an empty body under both B and b,
			// although Apache's %b would print '-'; we follow gunicorn.
			if e.BytesSent < 0 {
				b = append(b, '-')
			} else {
				b = strconv.AppendInt(b, e.BytesSent, 10)
			}
		case atomReferer:
			b = appendValue(b, header(e.RequestHeader, "Referer"))
		case atomUserAgent:
			b = appendValue(b, header(e.RequestHeader, "User-Agent"))
		case atomSeconds:
			b = strconv.AppendInt(b, int64(max(e.Duration, 0)/time.Second), 10)
		case atomMillis:
			b = strconv.AppendInt(b, int64(max(e.Duration, 0)/time.Millisecond), 10)
		case atomMicros:
			b = strconv.AppendInt(b, int64(max(e.Duration, 0)/time.Microsecond), 10)
		case atomDecimalSeconds:
			// gunicorn's "%d.%06d" % (seconds, microseconds).
			us := int64(max(e.Duration, 0) / time.Microsecond)
			b = strconv.AppendInt(b, us/1e6, 10)
			b = append(b, '.')
			b = appendPadded(b, us%1e6, 6)
		case atomPID:
			if e.WorkerPID <= 0 {
				b = append(b, '-')
			} else {
				b = append(b, '<')
				b = strconv.AppendInt(b, int64(e.WorkerPID), 10)
				b = append(b, '>')
			}
		case atomRequestHeader:
			b = appendValue(b, header(e.RequestHeader, o.text))
		case atomResponseHeader:
			b = appendValue(b, header(e.ResponseHeader, o.text))
		case atomEnviron:
			b = appendValue(b, header(e.Environ, o.text))
		}
	}
	return append(b, '\n')
}

// header looks name up with get, which may be nil.
func header(get func(string) []byte, name string) []byte {
	if get == nil {
		return nil
	}
	return get(name)
}

// appendRequestLine appends gunicorn's %(r)s, "METHOD RAW_URI PROTOCOL",
// or '-' when nothing of the request line is known (a connection that
// closed before sending one).
func appendRequestLine(b []byte, e *Entry) []byte {
	if len(e.Method) == 0 && len(e.Target) == 0 && len(e.Proto) == 0 {
		return append(b, '-')
	}
	b = appendEscaped(b, e.Method)
	b = append(b, ' ')
	b = appendEscaped(b, e.Target)
	b = append(b, ' ')
	return appendEscaped(b, e.Proto)
}

// hostOnly strips a port from a "host:port" or "[v6]:port" address and
// returns anything else (a bare IPv4 or IPv6 address, a socket path)
// unchanged.
func hostOnly(addr string) string {
	if len(addr) > 0 && addr[0] == '[' {
		for i := 1; i < len(addr); i++ {
			if addr[i] == ']' {
				return addr[1:i]
			}
		}
		return addr
	}
	colon := -1
	for i := 0; i < len(addr); i++ {
		if addr[i] == ':' {
			if colon >= 0 {
				return addr // two colons: a bare IPv6 address
			}
			colon = i
		}
	}
	if colon < 0 {
		return addr
	}
	return addr[:colon]
}

// appendPadded appends the non-negative n in decimal, zero-padded on the
// left to width digits.
func appendPadded(b []byte, n int64, width int) []byte {
	var digits [20]byte
	d := strconv.AppendInt(digits[:0], n, 10)
	for i := len(d); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, d...)
}

// Limits on the Authorization header value that %(u)s decodes with a
// fixed-size buffer, so the user name costs no allocation.
const (
	maxUserPrefix  = 1024                  // base64 characters decoded to find the user name
	userPrefixSize = maxUserPrefix / 4 * 3 // bytes they decode to
	checkChunk     = 256                   // base64 characters validated at a time after that
	checkChunkSize = checkChunk / 4 * 3    // bytes they decode to
)

// appendBasicUser appends the user name of a Basic Authorization header
// value (RFC 7617), which is what gunicorn's %(u)s prints: the decoded
// credentials up to the first ':'. Anything else (no header, another scheme,
// bad base64, a user name that is not UTF-8, or one too long to find the ':'
// within the first maxUserPrefix characters) prints '-'.
func appendBasicUser(b []byte, auth []byte) []byte {
	// "Basic" is case-insensitive (RFC 9110 section 11.1), followed by
	// one or more spaces.
	const scheme = "basic"
	if len(auth) <= len(scheme) || auth[len(scheme)] != ' ' {
		return append(b, '-')
	}
	for i := 0; i < len(scheme); i++ {
		if auth[i]|0x20 != scheme[i] {
			return append(b, '-')
		}
	}
	enc := trimSpace(auth[len(scheme)+1:])
	if len(enc) == 0 || len(enc)%4 != 0 {
		return append(b, '-')
	}
	// base64.Decode skips CR and LF, which would misalign the chunks
	// below; a header value cannot hold them anyway, so refuse them here.
	for _, c := range enc {
		if !isBase64Char(c) {
			return append(b, '-')
		}
	}

	var prefix [userPrefixSize]byte
	head := enc[:min(len(enc), maxUserPrefix)]
	n, err := base64.StdEncoding.Decode(prefix[:], head)
	if err != nil {
		return append(b, '-')
	}
	user := prefix[:n]
	found := false
	for i, c := range user {
		if c == ':' {
			user, found = user[:i], true
			break
		}
	}
	if !found && len(head) < len(enc) {
		return append(b, '-')
	}
	// gunicorn decodes the whole value before splitting it; a bad tail
	// makes the whole atom '-' there, and so here.
	var scratch [checkChunkSize]byte
	for rest := enc[len(head):]; len(rest) > 0; {
		chunk := rest[:min(len(rest), checkChunk)]
		if _, err := base64.StdEncoding.Decode(scratch[:], chunk); err != nil {
			return append(b, '-')
		}
		rest = rest[len(chunk):]
	}
	if !utf8.Valid(user) {
		return append(b, '-')
	}
	return appendValue(b, user)
}

func isBase64Char(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '+' || c == '/' || c == '='
}

// trimSpace trims spaces and horizontal tabs (RFC 9110 section 5.6.3, OWS).
func trimSpace(s []byte) []byte {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// isToken reports whether s is an HTTP token (RFC 9110 section 5.6.2), the
// syntax of a header field name.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '!' || c == '#' || c == '$' || c == '%' || c == '&' || c == '\'' ||
			c == '*' || c == '+' || c == '-' || c == '.' || c == '^' || c == '_' ||
			c == '`' || c == '|' || c == '~':
		default:
			return false
		}
	}
	return true
}
