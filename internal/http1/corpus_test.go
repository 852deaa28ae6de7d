package http1

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/gonicorn/gonicorn/internal/corpus"
	"github.com/gonicorn/gonicorn/internal/proxyproto"
)

// The gunicorn conformance corpus; see its README.md.
const corpusDir = "../../testdata/conformance"

type corpusCase struct {
	Name     string          `json:"name"`
	Raw      []byte          `json:"raw_b64"` // encoding/json decodes base64
	Cfg      map[string]any  `json:"gunicorn_cfg"`
	NeedsEOF bool            `json:"needs_eof"`
	Note     string          `json:"note"`
	Expect   json.RawMessage `json:"expect"`
}

type corpusRequest struct {
	Method   string      `json:"method"`
	URI      string      `json:"uri"`
	Path     string      `json:"path"`
	Query    string      `json:"query"`
	Fragment string      `json:"fragment"`
	Version  [2]int      `json:"version"`
	Headers  [][2]string `json:"headers"`
	Body     []byte      `json:"body_b64"`
}

type corpusError struct {
	Error      string `json:"error"`
	StatusHint int    `json:"status_hint"`
	Phase      string `json:"phase"`
	Before     int    `json:"requests_before_error"`
}

// deliberateStatus lists invalid cases where we answer with another status
// than gunicorn would, and why. Keyed by "invalid/NAME".
var deliberateStatus = map[string]struct {
	status int
	why    string
}{
	// RFC 9112 §3: a server that receives a request-target longer than it
	// wishes to parse MUST respond with 414; gunicorn sends 400.
	"invalid/006": {414, "RFC 9112 §3: 414 URI Too Long for an over-long request line"},
	// RFC 9110 §15.6.6: 505 for a well-formed but unsupported major version;
	// gunicorn sends 400 for every bad version.
	"invalid/version_02": {505, "RFC 9110 §15.6.6: 505 for HTTP/2.0 over HTTP/1.1 framing"},
}

// rfcRejected lists the corpus cases that RFC 9112's rules for a server reject in a request
// head although gunicorn's parser accepts them: the corpus tests a parser, not a server's
// policy, and where the two disagree the RFC wins (the corpus README lists these cases).
// before is how many requests of the case come before the rejected one; err is the error
// that head gets. A case rejected only for a missing Host is also checked as gunicorn's
// parser sees it, with a Host supplied (see view), so that what it tests besides Host (the
// fields of a valid case, the chunk error of an invalid one) stays covered.
var rfcRejected = map[string]struct {
	before int
	err    *Error
}{
	// RFC 9112 §6.3: Transfer-Encoding whose final coding is not chunked ("identity" with
	// Content-Length): 400 and close, never Content-Length framing.
	"valid/009": {0, errTENotChunked},

	// RFC 9112 §3.2: an HTTP/1.1 request without Host gets 400.
	"valid/004": {0, errNoHost}, "valid/005": {0, errNoHost}, "valid/006": {0, errNoHost},
	"valid/007": {0, errNoHost}, "valid/010": {0, errNoHost}, "valid/011": {0, errNoHost},
	"valid/012": {0, errNoHost}, "valid/013": {0, errNoHost}, "valid/014": {0, errNoHost},
	"valid/018": {0, errNoHost}, "valid/021": {0, errNoHost}, "valid/023": {0, errNoHost},
	"valid/025": {0, errNoHost}, "valid/025_line": {0, errNoHost}, "valid/029": {0, errNoHost},
	"valid/030": {0, errNoHost}, "valid/031": {0, errNoHost}, "valid/100": {0, errNoHost},
	"valid/pp_02": {0, errNoHost},
	"valid/022":   {1, errNoHost}, // the second of two pipelined requests has no Host
	// Bad chunked bodies behind a head without Host: the head is refused before the body.
	"invalid/chunked_01": {0, errNoHost}, "invalid/chunked_09": {0, errNoHost},
	"invalid/chunked_10": {0, errNoHost}, "invalid/chunked_11": {0, errNoHost},
	"invalid/chunked_12": {0, errNoHost}, "invalid/chunked_13": {0, errNoHost},
	"invalid/chunked_14": {0, errNoHost},
}

// view is how a test reads a corpus case.
type view int

const (
	// serverView is gonicorn's: every rule of RFC 9112 for a server applies.
	serverView view = iota
	// parserView is gunicorn's parser's: an HTTP/1.1 head without Host gets one supplied
	// (suppliedHost, after the request line) and hidden again from the result.
	parserView
)

const suppliedHost = "Host: supplied.invalid\r\n"

// specialCases are handled outside the plain rules, with the reason.
var specialCases = map[string]string{
	// Content-Length 17914 with 8599 body bytes then EOF: gunicorn's test
	// reader accepts the short body. Over a socket the server would wait
	// and then fail the body read; here we check the head and the bytes
	// that did arrive, and that the body read reports io.ErrUnexpectedEOF.
	"valid/099": "short body at EOF",
}

// gunicornLimits are gunicorn's default limits: the corpus was written
// for them (invalid/006 has a 4114-byte request line that only exceeds
// gunicorn's 4094, not our 8190 default).
func gunicornLimits() Limits {
	return Limits{RequestLine: 4094, Fields: 100, FieldSize: 8190}
}

// corpusLimits maps a case's gunicorn_cfg onto Limits, or reports that
// the case needs a setting we do not have (or, like forwarded_allow_ips,
// one that is not the parser's: invalid/019 is checked by package proxy and
// end to end).
func corpusLimits(cfg map[string]any) (Limits, bool) {
	lim := gunicornLimits()
	for k, v := range cfg {
		n, isNum := v.(float64)
		switch {
		case k == "limit_request_line" && isNum:
			lim.RequestLine = int(n)
		case k == "limit_request_fields" && isNum:
			lim.Fields = int(n)
		case k == "limit_request_field_size" && isNum:
			lim.FieldSize = int(n) // 0 means the default, as in gunicorn (limit_header_default_01)
		case k == "header_map" && v == "drop":
			lim.HeaderMap = HeaderMapDrop
		case k == "header_map" && v == "refuse":
			lim.HeaderMap = HeaderMapRefuse // invalid/040, invalid/chunked_07
		case k == "header_map" && v == "dangerous":
			lim.HeaderMap = HeaderMapDangerous // valid/040_compat
		case k == "proxy_protocol" && v == "auto":
			// valid/pp_*, invalid/pp_*: TestCorpus strips the PROXY header (package proxyproto).
		default:
			return lim, false
		}
	}
	return lim, true
}

func loadCorpus(t testing.TB) []corpusCase {
	t.Helper()
	names, cases, err := corpus.Load[corpusCase](corpusDir, "*")
	if err != nil {
		t.Fatal(err)
	}
	for i := range cases {
		cases[i].Name = names[i]
	}
	return cases
}

// latin1 converts a corpus string (a latin-1 view of wire bytes) to bytes.
func latin1(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		b = append(b, byte(r))
	}
	return string(b)
}

// streamRequest is a request read by readStream, copied out of the buffer.
type streamRequest struct {
	Method, Target, Path, Query, Fragment string
	Major, Minor                          int
	Headers                               [][2]string
	Body                                  []byte
	ContentLength                         int64
	Chunked, KeepAlive                    bool
}

// readHead reads one request head from br the way a server would: peek at
// what is buffered, ask ParseHead, read more on ErrNeedMore. It returns
// io.EOF at a clean end of stream and io.ErrUnexpectedEOF mid-head.
func readHead(br *bufio.Reader, lim *Limits, req *Request, v view) (streamRequest, error) {
	for {
		buf, _ := br.Peek(br.Buffered())
		n, err := ParseHead(buf, lim, req)
		supplied := false
		if err == errNoHost && v == parserView {
			n, err = parseWithHost(buf, lim, req)
			supplied = err == nil
		}
		if err == ErrNeedMore {
			if _, perr := br.Peek(len(buf) + 1); perr != nil {
				if perr == io.EOF && len(buf) == 0 {
					return streamRequest{}, io.EOF
				}
				if perr == io.EOF {
					return streamRequest{}, io.ErrUnexpectedEOF
				}
				return streamRequest{}, perr
			}
			continue
		}
		if err != nil {
			return streamRequest{}, err
		}
		sr := streamRequest{
			Method: string(req.Method), Target: string(req.Target), Path: string(req.Path),
			Query: string(req.Query), Fragment: string(req.Fragment),
			Major: req.Major, Minor: req.Minor, ContentLength: req.ContentLength,
			Chunked: req.Chunked, KeepAlive: req.KeepAlive,
		}
		for i, h := range req.Headers {
			if supplied && i == 0 {
				continue
			}
			sr.Headers = append(sr.Headers, [2]string{string(h.Name), string(h.Value)})
		}
		if _, err := br.Discard(n); err != nil {
			return streamRequest{}, err
		}
		return sr, nil
	}
}

// parseWithHost parses the complete head at the start of buf, which lacks a Host, as
// ParseHead would with suppliedHost after its request line. It returns the bytes of buf the
// head takes; req's first header is the supplied one, and its slices point into a copy.
func parseWithHost(buf []byte, lim *Limits, req *Request) (int, error) {
	start := 0
	for bytes.HasPrefix(buf[start:], []byte("\r\n")) {
		start += 2 // RFC 9112 §2.2: empty lines before the request line
	}
	eol := start + bytes.Index(buf[start:], []byte("\r\n")) + 2
	withHost := append(append(append([]byte(nil), buf[:eol]...), suppliedHost...), buf[eol:]...)
	n, err := ParseHead(withHost, lim, req)
	if err != nil {
		return 0, err
	}
	return n - len(suppliedHost), nil
}

// readStream parses requests from r until the stream ends, a request
// closes the connection, or an error. A request is returned only once its
// body was read completely. errPhase tells where the error happened.
func readStream(r io.Reader, lim *Limits, v view) (reqs []streamRequest, errPhase string, err error) {
	br := bufio.NewReaderSize(r, 1<<17)
	var req Request
	for {
		sr, err := readHead(br, lim, &req, v)
		if err == io.EOF {
			return reqs, "", nil
		}
		if err != nil {
			return reqs, "head", err
		}
		switch {
		case sr.Chunked:
			sr.Body, err = io.ReadAll(NewChunkedReader(br, lim))
		case sr.ContentLength > 0:
			sr.Body = make([]byte, sr.ContentLength)
			var n int
			n, err = io.ReadFull(br, sr.Body)
			sr.Body = sr.Body[:n]
		}
		if err != nil {
			return append(reqs, sr), "body", err // the caller decides about a partial request
		}
		reqs = append(reqs, sr)
		if !sr.KeepAlive {
			return reqs, "", nil
		}
	}
}

func TestCorpus(t *testing.T) {
	var skipped []string
	for _, c := range loadCorpus(t) {
		lim, ok := corpusLimits(c.Cfg)
		if !ok {
			skipped = append(skipped, fmt.Sprintf("%s %v", c.Name, c.Cfg))
			continue
		}
		raw, ok := stripProxyHeader(t, &c)
		if !ok {
			continue
		}
		feeds := []struct {
			name string
			r    func() io.Reader
		}{
			{"whole", func() io.Reader { return bytes.NewReader(raw) }},
			{"bytewise", func() io.Reader { return iotest.OneByteReader(bytes.NewReader(raw)) }},
		}
		rule, rejected := rfcRejected[c.Name]
		for _, feed := range feeds {
			t.Run(c.Name+"/"+feed.name, func(t *testing.T) {
				reqs, phase, err := readStream(feed.r(), &lim, serverView)
				switch {
				case rejected:
					checkRejected(t, c, rule.before, rule.err, reqs, phase, err)
				case strings.HasPrefix(c.Name, "valid/"):
					checkValid(t, c, reqs, phase, err)
				default:
					checkInvalid(t, c, reqs, phase, err)
				}
			})
			if !rejected || rule.err != errNoHost {
				continue
			}
			t.Run(c.Name+"/"+feed.name+"/parser", func(t *testing.T) {
				reqs, phase, err := readStream(feed.r(), &lim, parserView)
				if strings.HasPrefix(c.Name, "valid/") {
					checkValid(t, c, reqs, phase, err)
				} else {
					checkInvalid(t, c, reqs, phase, err)
				}
			})
		}
	}
	t.Logf("skipped %d cases that need non-default gunicorn settings:\n  %s",
		len(skipped), strings.Join(skipped, "\n  "))
}

func checkValid(t *testing.T, c corpusCase, got []streamRequest, phase string, err error) {
	var want []corpusRequest
	if err := json.Unmarshal(c.Expect, &want); err != nil {
		t.Fatal(err)
	}
	if _, ok := specialCases[c.Name]; ok && c.Name == "valid/099" {
		if phase != "body" || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("readStream(%s) = phase %q, err %v; want a short body (io.ErrUnexpectedEOF)", c.Name, phase, err)
		}
		err = nil
	}
	if err != nil {
		t.Fatalf("readStream(%s): %s error after %d requests: %v", c.Name, phase, len(got), err)
	}
	if len(got) != len(want) {
		t.Fatalf("readStream(%s) = %d requests; want %d", c.Name, len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		check := func(field, got, want string) {
			t.Helper()
			if got != want {
				t.Errorf("request %d: %s = %q; want %q", i, field, got, want)
			}
		}
		check("method", g.Method, latin1(w.Method))
		check("uri", g.Target, latin1(w.URI))
		if strings.Contains(c.Note, "compare 'uri'") && g.Method == "CONNECT" {
			check("path (authority-form)", g.Path, "")
		} else {
			check("path", g.Path, latin1(w.Path))
		}
		check("query", g.Query, latin1(w.Query))
		check("fragment", g.Fragment, latin1(w.Fragment))
		if g.Major != w.Version[0] || g.Minor != w.Version[1] {
			t.Errorf("request %d: version = %d.%d; want %d.%d", i, g.Major, g.Minor, w.Version[0], w.Version[1])
		}
		if len(g.Headers) != len(w.Headers) {
			t.Errorf("request %d: headers = %q; want %q", i, g.Headers, w.Headers)
		} else {
			for j, wh := range w.Headers {
				gh := g.Headers[j]
				if !strings.EqualFold(gh[0], latin1(wh[0])) || gh[1] != latin1(wh[1]) {
					t.Errorf("request %d: header %d = %q; want %q", i, j, gh, wh)
				}
			}
		}
		if !bytes.Equal(g.Body, w.Body) {
			t.Errorf("request %d: body = %q; want %q", i, g.Body, w.Body)
		}
	}
}

// checkRejected checks a case of rfcRejected: the requests before the rejected one are those
// the case expects (valid cases), then the rejected head fails with want.
func checkRejected(t *testing.T, c corpusCase, before int, want *Error, got []streamRequest, phase string, err error) {
	if phase != "head" || err != want {
		t.Fatalf("readStream(%s) = %d requests, %s error %v; want head error %v (RFC 9112)", c.Name, len(got), phase, err, want)
	}
	if len(got) != before {
		t.Fatalf("readStream(%s) = %d requests before the error; want %d", c.Name, len(got), before)
	}
	if before > 0 {
		var all []corpusRequest
		if err := json.Unmarshal(c.Expect, &all); err != nil {
			t.Fatal(err)
		}
		expect, err := json.Marshal(all[:before])
		if err != nil {
			t.Fatal(err)
		}
		c.Expect = expect
		checkValid(t, c, got, "", nil)
	}
}

func checkInvalid(t *testing.T, c corpusCase, got []streamRequest, phase string, err error) {
	var want corpusError
	if err := json.Unmarshal(c.Expect, &want); err != nil {
		t.Fatal(err)
	}
	if err == nil {
		t.Fatalf("readStream(%s) = %d requests, no error; want %s (%d)", c.Name, len(got), want.Error, want.StatusHint)
	}
	complete := len(got)
	if phase == "body" {
		complete-- // the last request's body failed: it never reached the app
	}
	if complete != want.Before {
		t.Errorf("readStream(%s) yielded %d complete requests before the error; want %d", c.Name, complete, want.Before)
	}
	if phase != want.Phase {
		t.Errorf("readStream(%s) failed in phase %q (%v); want %q (%s)", c.Name, phase, err, want.Phase, want.Error)
	}
	// A stream that ends mid-request has no status: the server just closes.
	if c.NeedsEOF && errors.Is(err, io.ErrUnexpectedEOF) {
		return
	}
	var he *Error
	if !errors.As(err, &he) {
		t.Fatalf("readStream(%s) error = %v (%T); want *Error", c.Name, err, err)
	}
	wantStatus := want.StatusHint
	if d, ok := deliberateStatus[c.Name]; ok {
		wantStatus = d.status
	}
	if he.Status != wantStatus {
		t.Errorf("readStream(%s) status = %d (%s); want %d (gunicorn %s)", c.Name, he.Status, he.Reason, wantStatus, want.Error)
	}
	// Errors never echo the input back.
	if len(he.Reason) > 60 || strings.ContainsAny(he.Reason, "\r\n") {
		t.Errorf("readStream(%s) reason %q looks like echoed input", c.Name, he.Reason)
	}
}

// stripProxyHeader returns the HTTP bytes of case c: for a case with gunicorn's
// proxy_protocol setting, what follows its PROXY header (a connection without one is plain
// HTTP, as --proxy-protocol auto allows). A malformed header ends the connection before any
// HTTP is parsed, which is what an invalid case expects: ok is false then.
func stripProxyHeader(t *testing.T, c *corpusCase) (raw []byte, ok bool) {
	if _, pp := c.Cfg["proxy_protocol"]; !pp {
		return c.Raw, true
	}
	var h proxyproto.Header
	n, err := proxyproto.Parse(c.Raw, &h)
	switch {
	case err == proxyproto.ErrNoHeader:
		return c.Raw, true
	case err == nil:
		return c.Raw[n:], true
	case strings.HasPrefix(c.Name, "valid/"):
		t.Errorf("%s: PROXY header: %v; want it accepted", c.Name, err)
	}
	return nil, false
}
