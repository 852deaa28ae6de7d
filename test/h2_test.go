package e2e

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// HTTP/2 end to end: Go's x/net client, curl and nghttp against the real binary, over TLS
// (ALPN h2) and cleartext (h2c).

// startH2 runs h2app with HTTP/2 on, over TLS when ts is not nil.
func startH2(t *testing.T, ts *tlsSetup, extra ...string) *server {
	t.Helper()
	args := []string{"--http-protocols", "h1,h2"}
	if ts != nil {
		args = ts.args(args...)
	}
	args = append(args, extra...)
	args = append(args, "--python", python(t), "--chdir", appsDir(t), "h2app")
	return start(t, args...)
}

// h2Client is an HTTP/2-only client of s: over TLS trusting ts's CA, else h2c with prior
// knowledge.
func h2Client(ts *tlsSetup) *http.Client {
	tr := &http2.Transport{}
	if ts != nil {
		tr.TLSClientConfig = ts.clientConfig(nil)
		tr.TLSClientConfig.NextProtos = []string{"h2"}
	} else {
		tr.AllowHTTP = true
		tr.DialTLSContext = nil
		tr.DialTLS = func(network, addr string, _ *tls.Config) (net.Conn, error) { return net.Dial(network, addr) }
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// h2URL is the URL of path on s, as the client sees it.
func h2URL(s *server, ts *tlsSetup, path string) string {
	_, port, _ := net.SplitHostPort(s.addr)
	if ts != nil {
		return "https://localhost:" + port + path
	}
	return "http://127.0.0.1:" + port + path
}

func getBody(t *testing.T, c *http.Client, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", req.Method, req.URL, err)
	}
	return resp, b
}

// The environ of an HTTP/2 request is the HTTP/1.1 one with SERVER_PROTOCOL HTTP/2 and
// :authority as Host; bodies are read whole and answers relayed as over HTTP/1.1; the
// access log has a line per stream.
func TestH2TLSServes(t *testing.T) {
	ts := newTLSSetup(t)
	s := startH2(t, ts, "--access-logfile", "-", "--access-logformat", `"%(r)s" %(s)s %(b)s %(H)s`)
	c := h2Client(ts)
	req, _ := http.NewRequest("GET", h2URL(s, ts, "/env/a%20b?x=1&y=2"), nil)
	req.Header.Add("X-Custom", "one")
	req.Header.Add("X-Custom", "two")
	req.Header.Add("X_Under", "dropped")
	resp, body := getBody(t, c, req)
	if resp.ProtoMajor != 2 || resp.TLS.NegotiatedProtocol != "h2" {
		t.Fatalf("response over %s (ALPN %q); want HTTP/2", resp.Proto, resp.TLS.NegotiatedProtocol)
	}
	var env map[string]string
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("GET /env: %v in %q", err, body)
	}
	_, port, _ := net.SplitHostPort(s.addr)
	for k, want := range map[string]string{"SERVER_PROTOCOL": "HTTP/2", "REQUEST_METHOD": "GET",
		"PATH_INFO": "/env/a b", "QUERY_STRING": "x=1&y=2", "RAW_URI": "/env/a%20b?x=1&y=2",
		"HTTP_HOST": "localhost:" + port, "SERVER_NAME": "localhost", "SERVER_PORT": port,
		"wsgi.url_scheme": "https", "HTTPS": "on", "HTTP_X_CUSTOM": "one, two", "SCRIPT_NAME": "",
		"REMOTE_ADDR": "127.0.0.1"} {
		if env[k] != want {
			t.Errorf("environ[%s] = %q; want %q", k, env[k], want)
		}
	}
	for _, k := range []string{"HTTP_X_UNDER", "CONTENT_LENGTH", "HTTP_CONTENT_LENGTH"} {
		if v, ok := env[k]; ok {
			t.Errorf("environ[%s] = %q; want none", k, v)
		}
	}
	if len(env["HTTP_X_REQUEST_ID"]) != 32 || resp.Header.Get("X-Request-Id") != env["HTTP_X_REQUEST_ID"] {
		t.Errorf("request id: environ %q, response %q", env["HTTP_X_REQUEST_ID"], resp.Header.Get("X-Request-Id"))
	}
	if resp.Header.Get("Server") != "gonicorn" || resp.Header.Get("Date") == "" {
		t.Errorf("response fields %v; want Server and Date", resp.Header)
	}

	// A body big enough to be spooled to a file, then responses of known and unknown length.
	big := strings.Repeat("b", 3<<20)
	req, _ = http.NewRequest("POST", h2URL(s, ts, "/up"), strings.NewReader(big))
	if _, b := getBody(t, c, req); string(b) != itoa(len(big)) {
		t.Errorf("POST of %d bytes: answer %q", len(big), b)
	}
	req, _ = http.NewRequest("POST", h2URL(s, ts, "/up"), io.MultiReader(strings.NewReader("abc"), strings.NewReader("def")))
	req.ContentLength = -1 // no content-length: the body ends with the stream
	if _, b := getBody(t, c, req); string(b) != "6" {
		t.Errorf("POST without content-length: answer %q; want 6", b)
	}
	req, _ = http.NewRequest("GET", h2URL(s, ts, "/big?n=5000000"), nil)
	if resp, b := getBody(t, c, req); len(b) != 5000000 || resp.ContentLength != 5000000 {
		t.Errorf("GET /big: %d bytes, content-length %d; want 5000000", len(b), resp.ContentLength)
	}
	req, _ = http.NewRequest("GET", h2URL(s, ts, "/stream?n=100000&k=30"), nil)
	if resp, b := getBody(t, c, req); len(b) != 3000000 || resp.ContentLength != -1 {
		t.Errorf("GET /stream: %d bytes, content-length %d; want 3000000 and none", len(b), resp.ContentLength)
	}
	req, _ = http.NewRequest("HEAD", h2URL(s, ts, "/big?n=10"), nil)
	if resp, b := getBody(t, c, req); resp.StatusCode != 200 || len(b) != 0 || resp.ContentLength != 10 {
		t.Errorf("HEAD /big: %d, %d bytes, content-length %d", resp.StatusCode, len(b), resp.ContentLength)
	}
	if !s.log.waitFor(`"GET /big?n=5000000 HTTP/2" 200 5000000 HTTP/2`, 5*time.Second) {
		t.Errorf("no access log line for the big response:\n%s", s.log)
	}
	// Over TLS too, the SETTINGS advertise --http2-max-header-list-size, not x/net's own
	// decoding limit (TestH2OwnAnswersLogged).
	if v := dialH2Raw(t, s, ts).settings[http2.SettingMaxHeaderListSize]; v != 65536 {
		t.Errorf("server's MAX_HEADER_LIST_SIZE over TLS = %d; want 65536, the default", v)
	}
}

// curl over TLS with ALPN h2 (--http2) sees HTTP/2 and the app's answer.
func TestH2Curl(t *testing.T) {
	curl := debianBinary(t, "/usr/bin/curl", "curl")
	ts := newTLSSetup(t)
	s := startH2(t, ts)
	_, port, _ := net.SplitHostPort(s.addr)
	out, err := exec.Command(curl, "-sS", "--http2", "--cacert", ts.ca.File, "-w", "\n%{http_version}",
		"-H", "X-From: curl", "https://localhost:"+port+"/env").CombinedOutput()
	if err != nil {
		t.Fatalf("curl --http2: %v\n%s", err, out)
	}
	body, version, _ := strings.Cut(string(out), "\n")
	if version != "2" || !strings.Contains(body, `"SERVER_PROTOCOL": "HTTP/2"`) || !strings.Contains(body, `"HTTP_X_FROM": "curl"`) {
		t.Errorf("curl --http2: version %q, body %s", version, body)
	}
}

// h2c: prior knowledge (Go's client, curl --http2-prior-knowledge) and Upgrade (curl --http2
// on http://) on a plain listener with --http2-cleartext; HTTP/1.1 still works beside it.
func TestH2Cleartext(t *testing.T) {
	s := startH2(t, nil, "--http2-cleartext", "--access-logfile", "-", "--access-logformat", `"%(r)s" %(s)s %(H)s`)
	c := h2Client(nil)
	req, _ := http.NewRequest("POST", h2URL(s, nil, "/up"), strings.NewReader(strings.Repeat("z", 100000)))
	resp, b := getBody(t, c, req)
	if resp.ProtoMajor != 2 || string(b) != "100000" {
		t.Errorf("h2c prior knowledge: %s, %q; want HTTP/2 and 100000", resp.Proto, b)
	}
	req, _ = http.NewRequest("GET", h2URL(s, nil, "/env"), nil)
	if _, b := getBody(t, c, req); !strings.Contains(string(b), `"wsgi.url_scheme": "http"`) || !strings.Contains(string(b), `"SERVER_PROTOCOL": "HTTP/2"`) {
		t.Errorf("h2c environ: %s", b)
	}
	if r := s.get("/env"); r.status != 200 || !strings.Contains(string(r.body), `"SERVER_PROTOCOL": "HTTP/1.1"`) {
		t.Errorf("HTTP/1.1 beside h2c: %d %s", r.status, r.body)
	}
	// An Upgrade with a body is not taken: served as HTTP/1.1.
	r := s.do("POST /up HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n" +
		"HTTP2-Settings: AAMAAABkAAQAAP__\r\nContent-Length: 3\r\n\r\nabc")
	if r.status != 200 || string(r.body) != "3" {
		t.Errorf("Upgrade: h2c with a body: %d %q; want HTTP/1.1's 200 and 3", r.status, r.body)
	}

	curl := debianBinary(t, "/usr/bin/curl", "curl")
	_, port, _ := net.SplitHostPort(s.addr)
	for _, flag := range []string{"--http2-prior-knowledge", "--http2"} {
		out, err := exec.Command(curl, "-sS", flag, "-w", "\n%{http_version}", "http://127.0.0.1:"+port+"/env?via="+flag).CombinedOutput()
		body, version, _ := strings.Cut(string(out), "\n")
		if err != nil || version != "2" || !strings.Contains(body, `"SERVER_PROTOCOL": "HTTP/2"`) || !strings.Contains(body, `"QUERY_STRING": "via=`+flag) {
			t.Errorf("curl %s: %v, version %q, body %s", flag, err, version, body)
		}
	}
	if !s.log.waitFor(`"GET /env?via=--http2 HTTP/2" 200 HTTP/2`, 5*time.Second) {
		t.Errorf("the upgraded request is not logged as HTTP/2:\n%s", s.log)
	}
}

// Without --http2-cleartext, a plain listener speaks HTTP/1.1 only: the preface is a bad
// request, and Upgrade: h2c is ignored.
func TestH2CleartextOff(t *testing.T) {
	s := startH2(t, nil)
	out := s.raw("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", time.Second)
	if !strings.HasPrefix(out, "HTTP/1.1 505 ") && !strings.HasPrefix(out, "HTTP/1.1 400 ") {
		t.Errorf("preface without h2c: %q; want an HTTP/1.1 error", firstLine(out))
	}
	r := s.do("GET /env HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n")
	if r.status != 200 || !strings.Contains(string(r.body), `"SERVER_PROTOCOL": "HTTP/1.1"`) {
		t.Errorf("Upgrade: h2c without --http2-cleartext: %d %s; want HTTP/1.1's 200", r.status, r.body)
	}
}

// nghttp (Debian's nghttp2-client), over TLS and h2c with prior knowledge, and with the
// 103 Early Hints of wsgi.early_hints.
func TestH2Nghttp(t *testing.T) {
	nghttp := debianBinary(t, "/usr/bin/nghttp", "nghttp2-client")
	ts := newTLSSetup(t)
	s := startH2(t, ts)
	_, port, _ := net.SplitHostPort(s.addr)
	out, err := exec.Command(nghttp, "-v", "https://localhost:"+port+"/hints").CombinedOutput()
	text := string(out)
	if err != nil || !strings.Contains(text, ":status: 103") || !strings.Contains(text, "link: </a.css>; rel=preload; as=style") ||
		!strings.Contains(text, ":status: 200") || !strings.Contains(text, "done") {
		t.Errorf("nghttp over TLS: %v\n%s", err, text)
	}
	if strings.Index(text, ":status: 103") > strings.Index(text, ":status: 200") {
		t.Errorf("103 after the final response:\n%s", text)
	}

	plain := startH2(t, nil, "--http2-cleartext")
	_, port, _ = net.SplitHostPort(plain.addr)
	cmd := exec.Command(nghttp, "-d", "-", "http://127.0.0.1:"+port+"/up")
	cmd.Stdin = strings.NewReader(strings.Repeat("q", 70000))
	out, err = cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "70000" {
		t.Errorf("nghttp h2c POST: %v, %q; want 70000", err, out)
	}
}

// h2specPath finds h2spec (.ci/run installs it with go install): on PATH, else in
// $(go env GOPATH)/bin.
func h2specPath(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("h2spec"); err == nil {
		return p
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
			p := filepath.Join(dir, "bin", "h2spec")
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	missing(t, "h2spec not found on PATH or in $(go env GOPATH)/bin (go install github.com/summerwind/h2spec/cmd/h2spec@v2.2.1+incompatible)")
	return ""
}

// h2spec (every test of its http2, hpack and generic groups) passes over TLS and over h2c.
// A stock x/net server fails some of them; package h2guard and the server's own checks make
// up for it (docs/http2.md).
func TestH2Spec(t *testing.T) {
	h2spec := h2specPath(t)
	ts := newTLSSetup(t)
	for _, tc := range []struct {
		name  string
		tls   *tlsSetup
		extra []string
		flags []string
	}{
		{"tls", ts, nil, []string{"-t", "-k"}},
		{"h2c", nil, []string{"--http2-cleartext"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startH2(t, tc.tls, tc.extra...)
			host, port, _ := net.SplitHostPort(s.addr)
			args := append([]string{"-h", host, "-p", port, "-o", "5"}, tc.flags...)
			out, err := exec.Command(h2spec, args...).CombinedOutput()
			text := string(out)
			summary := regexp.MustCompile(`(\d+) tests, (\d+) passed, (\d+) skipped, (\d+) failed`).FindStringSubmatch(text)
			if summary == nil {
				t.Fatalf("h2spec: %v, no summary:\n%s", err, text)
			}
			if summary[4] != "0" || summary[3] != "0" || err != nil {
				failures := text
				if i := strings.Index(text, "Failures:"); i >= 0 {
					failures = text[i:]
				}
				t.Errorf("h2spec over %s: %s (%v)\n%s", tc.name, summary[0], err, failures)
			}
		})
	}
}

// The tunables are what the server's SETTINGS say; the limits of HTTP/1.1 apply to streams
// (413 before the body or once it passes the limit, 431 for too many or too big fields, 408
// for a body that stops), each answered on its stream and logged, the connection going on.
func TestH2Limits(t *testing.T) {
	s := startH2(t, nil, "--http2-cleartext", "--limit-request-body", "1000", "--limit-request-fields", "20", "--limit-request-line", "200",
		"--body-timeout", "1", "--http2-max-concurrent-streams", "7", "--http2-initial-window-size", "30000",
		"--http2-max-frame-size", "20000", "--http2-max-header-list-size", "4096",
		"--access-logfile", "-", "--access-logformat", `"%(r)s" %(s)s`)
	h := dialH2Raw(t, s, nil)
	for id, want := range map[http2.SettingID]uint32{http2.SettingMaxConcurrentStreams: 7,
		http2.SettingInitialWindowSize: 30000, http2.SettingMaxFrameSize: 20000} {
		if h.settings[id] != want {
			t.Errorf("server's %v = %d; want %d (all: %v)", id, h.settings[id], want, h.settings)
		}
	}
	if v := h.settings[http2.SettingMaxHeaderListSize]; v != 4096 {
		t.Errorf("server's MAX_HEADER_LIST_SIZE = %d; want 4096", v)
	}
	id := uint32(1)
	next := func() uint32 { id += 2; return id - 2 }
	check := func(what string, a h2Answer, status int) {
		t.Helper()
		if a.status != status {
			t.Errorf("%s: %v; want %d", what, a, status)
		}
	}
	// A content-length above the limit: 413 before any DATA is read.
	sid := next()
	h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: sid, BlockFragment: h.block("POST", "/up", "content-length", "2000"), EndHeaders: true})
	check("content-length 2000", h.answer(sid, 10*time.Second), 413)
	// No content-length: 413 once the body passes the limit.
	sid = next()
	h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: sid, BlockFragment: h.block("POST", "/up"), EndHeaders: true})
	h.fr.WriteData(sid, false, make([]byte, 800))
	h.fr.WriteData(sid, true, make([]byte, 800))
	check("1600 bytes without content-length", h.answer(sid, 10*time.Second), 413)
	// Within the limit: served.
	sid = next()
	h.request(sid, "POST", "/up", make([]byte, 1000))
	check("1000 bytes", h.answer(sid, 10*time.Second), 200)
	// 25 fields > --limit-request-fields 20.
	var fields []string
	for i := range 25 {
		fields = append(fields, "x-f"+itoa(i), "v")
	}
	sid = next()
	h.request(sid, "GET", "/env", nil, fields...)
	check("25 fields", h.answer(sid, 10*time.Second), 431)
	// A header list over --http2-max-header-list-size.
	sid = next()
	h.request(sid, "GET", "/env", nil, "x-big", strings.Repeat("a", 3000), "x-big2", strings.Repeat("b", 3000))
	check("6000 bytes of fields", h.answer(sid, 10*time.Second), 431)
	// :method and :path longer than --limit-request-line as an HTTP/1.1 request line.
	sid = next()
	h.request(sid, "GET", "/"+strings.Repeat("p", 190), nil)
	check("a 203-byte request line", h.answer(sid, 10*time.Second), 414)
	sid = next()
	h.request(sid, "GET", "/"+strings.Repeat("p", 180), nil)
	check("a 193-byte request line", h.answer(sid, 10*time.Second), 200)
	// A body that stops: 408 after --body-timeout.
	sid = next()
	h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: sid, BlockFragment: h.block("POST", "/up", "content-length", "10"), EndHeaders: true})
	h.fr.WriteData(sid, false, []byte("12345"))
	check("a stalled body", h.answer(sid, 10*time.Second), 408)
	// The connection still serves.
	sid = next()
	h.request(sid, "GET", "/env", nil)
	if a := h.answer(sid, 10*time.Second); a.status != 200 || !strings.Contains(string(a.body), `"SERVER_PROTOCOL": "HTTP/2"`) {
		t.Errorf("after the rejections: %v", a)
	}
	for _, line := range []string{`"POST /up HTTP/2" 413`, `"GET /env HTTP/2" 431`, `"POST /up HTTP/2" 408`} {
		if !s.log.waitFor(line, 5*time.Second) {
			t.Errorf("no access log line %s:\n%s", line, s.log)
		}
	}
}

// Static files (--static) and the files of X-Sendfile (--sendfile-root) are answered by the
// master over HTTP/2 too, with their Range and validators.
func TestH2StaticAndSendfile(t *testing.T) {
	dir := t.TempDir()
	content := strings.Repeat("0123456789", 10000)
	if err := os.WriteFile(filepath.Join(dir, "f.txt"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	s := start(t, "--http-protocols", "h1,h2", "--http2-cleartext", "--static", "/static="+dir,
		"--sendfile-root", "/protected/="+dir, "--python", python(t), "--chdir", appsDir(t), "sendfile")
	c := h2Client(nil)
	resp, b := getBody(t, c, mustRequest(t, "GET", h2URL(s, nil, "/static/f.txt")))
	if resp.StatusCode != 200 || string(b) != content || resp.Header.Get("ETag") == "" || resp.ProtoMajor != 2 {
		t.Errorf("static over h2: %d %s, %d bytes, ETag %q", resp.StatusCode, resp.Proto, len(b), resp.Header.Get("ETag"))
	}
	req := mustRequest(t, "GET", h2URL(s, nil, "/static/f.txt"))
	req.Header.Set("Range", "bytes=10-19")
	if resp, b := getBody(t, c, req); resp.StatusCode != 206 || string(b) != "0123456789" {
		t.Errorf("static Range over h2: %d %q", resp.StatusCode, b)
	}
	resp, b = getBody(t, c, mustRequest(t, "GET", h2URL(s, nil, "/x?h=X-Sendfile&v="+filepath.Join(dir, "f.txt"))))
	if resp.StatusCode != 200 || string(b) != content || resp.Header.Get("X-App") != "kept" || resp.Header.Get("X-Sendfile") != "" {
		t.Errorf("X-Sendfile over h2: %d, %d bytes, fields %v", resp.StatusCode, len(b), resp.Header)
	}
}

func mustRequest(t *testing.T, method, url string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The app's failures over HTTP/2, as over HTTP/1.1: an exception before the response or an
// invalid header is a 500 on its stream; a response that cannot be completed (the app fails
// after its first block, or its body falls short of its Content-Length) resets the stream
// after the bytes produced, as HTTP/1.1 closes the connection; the connection serves on.
func TestH2AppFailures(t *testing.T) {
	s := startH2(t, nil, "--http2-cleartext")
	h := dialH2Raw(t, s, nil)
	for i, tc := range []struct {
		path   string
		status int
		reset  bool
		body   string
	}{
		{"/raise", 500, false, "Internal Server Error"},
		{"/badheader", 500, false, "Internal Server Error"},
		{"/cut", 200, true, "first block"},
		{"/short", 200, true, "12345"},
		{"/big?n=3", 200, false, "xxx"},
	} {
		id := uint32(2*i + 1)
		h.request(id, "GET", tc.path, nil)
		a := h.answer(id, 10*time.Second)
		if a.status != tc.status || a.reset != tc.reset || strings.TrimSpace(string(a.body)) != tc.body {
			t.Errorf("%s: status %d, reset %v (%v), body %q; want %d, reset %v, %q", tc.path, a.status, a.reset, a.code, a.body, tc.status, tc.reset, tc.body)
		}
	}
}

// Many streams at once on one connection, more than the workers: each gets its own whole
// answer (the queue serves them in turn).
func TestH2Multiplex(t *testing.T) {
	ts := newTLSSetup(t)
	s := startH2(t, ts, "--workers", "2")
	c := h2Client(ts)
	type result struct {
		n   int
		err error
	}
	results := make(chan result, 60)
	for i := range 60 {
		go func() {
			n := 1000 + 997*i
			resp, err := c.Get(h2URL(s, ts, "/big?n="+itoa(n)))
			if err != nil {
				results <- result{err: err}
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil && (len(b) != n || resp.ProtoMajor != 2) {
				err = fmt.Errorf("%d bytes over %s; want %d over HTTP/2", len(b), resp.Proto, n)
			}
			results <- result{n: n, err: err}
		}()
	}
	for range 60 {
		if r := <-results; r.err != nil {
			t.Errorf("stream: %v", r.err)
		}
	}
}

// Mutual TLS over HTTP/2: every stream's environ has the connection's SSL_CLIENT_* variables.
func TestH2ClientCertificate(t *testing.T) {
	ts := newTLSSetup(t)
	alice := ts.ca.Client(pkix.Name{CommonName: "alice"})
	s := startH2(t, ts, "--ca-certs", ts.ca.File, "--cert-reqs", "2")
	tr := &http2.Transport{TLSClientConfig: ts.clientConfig(alice)}
	tr.TLSClientConfig.NextProtos = []string{"h2"}
	c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	for range 2 { // two streams on one connection
		resp, b := getBody(t, c, mustRequest(t, "GET", h2URL(s, ts, "/env")))
		var env map[string]string
		json.Unmarshal(b, &env)
		if resp.ProtoMajor != 2 || env["SSL_CLIENT_VERIFY"] != "SUCCESS" || !strings.Contains(env["SSL_CLIENT_S_DN"], "CN=alice") {
			t.Errorf("over %s: SSL_CLIENT_VERIFY %q, SSL_CLIENT_S_DN %q; want SUCCESS and alice", resp.Proto, env["SSL_CLIENT_VERIFY"], env["SSL_CLIENT_S_DN"])
		}
	}
}

// A body of known length (the app's Content-Length) ends its stream with its last DATA
// frame: one frame for a small body, no empty DATA frame with END_STREAM after it (one
// flush per response). A body of unknown length still arrives whole.
func TestH2KnownLengthEndsWithItsData(t *testing.T) {
	s := startH2(t, nil, "--http2-cleartext")
	h := dialH2Raw(t, s, nil)
	h.request(1, "GET", "/big?n=100", nil)
	if a := h.answer(1, 10*time.Second); a.status != 200 || len(a.body) != 100 || a.frames != 1 {
		t.Errorf("GET /big?n=100: %v, %d bytes in %d DATA frames; want 200, 100 bytes in 1 frame with END_STREAM", a, len(a.body), a.frames)
	}
	h.request(3, "GET", "/stream?n=10&k=3", nil)
	if a := h.answer(3, 10*time.Second); a.status != 200 || string(a.body) != strings.Repeat("y", 30) {
		t.Errorf("GET /stream: %v, body %q; want 200 and 30 bytes", a, a.body)
	}
}

// Every HTTP/2 request the server read is in the access log and the metrics, as over
// HTTP/1.1, also those x/net would answer itself: a header list over
// --http2-max-header-list-size gets gonicorn's 431 (logged, counted as a rejection) while
// the connection advertises exactly that limit; one over twice the limit (an HPACK bomb's
// size) is reset rather than decoded; a stream the client resets before its response is
// logged as 499, nginx's "client closed request" (docs/http2.md).
func TestH2OwnAnswersLogged(t *testing.T) {
	metrics := freePort(t)
	s := startH2(t, nil, "--http2-cleartext", "--http2-max-header-list-size", "4096", "--metrics-bind", metrics,
		"--access-logfile", "-", "--access-logformat", `"%(r)s" %(s)s %(b)s`)
	h := dialH2Raw(t, s, nil)
	if v := h.settings[http2.SettingMaxHeaderListSize]; v != 4096 {
		t.Errorf("server's MAX_HEADER_LIST_SIZE = %d; want 4096, the configured limit", v)
	}
	// Just over the limit: 431 with gonicorn's body, in the log with its request line.
	h.request(1, "GET", "/big", nil, "x-big", strings.Repeat("a", 2000), "x-big2", strings.Repeat("b", 2000))
	if a := h.answer(1, 10*time.Second); a.status != 431 || string(a.body) != "Request Header Fields Too Large\n" {
		t.Errorf("a 4.2 KB header list: %v; want gonicorn's 431", a)
	}
	if !s.log.waitFor(`"GET /big HTTP/2" 431 32`, 5*time.Second) {
		t.Errorf("no access log line for the 431:\n%s", s.log)
	}
	// A stream reset by the client while its body is awaited: a 499 line.
	h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: h.block("POST", "/up", "content-length", "10"), EndHeaders: true})
	h.fr.WriteData(3, false, []byte("12345"))
	h.fr.WriteRSTStream(3, http2.ErrCodeCancel)
	if !s.log.waitFor(`"POST /up HTTP/2" 499 0`, 5*time.Second) {
		t.Errorf("no access log line for the reset stream:\n%s", s.log)
	}
	// The connection still serves.
	h.request(5, "GET", "/env", nil)
	if a := h.answer(5, 10*time.Second); a.status != 200 {
		t.Errorf("after the 431 and the reset: %v; want 200", a)
	}
	// Over twice the limit: reset (or the connection closed), never x/net's own 431.
	h.request(7, "GET", "/huge", nil, "x-1", strings.Repeat("a", 3000), "x-2", strings.Repeat("b", 3000), "x-3", strings.Repeat("c", 3000))
	if a := h.answer(7, 10*time.Second); a.status != 0 || !a.reset && !a.closed && !a.goaway {
		t.Errorf("a 9 KB header list: %v; want a reset", a)
	}
	waitMetric(t, metrics, `gonicorn_rejected_requests_total{reason="431"}`, func(v float64) bool { return v == 1 })
	waitMetric(t, metrics, `gonicorn_http_requests_total{code="4xx",method="POST"}`, func(v float64) bool { return v == 1 })
	if strings.Contains(s.log.String(), "/huge") {
		t.Errorf("the reset request is in the log:\n%s", s.log)
	}
}

// goneAway reads h's connection until the server ends it, within d, and returns the last
// GOAWAY it sent (nil if none) and whether the connection ended.
func goneAway(h *h2Raw, d time.Duration) (*http2.GoAwayFrame, bool) {
	h.c.SetReadDeadline(time.Now().Add(d))
	var g *http2.GoAwayFrame
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			return g, !isTimeout(err)
		}
		if ga, ok := f.(*http2.GoAwayFrame); ok {
			c := *ga
			g = &c
		}
	}
}

// At --max-connections an HTTP/2 connection with no stream open is idle as an HTTP/1.1
// connection in keep-alive is: the one idle longest is closed to admit a new client,
// gracefully (GOAWAY NO_ERROR naming the last stream it processed, RFC 9113 §6.8, then the
// close), and one with a stream open is never closed for room (docs/limits.md).
func TestH2MaxConnectionsEviction(t *testing.T) {
	metrics := freePort(t)
	a := startAttackTarget(t, "--max-connections", "2", "--threads", "2", "--metrics-bind", metrics)
	served := func(t *testing.T, h *h2Raw, id uint32, what string) {
		t.Helper()
		h.request(id, "GET", "/env", nil)
		if ans := h.answer(id, 10*time.Second); ans.status != 200 {
			t.Fatalf("%s: %v; want 200", what, ans)
		}
	}
	evicted := func(t *testing.T, h *h2Raw, lastStream uint32, what string) {
		t.Helper()
		g, closed := goneAway(h, 10*time.Second)
		if g == nil || g.ErrCode != http2.ErrCodeNo || g.LastStreamID != lastStream || !closed {
			t.Errorf("%s: GOAWAY %+v, closed %v; want GOAWAY NO_ERROR with last stream %d, then the close", what, g, closed, lastStream)
		}
	}
	newClient := func(t *testing.T, what string) {
		t.Helper()
		if r, err := a.fetch("/env"); err != nil || r.status != 200 {
			t.Fatalf("%s: %+v, %v; want 200", what, r, err)
		}
	}

	t.Run("oldest idle closed", func(t *testing.T) {
		older := dialH2Raw(t, a.server, nil)
		served(t, older, 1, "the older connection")
		newer := dialH2Raw(t, a.server, nil)
		served(t, newer, 1, "the newer connection")
		newClient(t, "a third client at the limit with two idle HTTP/2 connections")
		evicted(t, older, 1, "the older idle connection")
		served(t, newer, 3, "the newer idle connection, after the third client")
		newer.c.Close()
		waitOpenConns(t, metrics, 0)
	})

	t.Run("busy kept", func(t *testing.T) {
		gate := filepath.Join(t.TempDir(), "gate")
		busy := dialH2Raw(t, a.server, nil)
		busy.request(1, "GET", "/count?wait="+gate, nil)
		for deadline := time.Now().Add(10 * time.Second); a.calls() == 0; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the app never got the busy connection's request")
			}
		}
		idle := dialH2Raw(t, a.server, nil)
		served(t, idle, 1, "the idle connection")
		newClient(t, "a third client at the limit with a busy and an idle HTTP/2 connection")
		evicted(t, idle, 1, "the idle connection, newer than the busy one")
		os.WriteFile(gate, nil, 0o644)
		if ans := busy.answer(1, 10*time.Second); ans.status != 200 || string(ans.body) != "counted" {
			t.Errorf("the busy connection's stream: %v; want 200 counted", ans)
		}
		served(t, busy, 3, "the busy connection, after its stream")
	})
}

// An h2c connection is not bound by the --header-timeout of its first bytes (the client
// preface is read as an HTTP/1.1 head would be): it stays open between requests, for
// --keep-alive, as a TLS one does.
func TestH2CleartextOutlivesHeaderTimeout(t *testing.T) {
	s := startH2(t, nil, "--http2-cleartext", "--header-timeout", "1")
	h := dialH2Raw(t, s, nil)
	h.request(1, "GET", "/env", nil)
	if a := h.answer(1, 10*time.Second); a.status != 200 {
		t.Fatalf("first request: %v; want 200", a)
	}
	time.Sleep(1500 * time.Millisecond) // past --header-timeout of the preface's first byte
	h.request(3, "GET", "/env", nil)
	if a := h.answer(3, 10*time.Second); a.status != 200 {
		t.Errorf("a request after --header-timeout: %v; want 200 on the same connection", a)
	}
}

// An eviction for --max-connections races an HTTP/2 client's next request, in hundreds of
// rounds against a stream of new clients at --max-connections 1, each of which closes the
// idle HTTP/2 connection to get in. The request crosses the GOAWAY (its HEADERS frame sent
// in two parts, CONTINUATION after a pause, so that the close also lands while the block is
// arriving): it is either processed and answered whole, or left unprocessed with a GOAWAY
// whose last stream is below it (RFC 9113 §6.8), and the client retries it on a new
// connection. No request is run without its answer, none is reset.
func TestH2EvictionRacesNextRequest(t *testing.T) {
	access := filepath.Join(t.TempDir(), "access.log")
	s := startH2(t, nil, "--http2-cleartext", "--max-connections", "1", "--access-logfile", access, "--access-logformat", "%(r)s %(s)s")
	done := make(chan struct{})
	newcomers := make(chan int)
	go func() { // new clients, one after the other, until the HTTP/2 client is done
		n := 0
		defer func() { newcomers <- n }()
		for {
			select {
			case <-done:
				return
			default:
			}
			time.Sleep(time.Duration(n%9) * 700 * time.Microsecond) // arrive at varied moments
			if r, err := s.fetch("/newcomer"); err == nil && r.status == 200 {
				n++
			}
		}
	}()

	const rounds = 300
	answered := map[int]bool{}
	var h *h2Raw
	var id uint32
	for i := 0; i < rounds; i++ {
		if h == nil {
			h, id = dialH2Raw(t, s, nil), 1
		}
		time.Sleep(time.Duration(i%4) * time.Millisecond) // idle for a moment, sometimes not at all
		blk := h.block("GET", fmt.Sprintf("/env?id=%d", i))
		h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: blk[:len(blk)/2], EndStream: true})
		time.Sleep(time.Duration(i%3) * 100 * time.Microsecond)
		h.fr.WriteContinuation(id, true, blk[len(blk)/2:])
		a := h.answer(id, 20*time.Second)
		switch {
		case a.status == 200:
			answered[i] = true
			id += 2
		case a.goaway && a.code == http2.ErrCodeNo && a.status == 0:
			h.c.Close() // evicted before the server processed it: retry on a new connection
			h = nil
		default:
			t.Fatalf("request %d: %v; want a whole 200, or GOAWAY NO_ERROR below its stream", i, a)
		}
	}
	if h != nil {
		h.c.Close()
	}
	close(done)
	checkEvictionRace(t, s, access, answered, rounds, <-newcomers, func(i int) string { return fmt.Sprintf("GET /env?id=%d HTTP/2 ", i) })
}
