package e2e

// End-to-end tests of queryable logs (issue 12, section 3): the JSON access log with hostile
// values sent by a raw client, request ids from a trusted proxy or generated, and the JSON
// error log with the request id on the lines about a request (test/apps/logs.py).

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// logsStart runs test/apps/logs.py with its access log, as JSON, in a file; it returns the
// server and the file's path.
func logsStart(t *testing.T, flags ...string) (*server, string) {
	t.Helper()
	access := filepath.Join(t.TempDir(), "access.log")
	args := append([]string{"--access-logfile", access, "--access-logformat", "json"}, flags...)
	return pepStart(t, "logs", args...), access
}

// accessLines waits until the access log at path holds at least n lines and returns them.
func accessLines(t *testing.T, path string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if bytes.Count(b, []byte("\n")) >= n && bytes.HasSuffix(b, []byte("\n")) {
			return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		}
		if time.Now().After(deadline) {
			t.Fatalf("access log has %d lines after 10 s; want %d:\n%s", bytes.Count(b, []byte("\n")), n, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// decodeBoth decodes each line with encoding/json and with Python's json module, checks
// that both agree, and returns the objects.
func decodeBoth(t *testing.T, lines []string) []map[string]any {
	t.Helper()
	var objs []map[string]any
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("encoding/json cannot decode the line %q: %v", l, err)
		}
		objs = append(objs, m)
	}
	// Python re-encodes each object in ASCII; decoded again here, it must be the same.
	py := exec.Command(python(t), "-c", `
import json, sys
for line in sys.stdin.buffer.read().decode("utf-8").split("\n"):
    if line:
        print(json.dumps(json.loads(line), ensure_ascii=True))
`)
	py.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	out, err := py.Output()
	if err != nil {
		t.Fatalf("Python's json module cannot decode the lines: %v\n%s", err, strings.Join(lines, "\n"))
	}
	pyLines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(pyLines) != len(lines) {
		t.Fatalf("Python decoded %d lines; want %d", len(pyLines), len(lines))
	}
	for i, pl := range pyLines {
		var m map[string]any
		if err := json.Unmarshal([]byte(pl), &m); err != nil {
			t.Fatalf("Python's re-encoding %q: %v", pl, err)
		}
		if !reflect.DeepEqual(m, objs[i]) {
			t.Errorf("line %q: Python decodes %v; Go decodes %v", lines[i], m, objs[i])
		}
	}
	return objs
}

// byRequestID finds the access log object of the request id id.
func byRequestID(t *testing.T, objs []map[string]any, id string) map[string]any {
	t.Helper()
	if id == "" {
		t.Fatalf("the response has no X-Request-ID")
	}
	for _, o := range objs {
		if o["request_id"] == id {
			return o
		}
	}
	t.Fatalf("no access log line with request_id %q", id)
	return nil
}

// checkFields compares the fields of o named in want; a want of "number" or "null" checks
// only the type.
func checkFields(t *testing.T, what string, o map[string]any, want map[string]any) {
	t.Helper()
	for k, w := range want {
		got, ok := o[k]
		switch {
		case !ok:
			t.Errorf("%s: no field %q in %v", what, k, o)
		case w == "number":
			if _, isNum := got.(float64); !isNum {
				t.Errorf("%s: %s = %#v; want a number", what, k, got)
			}
		case w == "null":
			if got != nil {
				t.Errorf("%s: %s = %#v; want null", what, k, got)
			}
		case !reflect.DeepEqual(got, w):
			t.Errorf("%s: %s = %#v; want %#v", what, k, got, w)
		}
	}
}

var generatedID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// TestAccessLogJSON sends normal, 404, 500, front-rejected (400, 413) and hostile requests
// over raw sockets and checks their JSON access log lines: one object per line, typed
// numbers, the documented fields, decoded alike by Go and Python, tied to the response by
// the request id.
func TestAccessLogJSON(t *testing.T) {
	s, access := logsStart(t, "--limit-request-body", "16")
	type sent struct {
		name, req string
		status    int
		want      map[string]any
	}
	reqs := []sent{
		{"hello", "GET /?a=1 HTTP/1.1\r\nHost: t\r\nUser-Agent: curl/8\r\nReferer: http://r/\r\n\r\n", 200, map[string]any{
			"method": "GET", "path": "/", "query": "a=1", "protocol": "HTTP/1.1", "status": 200.0,
			"body_bytes_sent": 2.0, "body_bytes_received": 0.0, "referer": "http://r/", "user_agent": "curl/8",
			"remote_addr": "127.0.0.1", "duration_seconds": "number", "queue_seconds": "number",
			"app_seconds": "number", "pid": "number"}},
		{"post", "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello", 200, map[string]any{
			"method": "POST", "status": 200.0, "body_bytes_sent": 5.0, "body_bytes_received": 5.0, "referer": "", "user_agent": ""}},
		{"404", "GET /missing HTTP/1.1\r\nHost: t\r\n\r\n", 404, map[string]any{"status": 404.0, "body_bytes_sent": 9.0, "pid": "number"}},
		{"500", "GET /raise HTTP/1.1\r\nHost: t\r\n\r\n", 500, map[string]any{"status": 500.0, "pid": "number", "app_seconds": "number"}},
		// Rejected by the front: no worker is involved.
		{"400", "GET / HTTP/1.1\r\nHost: t\r\nBad Name: x\r\n\r\n", 400, map[string]any{
			"status": 400.0, "pid": "null", "queue_seconds": "null", "app_seconds": "null", "method": "GET"}},
		{"413", "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n", 413, map[string]any{
			"status": 413.0, "pid": "null", "queue_seconds": "null", "app_seconds": "null", "path": "/echo"}},
		// Hostile values: quotes and backslashes that would end a field, bytes that are not
		// UTF-8 in the path, the query and headers, a tab, a forged JSON tail.
		{"hostile", "GET /h\"o\\s\xfft\xc3?q=\"\\\xe9 HTTP/1.1\r\nHost: t\r\n" +
			"User-Agent: a\"b\\c\xff\td\",\"status\":999,\"x\":\"\r\nReferer: \xc3\x28\"\r\n\r\n", 200, map[string]any{
			"path": `/h"o\x5cs\xfft\xc3`, "query": `q="\x5c\xe9`, "status": 200.0,
			"user_agent": "a\"b\\x5cc\\xff\td\",\"status\":999,\"x\":\"", "referer": `\xc3("`}},
	}
	ids := make(map[string]string)
	for _, r := range reqs {
		resp := s.do(r.req)
		if resp.status != r.status {
			t.Fatalf("%s: status %d; want %d", r.name, resp.status, r.status)
		}
		ids[r.name] = resp.header("X-Request-ID")
		if !generatedID.MatchString(ids[r.name]) {
			t.Errorf("%s: X-Request-ID %q; want a generated id (32 hex digits)", r.name, ids[r.name])
		}
	}
	lines := accessLines(t, access, len(reqs))
	for _, l := range lines {
		if strings.ContainsAny(l, "\r\t\x00") || !strings.HasPrefix(l, "{") || !strings.HasSuffix(l, "}") {
			t.Errorf("access log line %q is not one clean JSON object", l)
		}
	}
	objs := decodeBoth(t, lines)
	for _, r := range reqs {
		o := byRequestID(t, objs, ids[r.name])
		checkFields(t, r.name, o, r.want)
		if ts, _ := o["time"].(string); !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`).MatchString(ts) {
			t.Errorf("%s: time %q; want RFC 3339 in UTC with milliseconds", r.name, ts)
		}
	}
}

// TestRequestIDTrustedProxy checks that a trusted proxy's (here: 127.0.0.1, the default
// --forwarded-allow-ips) X-Request-ID reaches the app, the response and the access log, and
// that an invalid one is replaced by a generated id.
func TestRequestIDTrustedProxy(t *testing.T) {
	s, access := logsStart(t)
	r := s.do("GET /id HTTP/1.1\r\nHost: t\r\nX-Request-ID: lb-4711\r\n\r\n")
	if string(r.body) != "lb-4711" || r.header("X-Request-ID") != "lb-4711" {
		t.Errorf("trusted X-Request-ID lb-4711: app saw %q, response has %q; want lb-4711 for both", r.body, r.header("X-Request-ID"))
	}
	r2 := s.do("GET /id HTTP/1.1\r\nHost: t\r\nX-Request-ID: has space " + strings.Repeat("x", 200) + "\r\n\r\n")
	if !generatedID.MatchString(string(r2.body)) || r2.header("X-Request-ID") != string(r2.body) {
		t.Errorf("invalid X-Request-ID from a trusted proxy: app saw %q, response has %q; want one generated id", r2.body, r2.header("X-Request-ID"))
	}
	// The app's own X-Request-ID wins: the response carries it alone.
	r3 := s.do("GET /appid HTTP/1.1\r\nHost: t\r\nX-Request-ID: lb-4712\r\n\r\n")
	if got := r3.headers["x-request-id"]; len(got) != 1 || got[0] != "from-the-app" {
		t.Errorf("app setting X-Request-ID: response has %q; want only the app's", got)
	}
	objs := decodeBoth(t, accessLines(t, access, 3))
	byRequestID(t, objs, "lb-4711")
	byRequestID(t, objs, string(r2.body))
	byRequestID(t, objs, "lb-4712") // the id the app was given
}

// TestRequestIDUntrustedClient checks that a client that is not a trusted proxy cannot
// choose the id: the app, the response and the access log get a generated one.
func TestRequestIDUntrustedClient(t *testing.T) {
	s, access := logsStart(t, "--forwarded-allow-ips", "192.0.2.1")
	r := s.do("GET /id HTTP/1.1\r\nHost: t\r\nX-Request-ID: forged\r\nx-request-id: forged2\r\n\r\n")
	if !generatedID.MatchString(string(r.body)) || r.header("X-Request-ID") != string(r.body) {
		t.Errorf("untrusted X-Request-ID: app saw %q, response has %q; want one generated id", r.body, r.header("X-Request-ID"))
	}
	r2 := s.do("GET /id HTTP/1.1\r\nHost: t\r\n\r\n")
	if r2.header("X-Request-ID") == r.header("X-Request-ID") {
		t.Errorf("two requests got the id %s", r.header("X-Request-ID"))
	}
	objs := decodeBoth(t, accessLines(t, access, 2))
	byRequestID(t, objs, string(r.body))
}

// TestRequestIDOff checks --request-id-header ”: no id anywhere, and the client's header
// reaches the app as any header does.
func TestRequestIDOff(t *testing.T) {
	s, access := logsStart(t, "--request-id-header", "")
	r := s.do("GET /id HTTP/1.1\r\nHost: t\r\nX-Request-ID: client-1\r\n\r\n")
	if string(r.body) != "client-1" || r.header("X-Request-ID") != "" {
		t.Errorf("ids off: app saw %q, response has X-Request-ID %q; want client-1 and none", r.body, r.header("X-Request-ID"))
	}
	objs := decodeBoth(t, accessLines(t, access, 1))
	checkFields(t, "ids off", objs[0], map[string]any{"request_id": ""})
}

// TestRequestIDTextLogs checks the request id in gunicorn's text logs: the access log's
// %({x-request-id}i)s is the id the app got, and the traceback's error line names it.
func TestRequestIDTextLogs(t *testing.T) {
	access := filepath.Join(t.TempDir(), "access.log")
	s := pepStart(t, "logs", "--access-logfile", access, "--access-logformat", `%(r)s %(s)s %({x-request-id}i)s %({x-request-id}o)s`)
	s.do("GET /raise HTTP/1.1\r\nHost: t\r\nX-Request-ID: rid-text\r\n\r\n")
	lines := accessLines(t, access, 1)
	if lines[0] != "GET /raise HTTP/1.1 500 rid-text rid-text" {
		t.Errorf("access log line %q; want the request id from both atoms", lines[0])
	}
	if !s.log.waitFor("ValueError: logs-raise-marker", 5*time.Second) {
		t.Fatalf("no traceback in the error log:\n%s", s.log)
	}
	log := s.log.String()
	head := regexp.MustCompile(`\] \[ERROR\] Error handling request /raise request_id=rid-text\nTraceback \(most recent call last\):\n`)
	if !head.MatchString(log) {
		t.Errorf("error log lacks the traceback headed by its request's id:\n%s", log)
	}
}

// jsonRecords decodes the server's error log, which must be JSON lines only (decoded alike
// by Go and Python).
func jsonRecords(t *testing.T, s *server) []map[string]any {
	t.Helper()
	return decodeBoth(t, strings.Split(strings.TrimSuffix(s.log.String(), "\n"), "\n"))
}

// findRecord returns the first record whose msg contains msg.
func findRecord(recs []map[string]any, msg string) map[string]any {
	for _, r := range recs {
		if m, _ := r["msg"].(string); strings.Contains(m, msg) {
			return r
		}
	}
	return nil
}

// TestErrorLogJSON checks --error-log-format json end to end: every line of the error log
// is a JSON object; an exception the app raised is one record with its request's id and
// the traceback as one field; a chained traceback the app printed itself is one record of
// the worker's pid, apart from the output after it; a --timeout names the request's id, and
// the worker's stack dump is one record that names it too.
func TestErrorLogJSON(t *testing.T) {
	s, _ := logsStart(t, "--error-log-format", "json", "--timeout", "1")
	if r := s.do("GET /raise HTTP/1.1\r\nHost: t\r\nX-Request-ID: rid-raise\r\n\r\n"); r.status != 500 {
		t.Fatalf("GET /raise = %d; want 500", r.status)
	}
	if r := s.get("/printtb"); r.status != 200 {
		t.Fatalf("GET /printtb = %d; want 200", r.status)
	}
	if r := s.do("GET /hang HTTP/1.1\r\nHost: t\r\nX-Request-ID: rid-hang\r\n\r\n"); r.status != 504 {
		t.Fatalf("GET /hang = %d; want 504", r.status)
	}
	for _, want := range []string{"logs-raise-marker", "logs-printed-marker", "logs: after the traceback", "WORKER TIMEOUT", "most recent call first"} {
		if !s.log.waitFor(want, 10*time.Second) {
			t.Fatalf("%q is not in the error log:\n%s", want, s.log)
		}
	}
	recs := jsonRecords(t, s)
	for _, r := range recs {
		if _, ok := r["pid"].(float64); !ok || r["time"] == nil || r["level"] == nil || r["msg"] == nil {
			t.Errorf("record %v lacks time, level, msg or a numeric pid", r)
		}
	}

	raised := findRecord(recs, "Error handling request /raise")
	tb, _ := raised["traceback"].(string)
	if raised == nil || raised["level"] != "ERROR" || raised["request_id"] != "rid-raise" ||
		!strings.HasPrefix(tb, "Traceback (most recent call last):") || !strings.HasSuffix(tb, "ValueError: logs-raise-marker") {
		t.Errorf("record of the raised exception = %v; want ERROR, request_id rid-raise, the traceback in one field", raised)
	}

	printed := findRecord(recs, "RuntimeError: logs-printed-marker")
	tb, _ = printed["traceback"].(string)
	if printed == nil || printed["level"] != "ERROR" || !strings.Contains(tb, "KeyError: 'logs-inner-marker'") ||
		!strings.Contains(tb, "The above exception was the direct cause") || strings.Contains(tb, "after the traceback") {
		t.Errorf("record of the printed chained traceback = %v; want one ERROR record holding both tracebacks, not the output after", printed)
	}
	if n := strings.Count(s.log.String(), "KeyError: 'logs-inner-marker'"); n != 1 {
		t.Errorf("the printed traceback's inner exception is in %d records; want 1", n)
	}
	after := findRecord(recs, "logs: after the traceback")
	if after == nil || after["level"] != "INFO" || printed != nil && after["pid"] != printed["pid"] {
		t.Errorf("record of the output after the traceback = %v; want INFO, the worker's pid", after)
	}

	timeout := findRecord(recs, "WORKER TIMEOUT")
	if timeout == nil || timeout["level"] != "CRITICAL" || timeout["request_id"] != "rid-hang" || timeout["request"] != "GET /hang HTTP/1.1" {
		t.Errorf("WORKER TIMEOUT record = %v; want CRITICAL with request GET /hang HTTP/1.1 and request_id rid-hang", timeout)
	}
	var dumps int
	for _, r := range recs {
		if tb, _ := r["traceback"].(string); strings.Contains(tb, "most recent call first") {
			dumps++
			if r["level"] != "CRITICAL" || !strings.Contains(tb, "in application") || r["request_id"] != "rid-hang" {
				t.Errorf("stack dump record = %v; want CRITICAL, with the hung application's frame and request_id rid-hang", r)
			}
		}
	}
	if dumps != 1 {
		t.Errorf("the timed-out worker's stack dump is in %d records; want 1:\n%s", dumps, s.log)
	}
}
