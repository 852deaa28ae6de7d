package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestFactoryAndEnv: `module:create_app()` is called once per worker, literal arguments are
// passed, -e sets the workers' environment, and --pythonpath puts a directory first.
func TestFactoryAndEnv(t *testing.T) {
	s := start(t, "--python", python(t), "--chdir", appsDir(t), "-e", "GREETING_ENV=set-by-e",
		"--pythonpath", "/nonexistent-first", `factory:create_app("hi")`)
	r := s.get("/")
	body := string(r.body)
	if r.status != 200 || !strings.HasPrefix(body, "hi from pid") || !strings.Contains(body, "factory calls 1,") ||
		!strings.Contains(body, "env set-by-e") || !strings.Contains(body, "path0 /nonexistent-first") {
		t.Fatalf("GET / = %d %q; want the factory's app with greeting hi, one call, env and sys.path[0] set", r.status, body)
	}
	// The factory runs once per worker, not per request.
	if r := s.get("/"); !strings.Contains(string(r.body), "factory calls 1,") {
		t.Errorf("second request: %q; want still one factory call", r.body)
	}
}

// TestDefaultCallableApp: with no callable, `application` is tried, then `app`; the package is
// found through --pythonpath.
func TestDefaultCallableApp(t *testing.T) {
	s := start(t, "--python", python(t), "--pythonpath", filepath.Join(appsDir(t), "pkgdir"), "onlyapp")
	if r := s.get("/"); r.status != 200 || string(r.body) != "only app" {
		t.Fatalf("GET / = %d %q; want 200 %q", r.status, r.body, "only app")
	}
}

// TestAccessLogDefaultFormat: --access-logfile - writes gunicorn's default (combined) format
// to stdout.
func TestAccessLogDefaultFormat(t *testing.T) {
	s := start(t, "--python", python(t), "--chdir", appsDir(t), "--access-logfile", "-", "basic")
	s.do("GET /list?x=1 HTTP/1.1\r\nHost: t\r\nReferer: http://ref/\r\nUser-Agent: agent \"7\"\r\n\r\n")
	// 127.0.0.1 - - [26/Nov/2026:17:00:00 +0000] "GET /list?x=1 HTTP/1.1" 200 13 "http://ref/" "agent \x227\x22"
	re := regexp.MustCompile(`127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "GET /list\?x=1 HTTP/1\.1" 200 13 "http://ref/" "agent \\x227\\x22"\n`)
	if !waitMatch(s, re) {
		t.Fatalf("access log line not found; want %v in:\n%s", re, s.log)
	}
}

// TestAccessLogCustomFormat: atoms for method, path, query, status, bytes, a request header,
// a response header, the worker pid and the duration.
func TestAccessLogCustomFormat(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "access.log")
	s := start(t, "--python", python(t), "--chdir", appsDir(t), "--access-logfile", logPath,
		"--access-logformat", `%(m)s %(U)s %(q)s %(H)s %(s)s %(B)s %({x-req}i)s %({content-type}o)s %(p)s %(D)s`, "basic")
	s.do("POST /echo?a=b HTTP/1.1\r\nHost: t\r\nX-Req: hello\r\nContent-Length: 3\r\n\r\nabc")
	re := regexp.MustCompile(`^POST /echo a=b HTTP/1\.1 200 3 hello application/octet-stream <\d+> \d+\n$`)
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(logPath)
		if re.Match(b) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("access log = %q; want a line matching %v", b, re)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestErrorLogFileAndLevel: --error-logfile writes gunicorn-style lines to a file and
// --log-level warning hides INFO lines of the master.
func TestErrorLogFileAndLevel(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "error.log")
	s := startNoWait(t, "--python", python(t), "--chdir", appsDir(t), "--error-logfile", logPath, "--log-level", "warning", "basic")
	if r, err := waitGet(s, "/"); err != nil || r.status != 200 {
		t.Fatalf("GET / = %v, %v", r, err)
	}
	s.stop()
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "[INFO] Starting gonicorn") {
		t.Errorf("error log has INFO lines with --log-level warning:\n%s", b)
	}
	s2 := startNoWait(t, "--python", python(t), "--chdir", appsDir(t), "--error-logfile", logPath, "basic")
	if r, err := waitGet(s2, "/"); err != nil || r.status != 200 {
		t.Fatalf("GET / = %v, %v", r, err)
	}
	s2.stop()
	b, _ = os.ReadFile(logPath)
	re := regexp.MustCompile(`(?m)^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] \[\d+\] \[INFO\] Starting gonicorn`)
	if !re.Match(b) {
		t.Errorf("error log file lacks a gunicorn-style start line:\n%s", b)
	}
}

// waitMatch waits up to 5 s for the server output to match re.
func waitMatch(s *server, re *regexp.Regexp) bool {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if re.MatchString(s.log.String()) {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// waitGet retries a GET until the server accepts connections (its log may go to a file, so
// readiness cannot be read from it).
func waitGet(s *server, path string) (*response, error) {
	var err error
	for i := 0; i < 300; i++ {
		var r *response
		r, err = tryGet(s.addr, path)
		if err == nil {
			return r, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, err
}
