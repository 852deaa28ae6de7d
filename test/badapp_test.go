package e2e

// End-to-end tests of what a client sees when the app misbehaves (test/apps/badapp.py): an
// app error is a 500 (or a cut connection once the response started) and the worker stays;
// a dying worker is a 502 and is replaced; nothing an app does can split a response.

import (
	"bufio"
	"errors"
	"io"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

func startBadApp(t *testing.T, flags ...string) *server {
	t.Helper()
	return pepStart(t, "badapp", flags...)
}

// countIn returns how often sub occurs in the server log.
func (s *server) logCount(sub string) int { return strings.Count(s.log.String(), sub) }

// waitForCount waits until the server log contains sub at least n times.
func (s *server) waitForLogCount(sub string, n int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for s.logCount(sub) < n {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

func TestBadAppRaise(t *testing.T) {
	s := startBadApp(t)

	// PEP 3333: an exception before anything was sent is answered with a 500; the traceback
	// goes to the error log, not to the client.
	r := s.get("/raise-before")
	if r.status != 500 || strings.Contains(string(r.body), "badapp-raise-before") {
		t.Errorf("GET /raise-before = %d %q; want 500 without the traceback", r.status, r.body)
	}
	if !s.log.waitFor("RuntimeError: badapp-raise-before", 5*time.Second) {
		t.Errorf("the traceback is not in the error log")
	}

	// After a block reached the client, only cutting the connection short tells it: no
	// terminating chunk (RFC 9112 §7.1).
	g := newAppGate(t)
	c := pepDial(t, s)
	io.WriteString(c, "GET /raise-after?"+g.query()+" HTTP/1.1\r\nHost: t\r\n\r\n")
	assertTruncatedAfterBlock1(t, bufio.NewReader(c), g)
	if !s.log.waitFor("RuntimeError: badapp-raise-after", 5*time.Second) {
		t.Errorf("the traceback is not in the error log")
	}

	// An app error leaves the worker in service.
	if r := s.get("/ok"); r.status != 200 {
		t.Errorf("GET /ok after the errors = %d", r.status)
	}
	if n := s.logCount("Booting worker"); n != 1 {
		t.Errorf("%d workers booted; want 1 (an app exception must not replace the worker)", n)
	}
}

// TestBadAppStatusAndHeaders checks that an invalid status line or header field from the
// app is a 500 and is never written: a response cannot be split (CWE-113).
func TestBadAppStatusAndHeaders(t *testing.T) {
	s := startBadApp(t)
	for _, tc := range []struct {
		name, target string
	}{
		// RFC 9112 §4: status-code is 3 digits, then SP and a reason phrase.
		{"status without reason", "/status?s=200"},
		{"status not a number", "/status?s=abc+OK"},
		{"status with CRLF", "/status?s=" + url.QueryEscape("200 OK\r\nInjected: yes")},
		// RFC 9110 §5.1: a field name is a token.
		{"name with space", "/header?n=" + url.QueryEscape("Injected Name") + "&v=x"},
		{"name with colon", "/header?n=" + url.QueryEscape("Injected:Name") + "&v=x"},
		{"name not a token", "/header?n=" + url.QueryEscape("Injected(Name)") + "&v=x"},
		{"name with CRLF", "/header?n=" + url.QueryEscape("X\r\nInjected: yes\r\nY") + "&v=x"},
		// RFC 9110 §5.5: CR, LF and NUL are invalid in a field value.
		{"value with CR", "/header?n=X-Ok&v=" + url.QueryEscape("x\rInjected: yes")},
		{"value with LF", "/header?n=X-Ok&v=" + url.QueryEscape("x\nInjected: yes")},
		{"value with CRLF", "/header?n=X-Ok&v=" + url.QueryEscape("x\r\nInjected: yes")},
		{"value with NUL", "/header?n=X-Ok&v=" + url.QueryEscape("x\x00Injected: yes")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := s.raw("GET "+tc.target+" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 5*time.Second)
			if !strings.HasPrefix(raw, "HTTP/1.1 500 ") {
				t.Errorf("GET %s = %q; want a 500", tc.target, firstLine(raw))
			}
			if strings.Contains(raw, "Injected") || strings.Contains(raw, "X-Ok") || strings.Contains(raw, "bad status") || strings.Contains(raw, "bad header") {
				t.Errorf("GET %s: the response contains what the app sent:\n%s", tc.target, raw)
			}
		})
	}
}

// TestBadAppContentLength checks a body that does not match the app's Content-Length: the
// client gets at most Content-Length bytes; a longer body is cut to its length and the
// connection stays usable, a shorter one closes it (RFC 9112 §6.3). Both are logged as a
// warning naming the request.
func TestBadAppContentLength(t *testing.T) {
	s := startBadApp(t)

	c := pepDial(t, s)
	io.WriteString(c, "GET /longer HTTP/1.1\r\nHost: t\r\n\r\nGET /longer?again HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
	br := bufio.NewReader(c)
	for range 2 {
		r, err := readResponse(br, "GET")
		if err != nil || r.status != 200 || string(r.body) != "01234" {
			t.Fatalf("GET /longer: %v; want 200 with the 5 bytes of Content-Length", err)
		}
	}
	if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
		t.Errorf("after the second response: %q, %v; want nothing more", rest, err)
	}
	if !s.log.waitFor(`request="GET /longer" content_length=5 body_bytes=10`, 5*time.Second) {
		t.Errorf("no warning naming the request with the longer body")
	}

	c = pepDial(t, s)
	io.WriteString(c, "GET /shorter HTTP/1.1\r\nHost: t\r\n\r\n")
	br = bufio.NewReader(c)
	head, err := readHead(br)
	if err != nil || head.status != 200 || head.header("Content-Length") != "10" {
		t.Fatalf("GET /shorter: %v; want 200 with Content-Length 10", err)
	}
	if body, err := io.ReadAll(br); err != nil || string(body) != "01234" {
		t.Errorf("GET /shorter body = %q, %v; want 01234, then the connection closed", body, err)
	}
	if !s.log.waitFor(`request="GET /shorter" content_length=10 body_bytes=5`, 5*time.Second) {
		t.Errorf("no warning naming the request with the shorter body")
	}
}

// TestBadAppStrBody checks that str blocks instead of bytes are an error (PEP 3333: the
// body is bytestrings).
func TestBadAppStrBody(t *testing.T) {
	s := startBadApp(t)
	for _, path := range []string{"/str-list", "/str-gen"} {
		if r := s.get(path); r.status != 500 {
			t.Errorf("GET %s = %d %q; want 500", path, r.status, r.body)
		}
	}
	if !s.log.waitFor("response block must be bytes, not str", 5*time.Second) {
		t.Errorf("the TypeError is not in the error log")
	}
}

// TestBadAppImportError checks that an app that cannot be imported stops gonicorn with exit
// status 3 and the traceback on stderr.
func TestBadAppImportError(t *testing.T) {
	s := startNoWait(t, "--python", python(t), "--chdir", appsDir(t), "badimport")
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("gonicorn still running 10 s after starting an app that cannot be imported")
	}
	var ee *exec.ExitError
	if !errors.As(s.err, &ee) || ee.ExitCode() != 3 {
		t.Errorf("exit = %v; want exit status 3", s.err)
	}
	log := s.log.String()
	if !strings.Contains(log, "Traceback (most recent call last)") || !strings.Contains(log, "RuntimeError: badimport-marker") {
		t.Errorf("stderr has no traceback of the import error:\n%s", log)
	}
}

// TestBadAppWorkerExit checks that a worker dying mid-request answers that request with a
// 502 and is replaced.
func TestBadAppWorkerExit(t *testing.T) {
	s := startBadApp(t)
	if r := s.get("/exit"); r.status != 502 {
		t.Errorf("GET /exit = %d %q; want 502", r.status, r.body)
	}
	if !s.waitForLogCount("Booting worker", 2, 10*time.Second) {
		t.Fatalf("the dead worker was not replaced within 10 s")
	}
	if r := s.get("/ok"); r.status != 200 {
		t.Errorf("GET /ok after the worker died = %d %q; want 200", r.status, r.body)
	}
}

// TestBadAppWorkerExitConcurrent checks that with two workers, a request that kills one does
// not affect a slow request running on the other.
func TestBadAppWorkerExitConcurrent(t *testing.T) {
	s := startBadApp(t, "-w", "2")
	if !s.waitForLogCount("Booting worker", 2, 10*time.Second) {
		t.Fatalf("two workers not ready within 10 s")
	}
	g := newAppGate(t)
	var (
		wg   sync.WaitGroup
		slow *response
		err  error
	)
	c := pepDial(t, s)
	io.WriteString(c, "GET /slow?"+g.query()+" HTTP/1.1\r\nHost: t\r\n\r\n")
	wg.Add(1)
	go func() {
		defer wg.Done()
		slow, err = readResponse(bufio.NewReader(c), "GET")
	}()
	g.arrived() // the slow request is in the app, on one worker

	if r := s.get("/exit"); r.status != 502 {
		t.Errorf("GET /exit = %d %q; want 502", r.status, r.body)
	}
	g.open()
	wg.Wait()
	if err != nil || slow.status != 200 || string(slow.body) != "slow done" {
		t.Fatalf("the slow request on the other worker: %v; want 200 slow done", err)
	}
	if !s.waitForLogCount("Booting worker", 3, 10*time.Second) {
		t.Errorf("the dead worker was not replaced within 10 s")
	}
}
