package errorlog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// records decodes JSON error log output, one object per line.
func records(t *testing.T, out string) []map[string]any {
	t.Helper()
	var rs []map[string]any
	for _, l := range lines(t, out) {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q is not a JSON object: %v", l, err)
		}
		rs = append(rs, m)
	}
	return rs
}

var jsonTimeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

func TestJSONHandler(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewJSONHandler(NewSink(&buf), slog.LevelInfo))
	log.Debug("hidden")
	log.Info("Booting worker with pid: 4242")
	log.With("request_id", "rid-1").Error("Error handling request /x", "traceback", "Traceback (most recent call last):\n  File \"a.py\"\nValueError: boom")
	log.Log(context.Background(), LevelCritical, "WORKER TIMEOUT (pid:77)", "request", "GET / HTTP/1.1", "pid", 77)
	log.Warn("odd", "err", errors.New("broken \"pipe\"\n"), "after", 1500*time.Millisecond)
	rs := records(t, buf.String())
	if len(rs) != 4 {
		t.Fatalf("%d records; want 4 (debug hidden):\n%s", len(rs), buf.String())
	}
	pid := float64(os.Getpid())
	want := []map[string]any{
		{"level": "INFO", "msg": "Booting worker with pid: 4242", "pid": pid},
		{"level": "ERROR", "msg": "Error handling request /x", "pid": pid, "request_id": "rid-1",
			"traceback": "Traceback (most recent call last):\n  File \"a.py\"\nValueError: boom"},
		// A record's own pid is the worker it is about.
		{"level": "CRITICAL", "msg": "WORKER TIMEOUT (pid:77)", "pid": pid, "worker_pid": 77.0, "request": "GET / HTTP/1.1"},
		{"level": "WARNING", "msg": "odd", "pid": pid, "err": "broken \"pipe\"\n", "after": 1.5e9},
	}
	for i, r := range rs {
		if ts, _ := r["time"].(string); !jsonTimeRE.MatchString(ts) {
			t.Errorf("record %d: time %q; want RFC 3339 in UTC with milliseconds", i, ts)
		}
		delete(r, "time")
		if len(r) != len(want[i]) {
			t.Errorf("record %d = %v; want %v", i, r, want[i])
		}
		for k, v := range want[i] {
			if r[k] != v {
				t.Errorf("record %d: %s = %#v; want %#v", i, k, r[k], v)
			}
		}
	}
}

func TestJSONWorkerLines(t *testing.T) {
	var buf bytes.Buffer
	h := NewJSONHandler(NewSink(&buf), slog.LevelInfo)
	h.WorkerLine(4242, slog.LevelInfo, []byte("hello \"app\" \xff"))
	h.WorkerLine(4242, slog.LevelDebug, []byte("hidden"))
	h.WorkerBlock(4243, slog.LevelError, time.Now(), []byte("ValueError: x"), []byte("Traceback (most recent call last):\nValueError: x"),
		[]slog.Attr{slog.String("request_id", "r9")})
	rs := records(t, buf.String())
	if len(rs) != 2 {
		t.Fatalf("%d records; want 2:\n%s", len(rs), buf.String())
	}
	if rs[0]["pid"] != 4242.0 || rs[0]["msg"] != "hello \"app\" \uFFFD" || rs[0]["level"] != "INFO" {
		t.Errorf("worker line record = %v; want pid 4242, the line (invalid UTF-8 as U+FFFD), INFO", rs[0])
	}
	if rs[1]["pid"] != 4243.0 || rs[1]["msg"] != "ValueError: x" || rs[1]["traceback"] != "Traceback (most recent call last):\nValueError: x" || rs[1]["request_id"] != "r9" {
		t.Errorf("worker block record = %v; want pid 4243, the headline as msg, the block as traceback, request_id r9", rs[1])
	}
}

// TestTextTraceback checks that the text handler prints a traceback attribute under its
// message, as gunicorn does, after the other attributes.
func TestTextTraceback(t *testing.T) {
	var buf bytes.Buffer
	slog.New(NewHandler(NewSink(&buf), slog.LevelInfo)).With("request_id", "r1").
		Error("Error handling request /x", "traceback", "Traceback (most recent call last):\nValueError: boom")
	out := lines(t, buf.String())
	if len(out) != 3 || !strings.HasSuffix(out[0], "[ERROR] Error handling request /x request_id=r1") ||
		out[1] != "Traceback (most recent call last):" || out[2] != "ValueError: boom" {
		t.Errorf("text log of a traceback = %q; want the message line, then the traceback's lines", out)
	}
}

func TestClassifyBlock(t *testing.T) {
	type row struct {
		line   string
		begins bool
	}
	tests := []struct {
		name string
		rows []row
	}{
		{"output lines are each their own", []row{{"a", true}, {"b", true}, {"  c", true}}},
		{"chained traceback is one block", []row{
			{"Traceback (most recent call last):", true},
			{`  File "a.py", line 1, in f`, false},
			{"KeyError: 'x'", false},
			{"", false},
			{"The above exception was the direct cause of the following exception:", false},
			{"", false},
			{"Traceback (most recent call last):", false},
			{"RuntimeError: y", false},
			{"after", true},
		}},
		{"two tracebacks in a row are two blocks", []row{
			{"Traceback (most recent call last):", true},
			{"ValueError: 1", false},
			{"Traceback (most recent call last):", true},
			{"ValueError: 2", false},
		}},
		{"thread exception", []row{
			{"Exception in thread T:", true},
			{"Traceback (most recent call last):", false},
			{"OSError: gone", false},
		}},
		{"exception group", []row{
			{"  + Exception Group Traceback (most recent call last):", true},
			{"  | ExceptionGroup: eg (1 sub-exception)", false},
			{"  +-+---------------- 1 ----------------", false},
			{"    | Exception Group Traceback (most recent call last):", false},
			{"    | ValueError: 1", false},
		}},
		{"stack dump of two threads", []row{
			{"Thread 0x00007f77666086c0 (most recent call first):", true},
			{`  File "/srv/app.py", line 2 in f`, false},
			{"", false},
			{"Current thread 0x00007f776744ab80 (most recent call first):", false},
			{`  File "<string>", line 4 in <module>`, false},
		}},
		{"crash", []row{
			{"Fatal Python error: Segmentation fault", true},
			{"", false},
			{"Current thread 0x00007f776744ab80 (most recent call first):", false},
			{"Fatal Python error: again", true},
		}},
		{"warnings", []row{
			{"/srv/app.py:3: DeprecationWarning: old", true},
			{"  import imp", false},
			{"/srv/app.py:4: UserWarning: careful", true},
		}},
	}
	for _, tt := range tests {
		var c Classifier
		for i, r := range tt.rows {
			if _, begins := c.ClassifyBlock([]byte(r.line)); begins != r.begins {
				t.Errorf("%s: line %d %q begins = %v; want %v", tt.name, i, r.line, begins, r.begins)
			}
		}
	}
}

const chained = `Traceback (most recent call last):
  File "/srv/app.py", line 30, in application
    {}["logs-inner-marker"]
KeyError: 'logs-inner-marker'

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/srv/app.py", line 32, in application
    raise RuntimeError("logs-printed-marker") from e
RuntimeError: logs-printed-marker
`

// TestCopyWorkerOutputJSON writes a worker's output into a real pipe: a chained traceback
// becomes one record, the lines around it records of their own, in order; a traceback
// followed by silence is written once the worker stays quiet, without waiting for more.
func TestCopyWorkerOutputJSON(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var buf syncBuffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		CopyWorkerOutput(r, 99, Kind.Level, nil, NewJSONHandler(NewSink(&buf), slog.LevelDebug))
	}()
	// Line by line, as Python's traceback module prints.
	for _, l := range strings.SplitAfter("before\n"+chained, "\n") {
		w.WriteString(l)
	}
	// Silence: the traceback must come out without the pipe closing.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(buf.String(), "logs-printed-marker") {
		if time.Now().After(deadline) {
			t.Fatalf("the traceback was not written while the worker was quiet:\n%s", buf.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The block is written after 100 ms without a line, counted from its last line's read;
	// seen here at most a poll later.
	seen := time.Now()
	w.WriteString("after\nTraceback (most recent call last):\nValueError: last\n")
	w.Close()
	<-done
	r.Close()
	rs := records(t, buf.String())
	type want struct {
		level, msg, traceback string
	}
	wants := []want{
		{"INFO", "before", ""},
		{"ERROR", "RuntimeError: logs-printed-marker", strings.TrimSuffix(chained, "\n")},
		{"INFO", "after", ""},
		{"ERROR", "ValueError: last", "Traceback (most recent call last):\nValueError: last"},
	}
	if len(rs) != len(wants) {
		t.Fatalf("%d records; want %d:\n%s", len(rs), len(wants), buf.String())
	}
	// The block is dated when it began (its first line was read), so at least the silence
	// before the moment it was seen written, not when the silence ended.
	if ts, err := time.Parse(time.RFC3339, rs[1]["time"].(string)); err != nil || ts.After(seen.Add(-50*time.Millisecond)) {
		t.Errorf("the traceback's record is dated %v (%v); want before the silence that flushed it (seen written at %v)", ts, err, seen)
	}
	for i, w := range wants {
		tb, _ := rs[i]["traceback"].(string)
		if rs[i]["level"] != w.level || rs[i]["msg"] != w.msg || tb != w.traceback || rs[i]["pid"] != 99.0 {
			t.Errorf("record %d = %v; want %s %q with traceback %q, pid 99", i, rs[i], w.level, w.msg, w.traceback)
		}
	}
}

// TestCopyWorkerOutputText checks that the text log gets every line as printed, at once.
func TestCopyWorkerOutputText(t *testing.T) {
	var buf bytes.Buffer
	CopyWorkerOutput(strings.NewReader("before\n"+chained+"after"), 7, Kind.Level, nil, NewHandler(NewSink(&buf), slog.LevelDebug))
	got := lines(t, buf.String())
	want := strings.Split("before\n"+chained+"after", "\n")
	if len(got) != len(want) {
		t.Fatalf("%d lines; want %d:\n%s", len(got), len(want), buf.String())
	}
	for i := range want {
		m := lineRE.FindStringSubmatch(got[i])
		if m == nil || m[1] != "7" || m[3] != want[i] {
			t.Errorf("line %d = %q; want worker 7's line %q", i, got[i], want[i])
		}
	}
}
