package http1

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// status returns the status of an *Error, 0 for nil, -1 for ErrNeedMore
// and -2 for anything else.
func status(err error) int {
	var he *Error
	switch {
	case err == nil:
		return 0
	case err == ErrNeedMore:
		return -1
	case errors.As(err, &he):
		return he.Status
	}
	return -2
}

const needMore = -1

func TestParseHeadStatus(t *testing.T) {
	tests := []struct {
		in   string
		want int // 0: accepted; needMore: ErrNeedMore; else the *Error status
	}{
		// RFC 9112 §2.2: lines end in CRLF; bare LF and bare CR are refused.
		{"GET / HTTP/1.1\r\nHost: h\r\n\r\n", 0},
		{"GET / HTTP/1.1\n\n", 400},
		{"GET / HTTP/1.1\r\nHost: a\n\r\n", 400},
		{"GET / HTTP/1.1\r\nHost: a\r\n\n", 400},
		{"GET / HTTP/1.1\rHost: a\r\n\r\n", 400},
		{"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400},
		{"GET / HTTP/1.1\r\nHo\rst: a\r\nHost: h\r\n\r\n", 400},
		// RFC 9112 §2.2: empty lines before the request line are ignored...
		{"\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", 0},
		// ...but a bare LF there is not an empty line.
		{"\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"\r\n\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		// Incomplete heads.
		{"", needMore},
		{"\r", needMore},
		{"\r\n", needMore},
		{"GET / HTTP/1.1", needMore},
		{"GET / HTTP/1.1\r", needMore},
		{"GET / HTTP/1.1\r\n", needMore},
		{"GET / HTTP/1.1\r\nHost: a\r\n", needMore},
		{"GET / HTTP/1.1\r\nHost: a\r\n\r", needMore},
		// RFC 9112 §3: method SP request-target SP HTTP-version, single SPs.
		{"GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"GET /  HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"GET / HTTP/1.1 \r\n\r\n", 400},
		{" GET / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"GET /\r\n\r\n", 400}, // HTTP/0.9 simple request
		{"GET HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		// RFC 9110 §9.1 method = token, plus gunicorn's policy: 3-20
		// characters, no lower case, no '#'.
		{"PATCH / HTTP/1.1\r\nHost: h\r\n\r\n", 0},
		{"-BLARGH / HTTP/1.1\r\nHost: h\r\n\r\n", 0},
		{"M-SEARCH * HTTP/1.1\r\nHost: h\r\n\r\n", 400}, // asterisk-form is OPTIONS only
		{"get / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"GE / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"ABCDEFGHIJKLMNOPQRSTU / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"ABCDEFGHIJKLMNOPQRST / HTTP/1.1\r\nHost: h\r\n\r\n", 0},
		{"GE#T / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"GE(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"GET\x00 / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"G\xc3\x9fT / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		// RFC 9112 §3.2.1 origin-form must start with '/'.
		{"GET foo/bar HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"GET ?x HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		// RFC 9112 §3.2: no CTL or whitespace in the target; obs-text is
		// accepted like gunicorn (corpus valid/027).
		{"GET /a\x00b HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"GET /a\x7fb HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"GET /a\tb HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"GET /\xc3\xa0 HTTP/1.1\r\nHost: h\r\n\r\n", 0},
		// RFC 9112 §3.2.2 absolute-form: http(s) with a non-empty host
		// (RFC 9110 §4.2.1).
		{"GET http://h/p HTTP/1.1\r\nHost: h\r\n\r\n", 0},
		{"GET HTTPS://h:8443 HTTP/1.1\r\nHost: h\r\n\r\n", 0},
		{"GET http:///p HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"GET http://h:x/p HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"GET http://]h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"GET http://[::1/ HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"GET http://[::1]x/ HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"GET ftp://h/p HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"GET s://]ufd/: HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		// RFC 9112 §3.2.3 authority-form, only and always for CONNECT.
		{"CONNECT h:443 HTTP/1.1\r\nHost: h\r\n\r\n", 0},
		{"CONNECT [::1]:443 HTTP/1.1\r\nHost: h\r\n\r\n", 0},
		{"CONNECT h HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"CONNECT h: HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"CONNECT u@h:443 HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"CONNECT / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"GET h:443 HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		// RFC 9112 §3.2.4 asterisk-form, only for OPTIONS.
		{"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", 0},
		{"GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"OPTIONS ** HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		// RFC 9112 §2.3 HTTP-version = "HTTP/" DIGIT "." DIGIT; 505 for a
		// version we do not speak (RFC 9110 §15.6.6).
		{"GET / HTTP/1.0\r\n\r\n", 0},
		{"GET / HTTP/2.0\r\n\r\n", 505},
		{"GET / HTTP/1.2\r\n\r\n", 505},
		{"GET / HTTP/0.9\r\n\r\n", 505},
		{"GET / http/1.1\r\n\r\n", 400},
		{"GET / HTTP/1.10\r\n\r\n", 400},
		{"GET / HTTP/1\r\n\r\n", 400},
		{"GET / HTTP/1.x\r\n\r\n", 400},
		{"GET / HTTP/111\r\n\r\n", 400},
		// RFC 9110 §5.1 field-name = token; RFC 9112 §5.1 no whitespace
		// before the colon.
		{"GET / HTTP/1.1\r\nX-A: b\r\nHost: h\r\n\r\n", 0},
		{"GET / HTTP/1.1\r\nX-A : b\r\nHost: h\r\n\r\n", 400},
		{"GET / HTTP/1.1\r\nX-A\t: b\r\nHost: h\r\n\r\n", 400},
		{"GET / HTTP/1.1\r\n: b\r\nHost: h\r\n\r\n", 400},
		{"GET / HTTP/1.1\r\nX A: b\r\nHost: h\r\n\r\n", 400},
		{"GET / HTTP/1.1\r\nX(A): b\r\nHost: h\r\n\r\n", 400},
		{"GET / HTTP/1.1\r\nX-\x00A: b\r\nHost: h\r\n\r\n", 400},
		{"GET / HTTP/1.1\r\nX-A\r\nHost: h\r\n\r\n", 400},
		// RFC 9112 §5.2 obs-fold is refused (and §2.2 whitespace before the
		// first field).
		{"GET / HTTP/1.1\r\nX-A: b\r\n c\r\nHost: h\r\n\r\n", 400},
		{"GET / HTTP/1.1\r\nX-A: b\r\n\tc\r\nHost: h\r\n\r\n", 400},
		{"GET / HTTP/1.1\r\n X-A: b\r\nHost: h\r\n\r\n", 400},
		// RFC 9110 §5.5 field values: VCHAR, obs-text, SP, HTAB.
		{"GET / HTTP/1.1\r\nX-A: b\x00c\r\nHost: h\r\n\r\n", 400},
		{"GET / HTTP/1.1\r\nX-A: b\x07c\r\nHost: h\r\n\r\n", 400},
		{"GET / HTTP/1.1\r\nX-A: b\x7fc\r\nHost: h\r\n\r\n", 400},
		{"GET / HTTP/1.1\r\nX-A: b\x1bc\r\nHost: h\r\n\r\n", 400},
		{"GET / HTTP/1.1\r\nX-A: b\tc \xff\r\nHost: h\r\n\r\n", 0},
		{"GET / HTTP/1.1\r\nX-A:\r\nHost: h\r\n\r\n", 0},
		// RFC 9110 §8.6 Content-Length = 1*DIGIT; duplicates refused
		// (gunicorn policy beyond RFC 9112 §6.3).
		{"POST / HTTP/1.1\r\nContent-Length: 0\r\nHost: h\r\n\r\n", 0},
		{"POST / HTTP/1.1\r\nContent-Length: 007\r\nHost: h\r\n\r\n", 0},
		{"POST / HTTP/1.1\r\nContent-Length:\r\nHost: h\r\n\r\n", 400},
		{"POST / HTTP/1.1\r\nContent-Length: -1\r\nHost: h\r\n\r\n", 400},
		{"POST / HTTP/1.1\r\nContent-Length: +1\r\nHost: h\r\n\r\n", 400},
		{"POST / HTTP/1.1\r\nContent-Length: 1 2\r\nHost: h\r\n\r\n", 400},
		{"POST / HTTP/1.1\r\nContent-Length: 0x10\r\nHost: h\r\n\r\n", 400},
		{"POST / HTTP/1.1\r\nContent-Length: 5, 5\r\nHost: h\r\n\r\n", 400},
		{"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\nHost: h\r\n\r\n", 400},
		{"POST / HTTP/1.1\r\nContent-Length: 9223372036854775807\r\nHost: h\r\n\r\n", 0},
		{"POST / HTTP/1.1\r\nContent-Length: 9223372036854775808\r\nHost: h\r\n\r\n", 413},
		{"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\nHost: h\r\n\r\n", 413},
		// header_map=drop: an underscore name is dropped before it can
		// count as Content-Length (corpus valid/040; CGI name clash).
		{"POST / HTTP/1.1\r\nContent_Length: x\r\nContent-Length: 1\r\nHost: h\r\n\r\n", 0},
		{"POST / HTTP/1.1\r\nTransfer_Encoding: chunked\r\nContent-Length: 1\r\nHost: h\r\n\r\n", 0},
		// ...but it must still be a valid field.
		{"POST / HTTP/1.1\r\nX_A: \x00\r\nHost: h\r\n\r\n", 400},
		// Transfer-Encoding and Host: TestParseHeadFraming.
		// gunicorn policy: duplicate Content-Type (corpus invalid/041).
		{"GET / HTTP/1.1\r\nContent-Type: a\r\nContent-type: b\r\nHost: h\r\n\r\n", 400},
	}
	for _, tt := range tests {
		var req Request
		n, err := ParseHead([]byte(tt.in), nil, &req)
		if got := status(err); got != tt.want {
			t.Errorf("ParseHead(%q) = %d, %v; want status %d", tt.in, n, err, tt.want)
			continue
		}
		if err == nil && n != len(tt.in) {
			t.Errorf("ParseHead(%q) consumed %d; want %d", tt.in, n, len(tt.in))
		}
		if err != nil && n != 0 {
			t.Errorf("ParseHead(%q) = %d on error; want 0", tt.in, n)
		}
	}
}

// TestParseHeadFraming checks the rules that decide whether a request's body can be
// delimited and the request served at all: Transfer-Encoding (RFC 9112 §6.1, §6.3) and Host
// (RFC 9112 §3.2). Each rejected row names the error it must fail with, so that it cannot
// pass because of another rule; each accepted row says how the body is framed.
func TestParseHeadFraming(t *testing.T) {
	// post returns an HTTP/1.1 POST head with a Host and the given field lines.
	post := func(fields ...string) string {
		return "POST / HTTP/1.1\r\nHost: h\r\n" + strings.Join(fields, "") + "\r\n"
	}
	const te, cl = "Transfer-Encoding: ", "Content-Length: "
	type framing struct {
		chunked, coded bool
		cl             int64
	}
	tests := []struct {
		in   string
		err  *Error  // nil: accepted, framed as want
		want framing // when accepted
	}{
		// RFC 9112 §6.1: chunked as the final coding frames the body. Coding names are
		// case-insensitive (RFC 9112 §7), and so are field names (RFC 9110 §5.1).
		{post(te + "chunked\r\n"), nil, framing{true, false, -1}},
		{post(te + "CHUNKED\r\n"), nil, framing{true, false, -1}},
		{post(te + "Chunked\r\n"), nil, framing{true, false, -1}},
		{post("transfer-ENCODING: chunked\r\n"), nil, framing{true, false, -1}},
		// RFC 9112 §7: a registered coding under the final chunked reaches the app coded.
		{post(te + "gzip, chunked\r\n"), nil, framing{true, true, -1}},
		{post(te + "GZIP ,\tChunked\r\n"), nil, framing{true, true, -1}},
		{post(te + "deflate, chunked\r\n"), nil, framing{true, true, -1}},
		// RFC 9110 §5.3: several field lines form one list, in order.
		{post(te+"gzip\r\n", te+"chunked\r\n"), nil, framing{true, true, -1}},
		{post(te+"gzip\r\n", "X: y\r\n", te+"chunked\r\n"), nil, framing{true, true, -1}},
		// identity under a final chunked is a no-op (corpus valid/029,
		// rfc9112_smuggle_te_identity_chunked_01).
		{post(te + "identity, chunked\r\n"), nil, framing{true, false, -1}},
		{post(te+"identity\r\n", te+"chunked\r\n"), nil, framing{true, false, -1}},
		// No Transfer-Encoding: Content-Length, or no body (RFC 9112 §6.3).
		{post(cl + "5\r\n"), nil, framing{false, false, 5}},
		{post(), nil, framing{false, false, -1}},

		// RFC 9112 §6.3: Transfer-Encoding whose final coding is not chunked: 400 and close,
		// never Content-Length framing. identity alone is no exception (corpus valid/009).
		{post(te + "identity\r\n"), errTENotChunked, framing{}},
		{post(te+"identity\r\n", cl+"1\r\n"), errTENotChunked, framing{}},
		{post(cl+"1\r\n", te+"identity\r\n"), errTENotChunked, framing{}},
		{post(te + "IDENTITY\r\n"), errTENotChunked, framing{}},
		{post(te + "identity, identity\r\n"), errTENotChunked, framing{}},
		{post(te + "gzip\r\n"), errTENotChunked, framing{}},
		{post(te+"gzip\r\n", cl+"1\r\n"), errTENotChunked, framing{}},
		{post(te + "chunked, identity\r\n"), errTENotChunked, framing{}},
		{post(te + "chunked, gzip\r\n"), errTENotChunked, framing{}},
		{post(te+"chunked\r\n", te+"identity\r\n"), errTENotChunked, framing{}}, // corpus invalid/chunked_08
		{post(te+"chunked\r\n", te+"gzip\r\n"), errTENotChunked, framing{}},     // corpus invalid/chunked_06
		// A coding we do not know that is not followed by chunked: the body length
		// cannot be determined, so §6.3's 400 rather than §6.1's 501.
		{post(te + "xchunked\r\n"), errTENotChunked, framing{}},
		{post(te + "chunked;q=1\r\n"), errTENotChunked, framing{}}, // chunked has no parameters
		{post(te + "\"chunked\"\r\n"), errTENotChunked, framing{}}, // quoted: not a token
		{post(te+"br\r\n", cl+"3\r\n"), errTENotChunked, framing{}},
		// RFC 9112 §6.1: "A server that receives a request message with a transfer coding
		// it does not understand SHOULD respond with 501"; chunked is final, so the body
		// could be delimited.
		{post(te + "br, chunked\r\n"), errTEUnknown, framing{}},
		{post(te+"xchunked\r\n", te+"chunked\r\n"), errTEUnknown, framing{}},
		// RFC 9112 §6.1: a sender MUST NOT apply chunked more than once.
		{post(te + "chunked, chunked\r\n"), errTE, framing{}},
		{post(te+"chunked\r\n", te+"CHUNKED\r\n"), errTE, framing{}},
		// Empty values and list elements are refused in this framing field, although
		// RFC 9110 §5.6.1 lets other lists skip empty elements.
		{post(te + "\r\n"), errTE, framing{}},
		{post(te + " \t \r\n"), errTE, framing{}},
		{post(te+"chunked\r\n", te+"\r\n"), errTE, framing{}},
		{post(te + "chunked,\r\n"), errTE, framing{}},
		{post(te + ",chunked\r\n"), errTE, framing{}},
		{post(te + "gzip,,chunked\r\n"), errTE, framing{}},
		// RFC 9112 §6.1: a server MAY refuse both Transfer-Encoding and Content-Length;
		// the pair is the classic smuggling vector, so it does.
		{post(te+"chunked\r\n", cl+"1\r\n"), errTECL, framing{}},
		{post(cl+"1\r\n", te+"chunked\r\n"), errTECL, framing{}},
		{post(te+"gzip, chunked\r\n", cl+"0\r\n"), errTECL, framing{}},
		// RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing,
		// whatever its codings, "even if a Content-Length is present": 400 and close.
		{"POST / HTTP/1.0\r\n" + te + "chunked\r\n\r\n", errTEHTTP10, framing{}},
		{"POST / HTTP/1.0\r\nHost: h\r\n" + te + "chunked\r\n\r\n", errTEHTTP10, framing{}},
		{"POST / HTTP/1.0\r\n" + te + "identity\r\n" + cl + "1\r\n\r\n", errTEHTTP10, framing{}},
		{"POST / HTTP/1.0\r\n" + te + "gzip\r\n\r\n", errTEHTTP10, framing{}},
		{"POST / HTTP/1.0\r\n" + te + "xchunked\r\n\r\n", errTEHTTP10, framing{}},

		// RFC 9112 §3.2: 400 for an HTTP/1.1 request without Host, whatever the form of
		// its target (absolute-form included), ...
		{"GET / HTTP/1.1\r\n\r\n", errNoHost, framing{}},
		{"GET / HTTP/1.1\r\nX: y\r\n\r\n", errNoHost, framing{}},
		{"GET http://h/ HTTP/1.1\r\n\r\n", errNoHost, framing{}},
		{"CONNECT h:443 HTTP/1.1\r\n\r\n", errNoHost, framing{}},
		{"OPTIONS * HTTP/1.1\r\n\r\n", errNoHost, framing{}},
		{"POST / HTTP/1.1\r\n" + te + "chunked\r\n\r\n", errNoHost, framing{}},
		{"GET / HTTP/1.1\r\nHo_st: h\r\n\r\n", errNoHost, framing{}}, // dropped (header_map=drop): no Host
		// ...accepted with one, in any case, also with an empty value (a target URI without
		// authority), and not required in HTTP/1.0.
		{"GET / HTTP/1.1\r\nHost: h\r\n\r\n", nil, framing{false, false, -1}},
		{"GET / HTTP/1.1\r\nhOST: h:80\r\n\r\n", nil, framing{false, false, -1}},
		{"GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", nil, framing{false, false, -1}},
		{"GET / HTTP/1.1\r\nHost:\r\n\r\n", nil, framing{false, false, -1}},
		{"GET http://h/ HTTP/1.1\r\nHost: h\r\n\r\n", nil, framing{false, false, -1}},
		{"GET / HTTP/1.0\r\n\r\n", nil, framing{false, false, -1}},
		// RFC 9112 §3.2: 400 for more than one Host line or an invalid value (corpus
		// invalid/042).
		{"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", errDupHost, framing{}},
		{"GET / HTTP/1.1\r\nHOST: a\r\nhost: b\r\n\r\n", errDupHost, framing{}},
		{"GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", errDupHost, framing{}},
		{"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", errHost, framing{}},
		{"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", errHost, framing{}},
		{"GET / HTTP/1.1\r\nHost: a:x\r\n\r\n", errHost, framing{}},
	}
	for _, tt := range tests {
		var req Request
		_, err := ParseHead([]byte(tt.in), nil, &req)
		if tt.err != nil {
			if err != tt.err {
				t.Errorf("ParseHead(%q) = %v; want %v", tt.in, err, tt.err)
			}
			continue
		}
		got := framing{req.Chunked, req.TransferCoded, req.ContentLength}
		if err != nil || got != tt.want {
			t.Errorf("ParseHead(%q) = %+v, %v; want %+v, nil", tt.in, got, err, tt.want)
		}
	}
}

func TestParseHeadFields(t *testing.T) {
	type want struct {
		method, target, path, query, fragment string
		minor                                 int
		headers                               string // "name=value|..."
		cl                                    int64
		chunked, keepAlive, expect100         bool
	}
	tests := []struct {
		in   string
		want want
	}{
		// RFC 9112 §3.2.1 origin-form, path and query split at the first '?'.
		{"GET /a/b?c=d?e HTTP/1.1\r\nHost: h\r\n\r\n", want{"GET", "/a/b?c=d?e", "/a/b", "c=d?e", "", 1, "Host=h", -1, false, true, false}},
		// Fragment: not part of origin-form but accepted (corpus valid/005).
		{"GET /a?q#f?g HTTP/1.1\r\nHost: h\r\n\r\n", want{"GET", "/a?q#f?g", "/a", "q", "f?g", 1, "Host=h", -1, false, true, false}},
		{"GET /a#f HTTP/1.1\r\nHost: h\r\n\r\n", want{"GET", "/a#f", "/a", "", "f", 1, "Host=h", -1, false, true, false}},
		// RFC 9112 §3.2.2 absolute-form: Path is the path part.
		{"GET http://u:p@h:1/x?y HTTP/1.1\r\nHost: h\r\n\r\n", want{"GET", "http://u:p@h:1/x?y", "/x", "y", "", 1, "Host=h", -1, false, true, false}},
		{"GET http://h?y HTTP/1.1\r\nHost: h\r\n\r\n", want{"GET", "http://h?y", "", "y", "", 1, "Host=h", -1, false, true, false}},
		// RFC 9112 §3.2.3 authority-form: no path.
		{"CONNECT h:443 HTTP/1.1\r\nHost: h\r\n\r\n", want{"CONNECT", "h:443", "", "", "", 1, "Host=h", -1, false, true, false}},
		// RFC 9112 §3.2.4 asterisk-form.
		{"OPTIONS * HTTP/1.0\r\n\r\n", want{"OPTIONS", "*", "*", "", "", 0, "", -1, false, false, false}},
		// RFC 9110 §5.5: OWS trimmed, inner whitespace kept; order kept;
		// '_' names dropped (gunicorn header_map=drop).
		{"GET / HTTP/1.1\r\nA: \t x  y \t\r\nX_Y: 1\r\nb:2\r\nA: z\r\nHost: h\r\n\r\n", want{"GET", "/", "/", "", "", 1, "A=x  y|b=2|A=z|Host=h", -1, false, true, false}},
		// RFC 9112 §9.3 persistence.
		{"GET / HTTP/1.1\r\nConnection: close\r\nHost: h\r\n\r\n", want{"GET", "/", "/", "", "", 1, "Connection=close|Host=h", -1, false, false, false}},
		{"GET / HTTP/1.1\r\nConnection: Upgrade, CLOSE\r\nHost: h\r\n\r\n", want{"GET", "/", "/", "", "", 1, "Connection=Upgrade, CLOSE|Host=h", -1, false, false, false}},
		{"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", want{"GET", "/", "/", "", "", 0, "Connection=keep-alive", -1, false, true, false}},
		{"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", want{"GET", "/", "/", "", "", 0, "Connection=keep-alive, close", -1, false, false, false}},
		{"GET / HTTP/1.0\r\n\r\n", want{"GET", "/", "/", "", "", 0, "", -1, false, false, false}},
		// RFC 9110 §10.1.1 Expect: 100-continue, case-insensitive, ignored in HTTP/1.0.
		{"POST / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 3\r\nHost: h\r\n\r\n", want{"POST", "/", "/", "", "", 1, "Expect=100-Continue|Content-Length=3|Host=h", 3, false, true, true}},
		{"POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", want{"POST", "/", "/", "", "", 0, "Expect=100-continue", -1, false, false, false}},
		// RFC 9112 §6.1: chunked is the final coding.
		{"POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\nHost: h\r\n\r\n", want{"POST", "/", "/", "", "", 1, "Transfer-Encoding=identity|Transfer-Encoding=chunked|Host=h", -1, true, true, false}},
	}
	for _, tt := range tests {
		var req Request
		_, err := ParseHead([]byte(tt.in), nil, &req)
		if err != nil {
			t.Errorf("ParseHead(%q) = %v; want success", tt.in, err)
			continue
		}
		var hs []string
		for _, h := range req.Headers {
			hs = append(hs, string(h.Name)+"="+string(h.Value))
		}
		got := want{string(req.Method), string(req.Target), string(req.Path), string(req.Query), string(req.Fragment),
			req.Minor, strings.Join(hs, "|"), req.ContentLength, req.Chunked, req.KeepAlive, req.Expect100}
		if got != tt.want {
			t.Errorf("ParseHead(%q) = %+v; want %+v", tt.in, got, tt.want)
		}
	}
}

func TestParseHeadLimits(t *testing.T) {
	line := func(n int) string { // a request line of exactly n bytes incl. CRLF
		// HTTP/1.0, so that a head needs no Host field besides the ones counted.
		return "GET /" + strings.Repeat("a", n-len("GET / HTTP/1.0\r\n")) + " HTTP/1.0\r\n"
	}
	field := func(n int) string { // a header line of exactly n bytes incl. CRLF
		return "X: " + strings.Repeat("v", n-len("X: \r\n")) + "\r\n"
	}
	fields := func(n int) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "X-%d: v\r\n", i)
		}
		return b.String()
	}
	lim := &Limits{RequestLine: 100, Fields: 5, FieldSize: 50, HeaderBlock: 400}
	tests := []struct {
		in   string
		lim  *Limits
		want int
	}{
		// RFC 9112 §3: 414 for a request line over the limit (gunicorn
		// --limit-request-line counts the CRLF).
		{line(100) + "\r\n", lim, 0},
		{line(101) + "\r\n", lim, 414},
		{line(101)[:100], lim, 414}, // incomplete but already too long
		{line(101)[:99], lim, needMore},
		{line(8190) + "\r\n", nil, 0},
		{line(8191) + "\r\n", nil, 414},
		// RFC 6585 §5: 431 for a header line over the limit.
		{line(20) + field(50) + "\r\n", lim, 0},
		{line(20) + field(51) + "\r\n", lim, 431},
		{line(20) + field(51)[:50], lim, 431},
		{line(20) + field(51)[:49], lim, needMore},
		{line(20) + field(8190) + "\r\n", nil, 0},
		{line(20) + field(8191) + "\r\n", nil, 431},
		// 431 for too many fields; dropped '_' fields count too.
		{line(20) + fields(5) + "\r\n", lim, 0},
		{line(20) + fields(6) + "\r\n", lim, 431},
		{line(20) + "A_B: 1\r\n" + fields(5) + "\r\n", lim, 431},
		{line(20) + fields(100) + "\r\n", nil, 0},
		{line(20) + fields(101) + "\r\n", nil, 431},
		// 431 for a head over HeaderBlock, complete or not.
		{line(20) + field(100) + field(78) + "\r\n", &Limits{HeaderBlock: 200}, 0},    // exactly 200 bytes
		{line(20) + field(100) + field(79) + "\r\n", &Limits{HeaderBlock: 200}, 431},  // 201 bytes
		{line(20) + field(100) + field(79)[:70], &Limits{HeaderBlock: 190}, 431},      // incomplete, already over
		{line(20) + field(100) + field(79)[:69], &Limits{HeaderBlock: 190}, needMore}, // incomplete, 189 bytes
		{strings.Repeat("\r\n", 200) + line(20) + "\r\n", lim, 431},                   // leading empty lines count
		{strings.Repeat("\r\n", 199) + line(20)[:2], lim, 431},                        // ...even incomplete
	}
	for i, tt := range tests {
		var req Request
		_, err := ParseHead([]byte(tt.in), tt.lim, &req)
		if got := status(err); got != tt.want {
			t.Errorf("%d: ParseHead(%.40q... len %d, %+v) = %v; want status %d", i, tt.in, len(tt.in), tt.lim, err, tt.want)
		}
	}
}

// TestParseHeadHeaderMap checks the policy for names with '_' (gunicorn's
// header_map): in CGI/WSGI "Content_Length" and "Content-Length" are the
// same key, so by default such a name never reaches the app.
func TestParseHeadHeaderMap(t *testing.T) {
	const in = "POST / HTTP/1.1\r\nContent-Length: 2\r\nContent_Length: 99\r\nX_Y: 1\r\nHost: h\r\n\r\n"
	tests := []struct {
		m       HeaderMap
		status  int    // 0: parsed
		headers string // "name=value|..." when parsed
		fwd     string // names Limits.Forwarder keeps, space-separated
	}{
		// header_map=drop (the zero value): dropped silently (corpus valid/040).
		{HeaderMapDrop, 0, "Content-Length=2|Host=h", ""},
		// header_map=refuse: 400, like gunicorn's InvalidHeaderName (corpus invalid/040).
		{HeaderMapRefuse, 400, "", ""},
		// header_map=dangerous: kept, and never taken for a framing field:
		// Content_Length does not change the body length (corpus valid/040_compat).
		{HeaderMapDangerous, 0, "Content-Length=2|Content_Length=99|X_Y=1|Host=h", ""},
		// A trusted proxy's forwarder headers (gunicorn's forwarder_headers) are kept
		// whatever the policy says; the others follow it.
		{HeaderMapDrop, 0, "Content-Length=2|X_Y=1|Host=h", "X_Y"},
		{HeaderMapRefuse, 0, "Content-Length=2|Content_Length=99|X_Y=1|Host=h", "X_Y Content_Length"},
		{HeaderMapRefuse, 400, "", "X_Y"},
	}
	for _, tt := range tests {
		var req Request
		lim := Limits{HeaderMap: tt.m}
		if tt.fwd != "" {
			lim.Forwarder = func(name []byte) bool { return slices.Contains(strings.Fields(tt.fwd), string(name)) }
		}
		_, err := ParseHead([]byte(in), &lim, &req)
		if got := status(err); got != tt.status {
			t.Errorf("ParseHead(%q, HeaderMap %d) = %v; want status %d", in, tt.m, err, tt.status)
			continue
		}
		if err != nil {
			continue
		}
		var hs []string
		for _, h := range req.Headers {
			hs = append(hs, string(h.Name)+"="+string(h.Value))
		}
		if got := strings.Join(hs, "|"); got != tt.headers || req.ContentLength != 2 {
			t.Errorf("ParseHead(%q, HeaderMap %d) = headers %q, Content-Length %d; want %q, 2", in, tt.m, got, req.ContentLength, tt.headers)
		}
	}
}

// TestParseHeadPrefixes feeds every prefix of valid heads: each must give
// ErrNeedMore, never an error or a result, until the head is complete.
func TestParseHeadPrefixes(t *testing.T) {
	for _, in := range []string{
		"\r\nGET /a?b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n",
		"POST http://h/ HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\nX_Y: z\r\nHost: h\r\n\r\n",
	} {
		var req Request
		for i := 0; i < len(in); i++ {
			if n, err := ParseHead([]byte(in[:i]), nil, &req); err != ErrNeedMore {
				t.Errorf("ParseHead(%q) = %d, %v; want ErrNeedMore", in[:i], n, err)
			}
		}
		if n, err := ParseHead([]byte(in+"BODY"), nil, &req); n != len(in) || err != nil {
			t.Errorf("ParseHead(%q) = %d, %v; want %d, nil", in+"BODY", n, err, len(in))
		}
	}
}

// TestParseHeadReuse checks that a reused Request is fully reset and keeps
// its Headers array.
func TestParseHeadReuse(t *testing.T) {
	var req Request
	in1 := "POST /x?y HTTP/1.1\r\nA: 1\r\nB: 2\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\nHost: h\r\n\r\n"
	if _, err := ParseHead([]byte(in1), nil, &req); err != nil {
		t.Fatal(err)
	}
	first := &req.Headers[0]
	in2 := "GET / HTTP/1.0\r\nC: 3\r\n\r\n"
	if _, err := ParseHead([]byte(in2), nil, &req); err != nil {
		t.Fatal(err)
	}
	if &req.Headers[0] != first {
		t.Errorf("ParseHead reallocated Headers")
	}
	if len(req.Headers) != 1 || req.Chunked || req.Expect100 || req.KeepAlive || req.ContentLength != -1 || len(req.Query) != 0 {
		t.Errorf("ParseHead(%q) after %q = %+v; want a fresh request", in2, in1, req)
	}
}

func TestErrorDoesNotEcho(t *testing.T) {
	secret := "SECRET<script>"
	for _, in := range []string{
		"GET /" + secret + "\x00 HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET / HTTP/1.1\r\n" + secret + " : x\r\n\r\n",
		"GET / HTTP/1.1\r\nX: " + secret + "\x01\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: " + secret + "\r\n\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: " + secret + "\r\n\r\n",
	} {
		var req Request
		_, err := ParseHead([]byte(in), nil, &req)
		if err == nil || strings.Contains(err.Error(), "SECRET") {
			t.Errorf("ParseHead(%q) error = %v; want an error without the input", in, err)
		}
	}
}

func TestDecodePath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/a%20b", "/a b"},
		{"/a%2Fb", "/a/b"}, // PATH_INFO is decoded, so "%2F" becomes '/' (PEP 3333, gunicorn)
		{"/a%2fb", "/a/b"},
		{"/a+b", "/a+b"}, // '+' is a space only in forms
		{"/%zz", "/%zz"}, // invalid escape kept, as urllib.parse.unquote_to_bytes
		{"/%4", "/%4"},   // truncated escape kept
		{"/%", "/%"},
		{"/%%41", "/%A"},
		{"/%C3%A0", "/\xc3\xa0"},
		{"/%00", "/\x00"},
		{"/\xc3\xa0%20k", "/\xc3\xa0 k"}, // corpus valid/027
		{"", ""},
	}
	for _, tt := range tests {
		if got := DecodePath([]byte("x"), []byte(tt.in)); string(got) != "x"+tt.want {
			t.Errorf("DecodePath(%q) = %q; want %q", tt.in, got[1:], tt.want)
		}
	}
}

func TestValidFieldName(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"Content-Type", true},
		{"X.Custom|Pipe", true}, // RFC 9110 §5.6.2 tchar
		{"!#$%&'*+-.^_`|~09azAZ", true},
		{"", false}, // RFC 9110 §5.6.2 token = 1*tchar
		{"X Y", false},
		{"X:Y", false},
		{"X\r\nY", false}, // header injection
		{"X\x00", false},
		{"\xc3\xa9", false},
		{"(X)", false},
	}
	for _, tt := range tests {
		if got := ValidFieldName([]byte(tt.in)); got != tt.want {
			t.Errorf("ValidFieldName(%q) = %v; want %v", tt.in, got, tt.want)
		}
	}
}

func TestValidFieldValue(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"", true},
		{"text/html; charset=utf-8", true},
		{"a\tb", true},                // RFC 9110 §5.5 HTAB allowed
		{"caf\xc3\xa9", true},         // obs-text
		{"a\r\nSet-Cookie: x", false}, // CWE-113 response splitting
		{"a\rb", false},
		{"a\nb", false},
		{"a\x00b", false},
		{"a\x7fb", false},
		{"a\x01b", false},
	}
	for _, tt := range tests {
		if got := ValidFieldValue([]byte(tt.in)); got != tt.want {
			t.Errorf("ValidFieldValue(%q) = %v; want %v", tt.in, got, tt.want)
		}
	}
}

func TestValidStatus(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"200 OK", true},
		{"200 ", true}, // empty reason-phrase, RFC 9112 §4
		{"404 Not Found", true},
		{"999 X", true},
		{"100 Continue", true},
		{"200 caf\xc3\xa9\t!", true},
		{"200", false}, // PEP 3333 requires "NNN reason"
		{"099 X", false},
		{"20 OK", false},
		{"2000 OK", false},
		{"200\tOK", false},
		{"20x OK", false},
		{" 200 OK", false},
		{"200 OK\r\nX: y", false}, // CWE-113
		{"200 O\x00K", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := ValidStatus([]byte(tt.in)); got != tt.want {
			t.Errorf("ValidStatus(%q) = %v; want %v", tt.in, got, tt.want)
		}
	}
}

func TestParseHeadNilLimitsEqualZero(t *testing.T) {
	in := []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	var a, b Request
	na, ea := ParseHead(in, nil, &a)
	nb, eb := ParseHead(in, &Limits{}, &b)
	if na != nb || ea != eb || !bytes.Equal(a.Headers[0].Value, b.Headers[0].Value) {
		t.Errorf("ParseHead with nil and zero Limits differ: %d %v / %d %v", na, ea, nb, eb)
	}
}
