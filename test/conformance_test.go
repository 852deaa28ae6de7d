package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gonicorn/gonicorn/internal/corpus"
)

// The gunicorn HTTP/1.1 request corpus (testdata/conformance, see its README.md), replayed
// end to end: raw bytes on a real TCP connection to the real binary, whose worker runs
// test/apps/echo.py. The parser-level replay of the same corpus is
// internal/http1/corpus_test.go; this one checks what reaches the application.

const corpusRoot = "../testdata/conformance"

// corpusCase is one file of the corpus.
type corpusCase struct {
	Name     string          // "valid/001", set from the file name
	Raw      []byte          `json:"raw_b64"` // encoding/json decodes base64
	Cfg      map[string]any  `json:"gunicorn_cfg"`
	NeedsEOF bool            `json:"needs_eof"`
	Note     string          `json:"note"`
	Expect   json.RawMessage `json:"expect"`
}

// corpusRequest is one expected request of a valid case. Strings are latin-1 views of the
// wire bytes.
type corpusRequest struct {
	Method  string      `json:"method"`
	URI     string      `json:"uri"`
	Path    string      `json:"path"` // not percent-decoded
	Query   string      `json:"query"`
	Version [2]int      `json:"version"`
	Headers [][2]string `json:"headers"` // upper-cased names, as received
	Body    []byte      `json:"body_b64"`
}

// corpusEcho is what test/apps/echo.py saw of one request.
type corpusEcho struct {
	Echo           bool              `json:"echo"`
	Method         string            `json:"method"`
	RawURI         string            `json:"raw_uri"`
	PathInfo       string            `json:"path_info"`
	QueryString    string            `json:"query_string"`
	ServerProtocol string            `json:"server_protocol"`
	Headers        map[string]string `json:"headers"`
	Body           []byte            `json:"body_b64"`
}

// corpusNotRun lists the cases that need a gunicorn setting gonicorn does not have (their
// gunicorn_cfg has a key that corpusFlags cannot map onto our flags), with the reason. They are logged, not skipped: CI fails on any skipped test.
var corpusNotRun = map[string]string{
	"valid/028":                  "strip_header_spaces=True: refused (docs/limits.md); RFC 9112 §5.1 forbids whitespace before the colon (400)",
	"valid/031compat":            "permit_unconventional_http_method=True: refused (docs/limits.md); methods are case-sensitive tokens (RFC 9110 §9.1)",
	"valid/031compat2":           "permit_unconventional_http_method=True: refused (docs/limits.md)",
	"valid/compat_obs_fold":      "permit_obsolete_folding=True: refused (docs/limits.md); obs-fold is rejected (RFC 9112 §5.2)",
	"valid/compat_obs_fold_huge": "permit_obsolete_folding=True: refused (docs/limits.md); obs-fold is rejected (RFC 9112 §5.2)",
	"invalid/013":                "permit_obsolete_folding=True (with limit_request_field_size=14): refused (docs/limits.md)",
}

// corpusExtraFlags gives cases that depend on one of gunicorn's default limits that ours
// differ from (README: "Depend on gunicorn's default limits"), the flags that restore it.
// Their server is started with these flags. The other such cases (invalid/007, 008, 009,
// 017, limit_header_default_01) use limits where our defaults equal gunicorn's (100
// fields, 8190-byte header lines).
var corpusExtraFlags = map[string][]string{
	// A 4112-byte request line: over gunicorn's 4094, under our 8190. We answer 414
	// (RFC 9112 §3), gunicorn 400.
	"invalid/006": {"--limit-request-line", "4094"},
}

// corpusEitherOutcome lists valid cases where rejecting the request is as defensible as
// accepting it, with the reason.
var corpusEitherOutcome = map[string]string{
	// Content-Length 17914 but 8599 body bytes, then EOF (README "EOF-dependent"):
	// gunicorn's test reader accepts the short body; a server that reads the body it was
	// promised answers 400 at the half-close. Either way the truncated body must never
	// reach the app as if it were complete: an echo must carry exactly the bytes sent.
	"valid/099": "Content-Length larger than the body before EOF",
}

// corpusRFCRejects reports where RFC 9112's rules for a server reject a valid case of
// gunicorn's corpus, which tests a parser, not a server's policy (the corpus README lists
// these cases): the index of the first expected request that gets 400 instead of reaching
// the app, and the rule. The requests before it are served; nothing after it is read.
//   - RFC 9112 §3.2: an HTTP/1.1 request without Host (valid/004 and others);
//   - RFC 9112 §6.3: Transfer-Encoding whose final coding is not chunked (valid/009,
//     identity with Content-Length), which must never be framed by Content-Length.
func corpusRFCRejects(want []corpusRequest) (at int, rule string, ok bool) {
	for i, r := range want {
		var codings []string
		hosts := 0
		for _, h := range r.Headers {
			switch strings.ToUpper(h[0]) {
			case "HOST":
				hosts++
			case "TRANSFER-ENCODING":
				for _, c := range strings.Split(h[1], ",") {
					codings = append(codings, strings.ToLower(strings.TrimSpace(c)))
				}
			}
		}
		switch {
		case len(codings) > 0 && codings[len(codings)-1] != "chunked":
			return i, "RFC 9112 §6.3: Transfer-Encoding not ending in chunked", true
		case r.Version == [2]int{1, 1} && hosts == 0:
			return i, "RFC 9112 §3.2: HTTP/1.1 request without Host", true
		}
	}
	return 0, "", false
}

// corpusLimitFlags maps the limit settings of gunicorn_cfg onto our flags.
var corpusLimitFlags = map[string]string{
	"limit_request_line":       "--limit-request-line",
	"limit_request_fields":     "--limit-request-fields",
	"limit_request_field_size": "--limit-request-field_size", // 0 = the default, as in gunicorn
}

// corpusPolicyFlags maps the other gunicorn_cfg settings gonicorn has onto our flags: a
// string value is passed as is, a list (forwarded_allow_ips) joined with commas.
var corpusPolicyFlags = map[string]string{
	"header_map":          "--header-map",          // invalid/040, invalid/chunked_07, valid/040_compat
	"forwarded_allow_ips": "--forwarded-allow-ips", // invalid/019
	"proxy_protocol":      "--proxy-protocol",      // valid/pp_*, invalid/pp_*: "auto"
}

func loadCorpusCases(t *testing.T) []corpusCase {
	t.Helper()
	names, cases, err := corpus.Load[corpusCase](corpusRoot, "*")
	if err != nil {
		t.Fatal(err)
	}
	for i := range cases {
		cases[i].Name = names[i]
	}
	return cases
}

// corpusFlags returns the server flags case c needs, or ok=false when it needs a setting we
// do not have.
func corpusFlags(c *corpusCase) (flags []string, ok bool) {
	keys := make([]string, 0, len(c.Cfg))
	for k := range c.Cfg {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if flag, ok := corpusLimitFlags[k]; ok {
			n, isNum := c.Cfg[k].(float64)
			if !isNum {
				return nil, false
			}
			flags = append(flags, flag, fmt.Sprint(int(n)))
			continue
		}
		flag, ok := corpusPolicyFlags[k]
		if !ok {
			return nil, false
		}
		switch v := c.Cfg[k].(type) {
		case string:
			flags = append(flags, flag, v)
		case []any:
			items := make([]string, 0, len(v))
			for _, item := range v {
				s, isStr := item.(string)
				if !isStr {
					return nil, false
				}
				items = append(items, s)
			}
			flags = append(flags, flag, strings.Join(items, ","))
		default:
			return nil, false
		}
	}
	return append(flags, corpusExtraFlags[c.Name]...), true
}

func TestConformanceCorpus(t *testing.T) {
	cases := loadCorpusCases(t)
	if len(cases) != 137 {
		t.Errorf("corpus has %d cases; want 137 (README.md)", len(cases))
	}

	// Group the cases by the server configuration they need; every configuration gets
	// one server, all booted at once.
	servers := map[string]*server{}
	caseServer := map[string]*server{}
	var run []*corpusCase
	for i := range cases {
		c := &cases[i]
		flags, ok := corpusFlags(c)
		reason, listed := corpusNotRun[c.Name]
		switch {
		case !ok && !listed:
			t.Errorf("%s needs gunicorn_cfg %v, which gonicorn has no flag for; list it in corpusNotRun with the reason", c.Name, c.Cfg)
			continue
		case ok && listed:
			t.Errorf("%s is in corpusNotRun (%s) but its gunicorn_cfg %v maps onto our flags; run it", c.Name, reason, c.Cfg)
		case listed:
			t.Logf("not run: %s: %s", c.Name, reason)
			continue
		}
		key := strings.Join(flags, " ")
		s := servers[key]
		if s == nil {
			// Four threads for the default server, which takes most cases in parallel.
			args := append([]string{"--python", realPython(t), "--chdir", appsDir(t), "--threads", "4"}, flags...)
			s = startNoWait(t, append(args, "echo")...)
			servers[key] = s
		}
		caseServer[c.Name] = s
		run = append(run, c)
	}
	for name := range corpusNotRun {
		if !slices.ContainsFunc(cases, func(c corpusCase) bool { return c.Name == name }) {
			t.Errorf("corpusNotRun lists %s, which is not in the corpus", name)
		}
	}
	for _, s := range servers {
		s.waitReady()
	}
	t.Logf("running %d of %d cases on %d servers (configurations %q)", len(run), len(cases), len(servers), slices.Sorted(maps.Keys(servers)))

	t.Run("cases", func(t *testing.T) {
		for _, c := range run {
			s := caseServer[c.Name]
			t.Run(c.Name, func(t *testing.T) {
				t.Parallel()
				if strings.HasPrefix(c.Name, "valid/") {
					checkCorpusValid(t, s.addr, c)
				} else {
					checkCorpusInvalid(t, s.addr, c)
				}
			})
		}
	})
}

var realPythonOnce struct {
	sync.Once
	path string
}

// realPython is python(t) resolved to the interpreter itself: a version manager's shim
// (pyenv's is a shell script) costs a few hundred milliseconds per worker, and the corpus
// boots eight servers at once.
func realPython(t *testing.T) string {
	p := python(t)
	realPythonOnce.Do(func() {
		out, err := exec.Command(p, "-c", "import sys; print(sys.executable)").Output()
		if err == nil {
			realPythonOnce.path = strings.TrimSpace(string(out))
		}
	})
	if realPythonOnce.path != "" {
		return realPythonOnce.path
	}
	return p
}

// corpusIdle is how long a server may stay quiet before the client half-closes.
const corpusIdle = 300 * time.Millisecond

// checkCorpusValid sends a valid case and checks that the app saw exactly its requests.
func checkCorpusValid(t *testing.T, addr string, c *corpusCase) {
	var want []corpusRequest
	if err := json.Unmarshal(c.Expect, &want); err != nil {
		t.Fatalf("expect: %v", err)
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := conn.Write(c.Raw); err != nil {
		t.Fatalf("sending: %v", err)
	}
	if c.NeedsEOF {
		conn.(*net.TCPConn).CloseWrite()
	}
	rejectAt, rule, rejected := corpusRFCRejects(want)
	if rejected {
		want = want[:rejectAt]
	}

	// One response per expected request; then, half-closed, nothing more but the close.
	br := bufio.NewReader(conn)
	var got []*response
	var readErr error
	for i := range want {
		r, err := readResponse(br, want[i].Method)
		if err != nil {
			readErr = fmt.Errorf("reading response %d: %w", i+1, err)
			break
		}
		got = append(got, r)
		if r.header("X-Echo") != "1" {
			break
		}
	}
	if rejected && len(got) == len(want) && readErr == nil {
		// The request the RFC rejects: 400 from the server, and the connection closed.
		r, err := readResponse(br, "GET")
		switch {
		case err != nil:
			t.Errorf("reading the response to request %d: %v; want 400 (%s)", rejectAt+1, err, rule)
		case r.status != 400 || r.header("X-Echo") == "1":
			t.Errorf("request %d: %d (echo %q) %q; want 400 from the server (%s)\n%s", rejectAt+1, r.status, r.header("X-Echo"), corpusClip(r.body), rule, corpusPreview(c.Raw))
		case !strings.EqualFold(r.header("Connection"), "close"):
			t.Errorf("request %d: 400 with Connection %q; want close (%s)", rejectAt+1, r.header("Connection"), rule)
		default:
			// Closed by the server, before the client half-closes.
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := br.Peek(1); err != io.EOF && !isConnReset(err) {
				t.Errorf("after the 400 (%s): %v; want the server to close the connection", rule, err)
			}
		}
	}
	conn.(*net.TCPConn).CloseWrite()
	rest, err := io.ReadAll(br)
	closed := err == nil || errors.Is(err, net.ErrClosed) || isConnReset(err)
	if rejected && len(rest) > 0 {
		t.Errorf("after the 400 (%s) the server sent %q; want the connection closed", rule, corpusClip(rest))
		rest = nil
	}

	if reason, ok := corpusEitherOutcome[c.Name]; ok && len(got) > 0 && got[0].header("X-Echo") != "1" {
		if got[0].status < 400 {
			t.Errorf("%s rejected with status %d; want an echo or a 4xx/5xx", c.Name, got[0].status)
		}
		t.Logf("%s rejected with %d, accepted as an outcome (%s)", c.Name, got[0].status, reason)
		return
	}
	echoes := 0
	for i, r := range got {
		if r.header("X-Echo") != "1" {
			t.Errorf("response %d of %d: %d %q from the server, not the app; want an echo\n%s", i+1, len(want), r.status, r.body, corpusPreview(c.Raw))
			return
		}
		echoes++
		var e corpusEcho
		if err := json.Unmarshal(r.body, &e); err != nil {
			t.Errorf("response %d: bad echo JSON %q: %v", i+1, r.body, err)
			continue
		}
		for _, p := range compareCorpusRequest(c, &want[i], &e) {
			t.Errorf("request %d of %d: %s", i+1, len(want), p)
		}
	}
	if echoes < len(want) {
		t.Errorf("the app saw %d requests; want %d (%v)\n%s", echoes, len(want), readErr, corpusPreview(c.Raw))
	}
	if len(rest) > 0 {
		t.Errorf("after the %d expected responses the server sent %q; want nothing (bytes after the last request must not become a request)", len(want), corpusClip(rest))
	}
	if !closed {
		t.Errorf("connection not closed after the client's half-close: %v", err)
	}
}

// compareCorpusRequest lists the differences between what the app saw and the expected
// request.
func compareCorpusRequest(c *corpusCase, want *corpusRequest, e *corpusEcho) []string {
	var probs []string
	check := func(what, got, want string) {
		if got != want {
			probs = append(probs, fmt.Sprintf("%s = %q; want %q", what, got, want))
		}
	}
	for _, kv := range [][2]string{{"REQUEST_METHOD", e.Method}, {"RAW_URI", e.RawURI}, {"PATH_INFO", e.PathInfo}, {"QUERY_STRING", e.QueryString}} {
		if _, err := latin1Bytes(kv[1]); err != nil {
			probs = append(probs, fmt.Sprintf("%s = %q: %v", kv[0], kv[1], err))
		}
	}
	check("REQUEST_METHOD", e.Method, want.Method)
	check("RAW_URI", e.RawURI, want.URI)
	// For authority-form and asterisk-form targets the corpus's path is a urlsplit
	// artifact (see the case's note); RAW_URI is what is checked there.
	if !strings.Contains(c.Note, "urlsplit") {
		check("PATH_INFO", e.PathInfo, percentDecodeLatin1(want.Path))
	}
	check("QUERY_STRING", e.QueryString, want.Query)
	check("SERVER_PROTOCOL", e.ServerProtocol, fmt.Sprintf("HTTP/%d.%d", want.Version[0], want.Version[1]))
	if !bytes.Equal(e.Body, want.Body) {
		probs = append(probs, fmt.Sprintf("body = %q; want %q", corpusClip(e.Body), corpusClip(want.Body)))
	}

	// The environ's header keys: HTTP_* per field, repeated fields joined with ", ",
	// Content-Type as CONTENT_TYPE. CONTENT_LENGTH is the length of the body the app
	// reads, present when the request has a body (a Content-Length or a chunked body); a
	// chunked body arrives de-chunked, so its Transfer-Encoding is not passed on, unless a
	// coding other than chunked and identity (gzip) stays on the body for the app.
	var codings []string
	for _, h := range want.Headers {
		if strings.EqualFold(h[0], "Transfer-Encoding") {
			for _, c := range strings.Split(h[1], ",") {
				codings = append(codings, strings.ToLower(strings.TrimSpace(c)))
			}
		}
	}
	// Chunked is the final coding of a valid chunked request (RFC 9112 §6.1); any other
	// Transfer-Encoding (identity, with a Content-Length) is passed on.
	chunked := len(codings) > 0 && codings[len(codings)-1] == "chunked"
	coded := slices.ContainsFunc(codings, func(c string) bool { return c != "chunked" && c != "identity" })
	wantHeaders := map[string]string{}
	hasBody := chunked
	for _, h := range want.Headers {
		name := strings.ToUpper(h[0])
		switch name {
		case "CONTENT-LENGTH":
			hasBody = true
			continue
		case "TRANSFER-ENCODING":
			if chunked && !coded {
				continue
			}
		}
		key := "HTTP_" + strings.ReplaceAll(name, "-", "_")
		if name == "CONTENT-TYPE" {
			key = "CONTENT_TYPE"
		}
		if v, ok := wantHeaders[key]; ok {
			wantHeaders[key] = v + ", " + h[1]
		} else {
			wantHeaders[key] = h[1]
		}
	}
	if hasBody {
		wantHeaders["CONTENT_LENGTH"] = fmt.Sprint(len(want.Body))
	}
	// The server adds the request's id (docs/logging.md); no case sends one.
	if _, ok := wantHeaders["HTTP_X_REQUEST_ID"]; !ok && e.Headers["HTTP_X_REQUEST_ID"] != "" {
		delete(e.Headers, "HTTP_X_REQUEST_ID")
	}
	keys := map[string]bool{}
	for k := range wantHeaders {
		keys[k] = true
	}
	for k := range e.Headers {
		keys[k] = true
	}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		got, inGot := e.Headers[k]
		w, inWant := wantHeaders[k]
		if _, err := latin1Bytes(got); err != nil {
			probs = append(probs, fmt.Sprintf("environ[%s] = %q: %v", k, got, err))
		}
		switch {
		case !inGot:
			probs = append(probs, fmt.Sprintf("environ has no %s; want %q", k, w))
		case !inWant:
			probs = append(probs, fmt.Sprintf("environ[%s] = %q; want no such key", k, got))
		default:
			check(k, got, w)
		}
	}
	return probs
}

// checkCorpusInvalid sends an invalid case and checks that the app never saw it, that the
// server answered 4xx/5xx or nothing, and that it closed the connection.
func checkCorpusInvalid(t *testing.T, addr string, c *corpusCase) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(c.Raw); err != nil && !isConnReset(err) {
		t.Fatalf("sending: %v", err)
	}
	halfClosed := c.NeedsEOF
	if halfClosed {
		conn.(*net.TCPConn).CloseWrite()
	}
	// Read until the server closes; when it goes quiet, half-close (it may be waiting for
	// the rest of a request) and give it a few seconds more.
	var out bytes.Buffer
	buf := make([]byte, 64<<10)
	closed, closedBeforeEOF := false, false
	deadline := time.Now().Add(15 * time.Second)
	for !closed && time.Now().Before(deadline) {
		wait := corpusIdle
		if halfClosed {
			wait = 5 * time.Second
		}
		conn.SetReadDeadline(time.Now().Add(wait))
		n, err := conn.Read(buf)
		out.Write(buf[:n])
		switch {
		case err == nil:
		case errors.Is(err, os.ErrDeadlineExceeded):
			if halfClosed {
				deadline = time.Time{} // give up: still open
				continue
			}
			conn.(*net.TCPConn).CloseWrite()
			halfClosed = true
		default: // EOF or a reset
			closed = true
			closedBeforeEOF = !halfClosed
		}
	}

	br := bufio.NewReader(&out)
	for i := 0; out.Len() > 0 || br.Buffered() > 0; i++ {
		r, err := readResponse(br, "GET")
		if err != nil {
			t.Errorf("response %d: %v (bytes %q)", i+1, err, corpusClip(out.Bytes()))
			break
		}
		if r.header("X-Echo") == "1" {
			t.Errorf("the app saw a request (%d %s); want the request rejected\n%s", r.status, corpusClip(r.body), corpusPreview(c.Raw))
			continue
		}
		if r.status < 400 {
			t.Errorf("response %d: status %d; want 4xx/5xx (or a close)", i+1, r.status)
		}
		if i == 0 && !testing.Verbose() {
			continue
		}
		if i == 0 {
			t.Logf("rejected with %d (gunicorn: %s)", r.status, c.Expect)
		}
	}
	if !closed {
		t.Errorf("connection still open 5 s after the client's half-close; want it closed")
	} else if !closedBeforeEOF {
		// Waiting for more of a request that ends early is correct (invalid/001 ends
		// mid-head); the close must then come at the EOF.
		t.Logf("closed after the client's half-close")
	}
}

// percentDecodeLatin1 decodes %XX escapes of a latin-1 string (RFC 3986 §2.1) and
// returns the result as a latin-1 string: PATH_INFO's form in PEP 3333. Malformed escapes
// stay as they are, as in urllib.parse.unquote.
func percentDecodeLatin1(s string) string {
	b, _ := latin1Bytes(s)
	var out strings.Builder
	for i := 0; i < len(b); i++ {
		if b[i] == '%' && i+2 < len(b) && corpusIsHex(b[i+1]) && corpusIsHex(b[i+2]) {
			out.WriteRune(rune(corpusUnhex(b[i+1])<<4 | corpusUnhex(b[i+2])))
			i += 2
			continue
		}
		out.WriteRune(rune(b[i]))
	}
	return out.String()
}

// latin1Bytes converts a latin-1 view (code points up to U+00FF) back to bytes.
func latin1Bytes(s string) ([]byte, error) {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			return b, fmt.Errorf("U+%04X is not latin-1: PEP 3333 strings must be latin-1 views of bytes", r)
		}
		b = append(b, byte(r))
	}
	return b, nil
}

func corpusIsHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func corpusUnhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

func isConnReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET)
}

// corpusPreview shows the raw bytes of a case, for failure messages.
func corpusPreview(raw []byte) string {
	return fmt.Sprintf("request bytes: %q", corpusClip(raw))
}

func corpusClip(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + fmt.Sprintf("...(%d bytes)", len(b))
	}
	return string(b)
}
