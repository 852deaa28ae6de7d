// Package http1 is gonicorn's strict HTTP/1.1 request parser: it turns the
// bytes of a request head into a Request and de-chunks request bodies.
//
// We do not use net/http's reader because a WSGI server sits behind proxies
// that may frame requests differently, and every leniency is a
// request-smuggling vector. net/http accepts a bare LF as a line ending,
// unfolds obs-fold, lets Transfer-Encoding override Content-Length instead of
// rejecting the pair, merges duplicate equal Content-Length fields, and
// allocates a header map per request. This parser instead:
//
//   - rejects whatever RFC 9112 lets a server reject, and follows gunicorn's
//     own stricter policies (the conformance corpus in testdata/conformance)
//     where they differ, so a gunicorn user sees the same behaviour;
//   - where gunicorn's parser is looser than RFC 9112's rules for a server
//     (an HTTP/1.1 request without Host, Transfer-Encoding that does not end
//     in chunked), follows the RFC;
//   - never echoes rejected input in an error (errors carry a status and a
//     fixed reason);
//   - allocates nothing per request: slices point into the caller's buffer
//     and Request.Headers is reused.
//
// It is pure code: no goroutines, and no I/O except ChunkedReader reading
// from the *bufio.Reader it is given.
package http1

import (
	"bytes"
	"errors"
	"math"
	"strconv"
)

// Default limits, the same as gunicorn's settings where gunicorn has one.
const (
	DefaultRequestLine = 8190  // --limit-request-line (gunicorn defaults to 4094)
	DefaultFields      = 100   // --limit-request-fields
	DefaultFieldSize   = 8190  // --limit-request-field_size
	DefaultHeaderBlock = 65536 // whole head; gunicorn has no such setting
)

// gunicorn's method length bounds (3 to 20 characters).
const (
	minMethod = 3
	maxMethod = 20
)

// Limits bounds what a request head may contain. Zero fields mean the
// defaults; negative values are treated as zero. Lengths are in bytes and
// include the line's CRLF.
type Limits struct {
	RequestLine int // max bytes of the request line incl. CRLF; 0 means 8190; over → 414
	Fields      int // max header field lines (counted before dropping any); 0 means 100; over → 431
	FieldSize   int // max bytes of one header (or trailer) line incl. CRLF; 0 means 8190; over → 431
	HeaderBlock int // max bytes of the whole head incl. leading empty lines and the final CRLF; 0 means 65536; over → 431

	// HeaderMap is what to do with a header field whose name contains '_'
	// (gunicorn's header_map); the zero value drops it. Not a limit, but a
	// policy of the same parse, so it travels with the limits.
	HeaderMap HeaderMap
	// Forwarder reports whether a field name with '_' is one a trusted proxy sets
	// (gunicorn's forwarder_headers), kept whatever HeaderMap says; nil = none. The server
	// sets it for the connections of trusted peers only.
	Forwarder func(name []byte) bool
}

// HeaderMap is the policy for header field names containing '_'. In CGI and
// WSGI both "X-Foo" and "X_Foo" become HTTP_X_FOO, so a client could make
// one pose as the other (e.g. a Content_Length a proxy ignored shadowing
// Content-Length). gunicorn's setting of the same name and values.
type HeaderMap uint8

const (
	HeaderMapDrop      HeaderMap = iota // drop the field silently (it still counts towards Fields)
	HeaderMapRefuse                     // answer 400 (corpus invalid/040, invalid/chunked_07)
	HeaderMapDangerous                  // keep it: the app sees HTTP_X_FOO (corpus valid/040_compat)
)

// norm returns l with defaults filled in. l may be nil.
func (l *Limits) norm() Limits {
	var n Limits
	if l != nil {
		n = *l
	}
	if n.RequestLine <= 0 {
		n.RequestLine = DefaultRequestLine
	}
	if n.Fields <= 0 {
		n.Fields = DefaultFields
	}
	if n.FieldSize <= 0 {
		n.FieldSize = DefaultFieldSize
	}
	if n.HeaderBlock <= 0 {
		n.HeaderBlock = DefaultHeaderBlock
	}
	return n
}

// Header is one header field line.
type Header struct {
	Name  []byte // as received (case preserved); a token, without '_' unless HeaderMapDangerous
	Value []byte // with leading and trailing OWS removed
}

// Request is a parsed request head. All byte slices point into the buffer
// given to ParseHead and are valid only while that buffer is.
type Request struct {
	Method []byte // a token, e.g. "GET"
	Target []byte // raw request-target as received (RAW_URI)
	// Path is the path part of Target, not percent-decoded: "/p" for
	// "/p?q" and for absolute-form "http://h/p?q"; empty for "http://h";
	// "*" for asterisk-form; empty for authority-form (CONNECT h:443).
	Path     []byte
	Query    []byte // after the first '?', without "#fragment"; empty if none
	Fragment []byte // after the first '#'; clients should not send one, gunicorn accepts it
	Major    int    // HTTP major version, always 1
	Minor    int    // HTTP minor version, 0 or 1
	// Headers are the fields in the order received. Names containing '_'
	// are dropped unless Limits.HeaderMap says otherwise (gunicorn's
	// header_map=drop: in CGI/WSGI "X_Foo" and "X-Foo" both become
	// HTTP_X_FOO, so one could spoof the other).
	Headers       []Header
	ContentLength int64 // -1 when there is no Content-Length field
	Chunked       bool  // Transfer-Encoding ends in chunked: read the body with ChunkedReader
	// TransferCoded reports a coding under chunked ("gzip, chunked"): de-chunked, the body
	// is still gzip (or deflate, compress), which the app must be told (RFC 9112 §7).
	TransferCoded bool
	KeepAlive     bool // HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with "Connection: keep-alive"
	Expect100     bool // "Expect: 100-continue" on an HTTP/1.1 request
}

// reset clears r for reuse, keeping the Headers array.
func (r *Request) reset() {
	*r = Request{Headers: r.Headers[:0], ContentLength: -1}
}

// ErrNeedMore means the buffer does not yet hold a complete request head.
var ErrNeedMore = errors.New("http1: incomplete request head")

// Error is a client fault, with the HTTP status to answer and a short
// reason that is safe to send: it never contains the request's bytes.
type Error struct {
	Status int    // 400, 413, 414, 431, 501 or 505
	Reason string // e.g. "invalid header field name"
}

func (e *Error) Error() string {
	return "http1: " + strconv.Itoa(e.Status) + " " + e.Reason
}

// The errors, shared so that rejecting a request does not allocate.
// Callers must not modify them, and should compare Status, not identity.
var (
	errBareLF          = &Error{400, "line not terminated by CRLF"}
	errRequestLine     = &Error{400, "invalid request line"}
	errMethod          = &Error{400, "invalid request method"}
	errTarget          = &Error{400, "invalid request target"}
	errVersion         = &Error{400, "invalid HTTP version"}
	errVersionNotSupp  = &Error{505, "HTTP version not supported"}
	errFieldName       = &Error{400, "invalid header field name"}
	errFieldValue      = &Error{400, "invalid header field value"}
	errObsFold         = &Error{400, "obsolete line folding"}
	errNoColon         = &Error{400, "header field without colon"}
	errSpaceBeforeCol  = &Error{400, "whitespace before colon in header field"}
	errContentLength   = &Error{400, "invalid Content-Length"}
	errCLTooLarge      = &Error{413, "Content-Length too large"}
	errDupCL           = &Error{400, "duplicate Content-Length"}
	errTECL            = &Error{400, "both Transfer-Encoding and Content-Length"}
	errTE              = &Error{400, "invalid Transfer-Encoding"}
	errTENotChunked    = &Error{400, "Transfer-Encoding does not end in chunked"}
	errTEUnknown       = &Error{501, "unsupported transfer coding"}
	errTEHTTP10        = &Error{400, "Transfer-Encoding in an HTTP/1.0 request"}
	errNoHost          = &Error{400, "missing Host"}
	errDupHost         = &Error{400, "duplicate Host"}
	errHost            = &Error{400, "invalid Host"}
	errDupContentType  = &Error{400, "duplicate Content-Type"}
	errRequestLineLong = &Error{414, "request line too long"}
	errTooManyFields   = &Error{431, "too many header fields"}
	errFieldTooLong    = &Error{431, "header field too long"}
	errHeadTooLarge    = &Error{431, "request header too large"}
	errUnderscore      = &Error{400, "header field name with underscore"}
)

// ParseHead parses one request head at the start of buf and returns the
// number of bytes it consumed: any leading empty lines, the request line,
// the header lines and the final CRLF. If buf holds no complete head yet it
// returns 0, ErrNeedMore, unless buf already breaks a limit or a complete
// line in it is invalid; then it returns that error. Any other error is an
// *Error. req is reset and reused: Headers is truncated, not reallocated.
// lim may be nil for the defaults.
//
// ParseHead is stateless: a caller reading from a socket appends what it
// reads to buf and calls ParseHead again.
func ParseHead(buf []byte, lim *Limits, req *Request) (int, error) {
	l := lim.norm()
	req.reset()

	// RFC 9112 §2.2: "a server that is expecting to receive and parse a
	// request-line SHOULD ignore at least one empty line (CRLF) received
	// prior to the request-line". We ignore any number; they count towards
	// HeaderBlock.
	pos := 0
	for pos < len(buf) && buf[pos] == '\r' {
		if pos+1 == len(buf) {
			break // need the LF
		}
		if buf[pos+1] != '\n' {
			break // not an empty line: the request line checks it
		}
		pos += 2
	}
	if pos < len(buf) && buf[pos] == '\n' {
		return 0, errBareLF // RFC 9112 §2.2: a bare LF is not a line ending here
	}

	// The request line, RFC 9112 §3.
	i := bytes.IndexByte(buf[pos:], '\n')
	if i < 0 {
		if len(buf)-pos >= l.RequestLine {
			return 0, errRequestLineLong // RFC 9112 §3: 414 for a too long request-target
		}
		if len(buf) >= l.HeaderBlock {
			return 0, errHeadTooLarge
		}
		return 0, ErrNeedMore
	}
	if i+1 > l.RequestLine {
		return 0, errRequestLineLong
	}
	if i == 0 || buf[pos+i-1] != '\r' {
		// RFC 9112 §2.2: we do not accept a bare LF as a line terminator,
		// so "GET\n/\nHTTP/1.1" cannot be read two ways (corpus invalid/003).
		return 0, errBareLF
	}
	if err := parseRequestLine(buf[pos:pos+i-1], req); err != nil {
		return 0, err
	}
	pos += i + 1
	if pos > l.HeaderBlock {
		return 0, errHeadTooLarge
	}

	// The header section, RFC 9112 §5.
	var h headState
	fields := 0
	for {
		rest := buf[pos:]
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			if len(rest) >= l.FieldSize {
				return 0, errFieldTooLong
			}
			if len(buf) >= l.HeaderBlock {
				return 0, errHeadTooLarge
			}
			return 0, ErrNeedMore
		}
		if i == 0 || rest[i-1] != '\r' {
			return 0, errBareLF // RFC 9112 §2.2
		}
		if pos+i+1 > l.HeaderBlock {
			return 0, errHeadTooLarge
		}
		if i == 1 {
			pos += 2 // the empty line ending the head
			break
		}
		if i+1 > l.FieldSize {
			return 0, errFieldTooLong
		}
		fields++
		if fields > l.Fields {
			return 0, errTooManyFields
		}
		name, value, drop, err := parseField(rest[:i-1])
		if err != nil {
			return 0, err
		}
		pos += i + 1
		if drop && (l.Forwarder == nil || !l.Forwarder(name)) {
			switch l.HeaderMap {
			case HeaderMapRefuse:
				return 0, errUnderscore // gunicorn header_map=refuse (corpus invalid/040)
			case HeaderMapDangerous:
				// Kept as an ordinary field: it never matches a framing field
				// in headState.add ("Content_Length" is not "Content-Length").
			default:
				continue
			}
		}
		if err := h.add(req, name, value); err != nil {
			return 0, err
		}
		req.Headers = append(req.Headers, Header{Name: name, Value: value})
	}
	if err := h.finish(req); err != nil {
		return 0, err
	}
	return pos, nil
}

// parseRequestLine parses "method SP request-target SP HTTP-version"
// (RFC 9112 §3), line without its CRLF.
func parseRequestLine(line []byte, req *Request) error {
	// RFC 9112 §3: exactly one SP between the three parts. §3 lets a
	// server split on other whitespace too; we do not, so "GET  /" and
	// "GET\t/" cannot be split differently by a proxy and by us.
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 < 0 {
		return errRequestLine
	}
	rest := line[sp1+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 < 0 {
		return errRequestLine // "GET HTTP/1.1" (corpus invalid/002)
	}
	method, target, version := line[:sp1], rest[:sp2], rest[sp2+1:]

	if err := parseMethod(method); err != nil {
		return err
	}
	req.Method = method

	major, minor, err := parseVersion(version)
	if err != nil {
		return err
	}
	req.Major, req.Minor = major, minor

	if err := parseTarget(method, target, req); err != nil {
		return err
	}
	return nil
}

// parseMethod checks method = token (RFC 9110 §9.1, RFC 9112 §3.1) plus
// gunicorn's default policy: 3 to 20 characters, no lower-case letter and no
// '#' (corpus invalid/003c "-bl" is refused, valid/031 "-BLARGH" accepted).
// Non-ASCII bytes are not tchar (corpus invalid/nonascii_01, _02), nor is NUL
// (invalid/prefix_01, _02) nor ':' (invalid/003b, prefix_05).
func parseMethod(m []byte) error {
	if len(m) < minMethod || len(m) > maxMethod || !isToken(m) {
		return errMethod
	}
	for _, c := range m {
		if 'a' <= c && c <= 'z' || c == '#' {
			return errMethod
		}
	}
	return nil
}

// parseVersion parses HTTP-version = HTTP-name "/" DIGIT "." DIGIT
// (RFC 9112 §2.3; HTTP-name is case-sensitive). A well-formed version other
// than 1.0 and 1.1 gets 505 (RFC 9110 §15.6.6); anything else is 400
// ("HTTP/111", "HTTP/0.99", "FTP/1.1": corpus invalid/018, version_01, 004).
// Note RFC 9110 §2.5 says a server SHOULD treat HTTP/1.2 as 1.1; we refuse
// it instead, since no such version exists and gunicorn's successors differ.
func parseVersion(v []byte) (major, minor int, err error) {
	if len(v) != 8 || string(v[:5]) != "HTTP/" || v[6] != '.' ||
		v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9' {
		return 0, 0, errVersion
	}
	major, minor = int(v[5]-'0'), int(v[7]-'0')
	if major != 1 || minor > 1 {
		return 0, 0, errVersionNotSupp
	}
	return major, minor, nil
}

// parseTarget checks the request-target (RFC 9112 §3.2) against the
// method and fills Target, Path, Query and Fragment.
func parseTarget(method, t []byte, req *Request) error {
	if len(t) == 0 {
		return errTarget
	}
	for _, c := range t {
		// RFC 9112 §3.2: no whitespace or CTL in a request-target
		// (RFC 9112 §3 forbids them in the request line as a whole).
		if charClass[c]&classTarget == 0 {
			return errTarget
		}
	}
	req.Target = t
	isConnect := string(method) == "CONNECT"

	switch {
	case isConnect:
		// RFC 9112 §3.2.3: CONNECT uses authority-form, uri-host ":" port,
		// and nothing else does. Path stays empty.
		if !validAuthority(t, false, true) {
			return errTarget
		}
		return nil
	case t[0] == '/':
		// RFC 9112 §3.2.1: origin-form = absolute-path [ "?" query ].
		splitPath(t, req)
		return nil
	case len(t) == 1 && t[0] == '*':
		// RFC 9112 §3.2.4: asterisk-form is only for a server-wide OPTIONS
		// (corpus invalid/rfc9112_target_asterisk_non_options_01).
		if string(method) != "OPTIONS" {
			return errTarget
		}
		req.Path = t
		return nil
	}
	// RFC 9112 §3.2.2: absolute-form = absolute-URI. We accept only the
	// http and https schemes with an authority ("scheme://host..."), since
	// that is what a proxy forwards; this refuses a relative reference such
	// as "foo/bar" (invalid/rfc9112_target_relative_01) and authority-form
	// outside CONNECT (invalid/rfc9112_target_authority_non_connect_01).
	rest, ok := cutScheme(t)
	if !ok {
		return errTarget
	}
	end := len(rest)
	for i, c := range rest {
		if c == '/' || c == '?' || c == '#' {
			end = i
			break
		}
	}
	// RFC 9110 §4.2.1: a recipient MUST reject an http(s) URI with an
	// empty host; validAuthority also refuses "]ufd" (corpus invalid/016).
	// Userinfo is deprecated (RFC 9110 §4.2.4) but gunicorn accepts it
	// (valid/rfc9112_target_absolute_userinfo_01), so we do too.
	if !validAuthority(rest[:end], true, false) {
		return errTarget
	}
	splitPath(rest[end:], req)
	return nil
}

// cutScheme strips a case-insensitive "http://" or "https://" prefix.
func cutScheme(t []byte) ([]byte, bool) {
	switch {
	case len(t) >= 7 && equalFold(t[:7], "http://"):
		return t[7:], true
	case len(t) >= 8 && equalFold(t[:8], "https://"):
		return t[8:], true
	}
	return nil, false
}

// splitPath splits p = path [ "?" query ] [ "#" fragment ] into req.
func splitPath(p []byte, req *Request) {
	if i := bytes.IndexByte(p, '#'); i >= 0 {
		req.Fragment = p[i+1:]
		p = p[:i]
	}
	if i := bytes.IndexByte(p, '?'); i >= 0 {
		req.Query = p[i+1:]
		p = p[:i]
	}
	req.Path = p
}

// validAuthority checks authority = [ userinfo "@" ] host [ ":" port ]
// (RFC 3986 §3.2) with a non-empty host. userinfo is allowed only if
// userinfoOK; needPort demands a non-empty port (authority-form, RFC 9112
// §3.2.3).
func validAuthority(a []byte, userinfoOK, needPort bool) bool {
	if at := bytes.LastIndexByte(a, '@'); at >= 0 {
		if !userinfoOK || !validRegName(a[:at], true) {
			return false
		}
		a = a[at+1:]
	}
	host, port, ok := splitHostPort(a)
	if !ok || len(host) == 0 || needPort && len(port) == 0 {
		return false
	}
	return true
}

// splitHostPort splits host [ ":" port ] and checks both: host is an
// IP-literal "[...]" or a reg-name (which covers IPv4address), port is
// *DIGIT (RFC 3986 §3.2.2, §3.2.3).
func splitHostPort(a []byte) (host, port []byte, ok bool) {
	if len(a) > 0 && a[0] == '[' {
		end := bytes.IndexByte(a, ']')
		if end < 2 {
			return nil, nil, false
		}
		for _, c := range a[1:end] {
			if c != ':' && charClass[c]&classRegName == 0 {
				return nil, nil, false
			}
		}
		host, a = a[:end+1], a[end+1:]
		if len(a) > 0 && a[0] != ':' {
			return nil, nil, false
		}
	} else {
		end := bytes.IndexByte(a, ':')
		if end < 0 {
			end = len(a)
		}
		host, a = a[:end], a[end:]
		if !validRegName(host, false) {
			return nil, nil, false
		}
	}
	if len(a) > 0 { // ":" port
		port = a[1:]
		for _, c := range port {
			if c < '0' || c > '9' {
				return nil, nil, false
			}
		}
	}
	return host, port, true
}

// validRegName checks *( unreserved / pct-encoded / sub-delims ), and ':'
// too if colonOK (userinfo), RFC 3986 §3.2.1-3.2.2.
func validRegName(b []byte, colonOK bool) bool {
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case charClass[c]&classRegName != 0:
		case c == ':' && colonOK:
		case c == '%' && i+2 < len(b) && charClass[b[i+1]]&classHex != 0 && charClass[b[i+2]]&classHex != 0:
			i += 2
		default:
			return false
		}
	}
	return true
}

// parseField splits a field line (without CRLF) into name and value
// (RFC 9112 §5) and checks both. drop reports a name containing '_',
// which the caller must discard.
func parseField(line []byte) (name, value []byte, drop bool, err error) {
	if line[0] == ' ' || line[0] == '\t' {
		// RFC 9112 §5.2: a server MUST either reject obs-fold with 400 or
		// replace it with SP; we reject (corpus invalid/obs_fold_01). This
		// also covers whitespace between the request line and the first
		// field, which RFC 9112 §2.2 says to reject or ignore.
		return nil, nil, false, errObsFold
	}
	colon := bytes.IndexByte(line, ':')
	if colon < 0 {
		return nil, nil, false, errNoColon
	}
	name = line[:colon]
	if len(name) == 0 {
		return nil, nil, false, errFieldName // RFC 9110 §5.1: token is 1*tchar
	}
	if c := name[len(name)-1]; c == ' ' || c == '\t' {
		// RFC 9112 §5.1: "A server MUST reject, with a response status code
		// of 400 (Bad Request), any received request message that contains
		// whitespace between a header field name and colon" (invalid/020).
		return nil, nil, false, errSpaceBeforeCol
	}
	// RFC 9110 §5.1: field-name = token (invalid/005 NUL, nonascii_03/_04).
	if !isToken(name) {
		return nil, nil, false, errFieldName
	}
	value = trimOWS(line[colon+1:]) // RFC 9110 §5.5: OWS is not part of the value
	if !ValidFieldValue(value) {
		// RFC 9110 §5.5: CR, LF, NUL and other CTLs are invalid in a value
		// (invalid/rfc9110_field_value_ctl_bel_01, _del_01).
		return nil, nil, false, errFieldValue
	}
	drop = bytes.IndexByte(name, '_') >= 0
	return name, value, drop, nil
}

// headState carries what ParseHead learns from individual fields until it
// can decide the message framing.
type headState struct {
	sawCL, sawTE, sawHost, sawContentType bool
	chunked                               bool // the last Transfer-Encoding coding so far is chunked
	teCoded                               bool // gzip, deflate or compress seen in Transfer-Encoding
	teUnknown                             bool // a transfer coding we do not know seen
	close, keepAlive                      bool // Connection options seen
}

// add records one (kept) field. Names are compared case-insensitively
// (RFC 9110 §5.1); dispatching on the length first keeps this cheap.
func (h *headState) add(req *Request, name, value []byte) error {
	switch len(name) {
	case 4:
		if equalFold(name, "host") {
			// RFC 9112 §3.2: 400 for more than one Host line (invalid/042)
			// or an invalid Host value.
			if h.sawHost {
				return errDupHost
			}
			h.sawHost = true
			if len(value) > 0 {
				if _, _, ok := splitHostPort(value); !ok {
					return errHost
				}
			}
		}
	case 6:
		if equalFold(name, "expect") && equalFold(value, "100-continue") {
			// RFC 9110 §10.1.1: the expectation is case-insensitive, and a
			// server MUST ignore it in an HTTP/1.0 request.
			req.Expect100 = req.Minor >= 1
		}
	case 10:
		if equalFold(name, "connection") {
			// RFC 9110 §7.6.1: Connection is a comma-separated list of
			// case-insensitive options.
			for v, more := value, true; more; {
				var opt []byte
				opt, v, more = nextListElem(v)
				switch {
				case equalFold(opt, "close"):
					h.close = true
				case equalFold(opt, "keep-alive"):
					h.keepAlive = true
				}
			}
		}
	case 12:
		if equalFold(name, "content-type") {
			// gunicorn policy, not an RFC rule (invalid/041): two
			// Content-Type lines are ambiguous, and RFC 9110 §5.3 does not
			// allow Content-Type to be a list.
			if h.sawContentType {
				return errDupContentType
			}
			h.sawContentType = true
		}
	case 14:
		if equalFold(name, "content-length") {
			// RFC 9112 §6.3 lets a server accept repeated identical values
			// ("5, 5" or two lines); like gunicorn we refuse any repetition,
			// since proxies disagree on it (invalid/021,
			// rfc9112_smuggle_cl_list_form_01).
			if h.sawCL {
				return errDupCL
			}
			h.sawCL = true
			n, err := parseContentLength(value)
			if err != nil {
				return err
			}
			req.ContentLength = n
		}
	case 17:
		if equalFold(name, "transfer-encoding") {
			return h.addTE(value)
		}
	}
	return nil
}

// addTE records the codings of one Transfer-Encoding line (RFC 9112 §6.1);
// multiple lines form one list (RFC 9110 §5.3).
func (h *headState) addTE(value []byte) error {
	h.sawTE = true
	if len(value) == 0 {
		return errTE
	}
	for v, more := value, true; more; {
		var c []byte
		c, v, more = nextListElem(v)
		switch {
		case len(c) == 0:
			// RFC 9110 §5.6.1 asks recipients to skip empty list elements;
			// in this framing-critical field we refuse them instead.
			return errTE
		case h.chunked && equalFold(c, "chunked"):
			// RFC 9112 §6.1: a sender MUST NOT apply chunked more than once
			// (corpus invalid/chunked_03, _04).
			return errTE
		case h.chunked:
			// RFC 9112 §6.3: chunked must be the final coding; 400 and close
			// (corpus invalid/chunked_06, _08).
			return errTENotChunked
		case equalFold(c, "chunked"):
			h.chunked = true
		case equalFold(c, "identity"):
			// Removed from the registry by RFC 7230, but a no-op under a final
			// chunked, so accepted there like gunicorn (corpus valid/029,
			// rfc9112_smuggle_te_identity_chunked_01). Alone it is not
			// chunked-final, which finish refuses (corpus valid/009).
		case equalFold(c, "gzip"), equalFold(c, "x-gzip"), equalFold(c, "deflate"),
			equalFold(c, "compress"), equalFold(c, "x-compress"):
			// RFC 9112 §7: registered codings; the body is de-chunked and the
			// coding left for the application (corpus valid/025, 025_line).
			h.teCoded = true
		default:
			// A coding we do not understand, including one with parameters
			// ("chunked;q=1"). finish decides between 400 (not ending in
			// chunked) and 501 (ending in chunked), once all lines are seen.
			h.teUnknown = true
		}
	}
	return nil
}

// nextListElem returns the first OWS-trimmed element of a comma-separated
// list (RFC 9110 §5.6.1), the rest after the comma, and whether there was
// a comma (so "a," has a second, empty element).
func nextListElem(v []byte) (elem, rest []byte, more bool) {
	if i := bytes.IndexByte(v, ','); i >= 0 {
		return trimOWS(v[:i]), v[i+1:], true
	}
	return trimOWS(v), nil, false
}

// parseContentLength parses Content-Length = 1*DIGIT (RFC 9110 §8.6).
// Signs, spaces, underscores, lists and empty values are refused
// (corpus invalid/014, 015, 022, 023, 024, prefix_03, prefix_04).
func parseContentLength(v []byte) (int64, error) {
	if len(v) == 0 {
		return 0, errContentLength
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, errContentLength
		}
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			// RFC 9110 §8.6: a recipient must anticipate large numbers and
			// prevent overflow; a body that cannot be counted is too large.
			return 0, errCLTooLarge
		}
		n = n*10 + d
	}
	return n, nil
}

// finish decides the message framing (RFC 9112 §6) and connection
// persistence (RFC 9112 §9.3) once all fields are seen.
func (h *headState) finish(req *Request) error {
	if h.sawTE {
		if req.Minor == 0 {
			// RFC 9112 §6.1: a server "that receives an HTTP/1.0 message
			// containing a Transfer-Encoding header field MUST treat the
			// message as if the framing is faulty, even if a Content-Length is
			// present, and close the connection after processing the message".
			// Faulty framing gets 400 and a close, as in §6.3; whatever the
			// codings, Content-Length never frames it (invalid/chunked_05).
			return errTEHTTP10
		}
		switch {
		case !h.chunked:
			// RFC 9112 §6.3: "If a Transfer-Encoding header field is present in
			// a request and the chunked transfer coding is not the final
			// encoding, the message body length cannot be determined reliably;
			// the server MUST respond with the 400 (Bad Request) status code and
			// then close the connection." That includes a lone "identity"
			// (corpus valid/009, which gunicorn's parser accepts): such a
			// request never falls back to Content-Length framing.
			return errTENotChunked
		case h.teUnknown:
			// RFC 9112 §6.1: "A server that receives a request message with a
			// transfer coding it does not understand SHOULD respond with 501".
			return errTEUnknown
		case h.sawCL:
			// RFC 9112 §6.1: a server MAY reject a request with both;
			// it is the classic CL.TE smuggling vector, so we do
			// (invalid/chunked_02, rfc9112_smuggle_cl_te_chunked_01).
			return errTECL
		}
		req.Chunked = true
		req.TransferCoded = h.teCoded
	}
	if req.Minor >= 1 && !h.sawHost {
		// RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request)
		// status code to any HTTP/1.1 request message that lacks a Host
		// header field". gunicorn's parser accepts one (corpus valid/004 and
		// others); a server may not. An HTTP/1.0 request needs no Host: the
		// WSGI layer falls back to SERVER_NAME, as it does for an empty Host.
		return errNoHost
	}
	if req.Minor >= 1 {
		req.KeepAlive = !h.close // RFC 9112 §9.3
	} else {
		req.KeepAlive = h.keepAlive && !h.close // RFC 9112 §9.3, RFC 2068 §19.7.1
	}
	return nil
}

// ValidHost reports whether h is a valid Host field value, uri-host [ ":" port ]
// (RFC 9110 §7.2, RFC 3986 §3.2.2-3.2.3), with a non-empty host. Package proxy
// checks forwarded hosts with it, by the same rule as Host itself.
func ValidHost(h []byte) bool {
	host, _, ok := splitHostPort(h)
	return ok && len(host) > 0
}
