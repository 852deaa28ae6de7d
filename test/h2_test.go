package e2e

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
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
	_ = filepath.Join
}
