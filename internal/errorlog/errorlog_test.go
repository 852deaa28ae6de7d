package errorlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// lineRE is gunicorn's error-log line: [time] [pid] [LEVEL] message.
var lineRE = regexp.MustCompile(`^\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} [+-]\d{4}\] \[(\d+)\] \[(DEBUG|INFO|WARNING|ERROR|CRITICAL)\] (.*)$`)

// lines splits the log output into lines; it fails if the output does not end with '\n'.
func lines(t *testing.T, out string) []string {
	t.Helper()
	if out == "" {
		return nil
	}
	if !strings.HasSuffix(out, "\n") {
		t.Fatalf("log output %q does not end with a newline", out)
	}
	return strings.Split(strings.TrimSuffix(out, "\n"), "\n")
}

func TestParseLevel(t *testing.T) {
	tests := []struct {
		in      string
		want    slog.Level
		wantErr bool
	}{
		{"debug", slog.LevelDebug, false},
		{"info", slog.LevelInfo, false},
		{"warning", slog.LevelWarn, false},
		{"warn", slog.LevelWarn, false},
		{"error", slog.LevelError, false},
		{"critical", LevelCritical, false},
		{"INFO", slog.LevelInfo, false}, // gunicorn lower-cases --log-level
		{"Warning", slog.LevelWarn, false},
		{"verbose", 0, true},
		{"", 0, true},
		{"fatal", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseLevel(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), fmt.Sprintf("%q", tt.in)) {
			t.Errorf("ParseLevel(%q) error %q does not name the level", tt.in, err)
		}
	}
}

// TestHandlerFormat checks whole lines, with the record's time as given.
func TestHandlerFormat(t *testing.T) {
	utc := time.Date(2026, 11, 26, 16, 52, 49, 999e6, time.UTC)
	east := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("IST", 5*3600+30*60))
	west := time.Date(2026, 7, 8, 9, 10, 11, 0, time.FixedZone("PDT", -7*3600))
	pid := os.Getpid()
	tests := []struct {
		t     time.Time
		level slog.Level
		msg   string
		attrs []slog.Attr
		want  string // with %d for the pid
	}{
		{utc, slog.LevelInfo, "Listening at: http://127.0.0.1:8000 (1234)", nil,
			"[2026-11-26 16:52:49 +0000] [%d] [INFO] Listening at: http://127.0.0.1:8000 (1234)"},
		{east, slog.LevelDebug, "d", nil, "[2026-01-02 03:04:05 +0530] [%d] [DEBUG] d"},
		{west, slog.LevelWarn, "w", nil, "[2026-07-08 09:10:11 -0700] [%d] [WARNING] w"},
		{utc, slog.LevelError, "e", nil, "[2026-11-26 16:52:49 +0000] [%d] [ERROR] e"},
		{utc, LevelCritical, "c", nil, "[2026-11-26 16:52:49 +0000] [%d] [CRITICAL] c"},
		// Levels between gunicorn's take the name below them; above CRITICAL is CRITICAL.
		{utc, slog.LevelInfo + 2, "x", nil, "[2026-11-26 16:52:49 +0000] [%d] [INFO] x"},
		{utc, slog.LevelError + 2, "x", nil, "[2026-11-26 16:52:49 +0000] [%d] [ERROR] x"},
		{utc, LevelCritical + 4, "x", nil, "[2026-11-26 16:52:49 +0000] [%d] [CRITICAL] x"},
		{utc, slog.LevelDebug - 4, "x", nil, "[2026-11-26 16:52:49 +0000] [%d] [DEBUG] x"},
		// Attributes follow the message as key=value.
		{utc, slog.LevelInfo, "Booting worker", []slog.Attr{slog.Int("pid", 4242)},
			"[2026-11-26 16:52:49 +0000] [%d] [INFO] Booting worker pid=4242"},
		{utc, slog.LevelError, "failed", []slog.Attr{
			slog.String("path", "/x"), slog.Any("err", errors.New("broken pipe")),
			slog.Duration("after", 1500*time.Millisecond), slog.Bool("retry", false)},
			"[2026-11-26 16:52:49 +0000] [%d] [ERROR] failed path=/x err=\"broken pipe\" after=1.5s retry=false"},
		// Values with spaces, quotes, '=' or line breaks are quoted: one record, one line.
		{utc, slog.LevelError, "bad", []slog.Attr{slog.String("v", "a\nb"), slog.String("q", `x"y`), slog.String("e", "")},
			`[2026-11-26 16:52:49 +0000] [%d] [ERROR] bad v="a\nb" q="x\"y" e=""`},
		{utc, slog.LevelInfo, "", nil, "[2026-11-26 16:52:49 +0000] [%d] [INFO] "},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		h := NewHandler(NewSink(&buf), slog.LevelDebug)
		r := slog.NewRecord(tt.t, tt.level, tt.msg, 0)
		r.AddAttrs(tt.attrs...)
		if err := h.Handle(context.Background(), r); err != nil {
			t.Errorf("Handle(%v %q) = %v; want nil", tt.level, tt.msg, err)
		}
		want := fmt.Sprintf(tt.want, pid) + "\n"
		if got := buf.String(); got != want {
			t.Errorf("Handle(%v %q %v) wrote %q; want %q", tt.level, tt.msg, tt.attrs, got, want)
		}
	}
}

// TestHandlerLevel checks that records below the --log-level are dropped.
func TestHandlerLevel(t *testing.T) {
	all := []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError, LevelCritical}
	tests := []struct {
		level string
		want  []string // the levels written, in order
	}{
		{"debug", []string{"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}},
		{"info", []string{"INFO", "WARNING", "ERROR", "CRITICAL"}},
		{"warning", []string{"WARNING", "ERROR", "CRITICAL"}},
		{"error", []string{"ERROR", "CRITICAL"}},
		{"critical", []string{"CRITICAL"}},
	}
	for _, tt := range tests {
		lv, err := ParseLevel(tt.level)
		if err != nil {
			t.Fatalf("ParseLevel(%q) = %v", tt.level, err)
		}
		var buf bytes.Buffer
		log := slog.New(NewHandler(NewSink(&buf), lv))
		for _, l := range all {
			log.Log(context.Background(), l, "msg")
		}
		var got []string
		for _, line := range lines(t, buf.String()) {
			m := lineRE.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("level %s: line %q is not in gunicorn's format", tt.level, line)
			}
			got = append(got, m[2])
		}
		if strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("log at --log-level %s wrote levels %v; want %v", tt.level, got, tt.want)
		}
	}
}

// TestHandlerLevelVar checks that the handler reads a dynamic level at each record.
func TestHandlerLevelVar(t *testing.T) {
	var buf bytes.Buffer
	var lv slog.LevelVar
	lv.Set(slog.LevelError)
	log := slog.New(NewHandler(NewSink(&buf), &lv))
	log.Info("dropped")
	lv.Set(slog.LevelInfo)
	log.Info("kept")
	if got := lines(t, buf.String()); len(got) != 1 || !strings.HasSuffix(got[0], "] [INFO] kept") {
		t.Errorf("log after LevelVar.Set(INFO) = %q; want one INFO line \"kept\"", got)
	}
}

// TestWorkerLine checks that a worker's output is written at the level it is given, tagged
// with the worker's pid, as the application printed it, and dropped below the log level.
func TestWorkerLine(t *testing.T) {
	tests := []struct {
		pid   int
		level slog.Level // of the line
		min   slog.Level // --log-level
		line  string
		want  string // level name written; "" = nothing
	}{
		{4242, slog.LevelInfo, slog.LevelInfo, "hello from the app", "INFO"},
		{1, slog.LevelError, slog.LevelInfo, "Traceback (most recent call last):", "ERROR"},
		{99999, slog.LevelError, slog.LevelError, "  File \"app.py\", line 3, in app", "ERROR"},
		{7, slog.LevelInfo, slog.LevelInfo, "", "INFO"},
		{8, slog.LevelInfo, slog.LevelInfo, "key=value [ERROR] looks like a level", "INFO"},
		{9, slog.LevelInfo, slog.LevelError, "noise hidden at --log-level error", ""},
		{10, LevelCritical, slog.LevelError, "Thread 0x00007f (most recent call first):", "CRITICAL"},
		{11, slog.LevelWarn, LevelCritical, "a dump on demand", ""},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		NewHandler(NewSink(&buf), tt.min).WorkerLine(tt.pid, tt.level, []byte(tt.line))
		out := lines(t, buf.String())
		if tt.want == "" {
			if len(out) != 0 {
				t.Errorf("WorkerLine(%d, %v, %q) at level %v wrote %q; want nothing", tt.pid, tt.level, tt.line, tt.min, out)
			}
			continue
		}
		if len(out) != 1 {
			t.Fatalf("WorkerLine(%d, %v, %q) wrote %q; want one line", tt.pid, tt.level, tt.line, buf.String())
		}
		m := lineRE.FindStringSubmatch(out[0])
		if m == nil || m[1] != fmt.Sprint(tt.pid) || m[2] != tt.want || m[3] != tt.line {
			t.Errorf("WorkerLine(%d, %v, %q) = %q; want [time] [%d] [%s] %s", tt.pid, tt.level, tt.line, out[0], tt.pid, tt.want, tt.line)
		}
	}
}

func TestWorkerLineTime(t *testing.T) {
	var buf bytes.Buffer
	before := time.Now().Truncate(time.Second)
	NewHandler(NewSink(&buf), slog.LevelInfo).WorkerLine(5, slog.LevelInfo, []byte("x"))
	after := time.Now()
	got, err := time.Parse("[2006-01-02 15:04:05 -0700]", buf.String()[:len("[2006-01-02 15:04:05 -0700]")])
	if err != nil || got.Before(before) || got.After(after) {
		t.Errorf("WorkerLine time = %v, %v; want between %v and %v", got, err, before, after)
	}
}

func TestWithAttrs(t *testing.T) {
	var buf bytes.Buffer
	h := NewHandler(NewSink(&buf), slog.LevelInfo)
	h1 := h.WithAttrs([]slog.Attr{slog.Int("worker", 3)})
	h2 := h1.WithAttrs([]slog.Attr{slog.String("slot", "a")})
	h3 := h1.WithAttrs([]slog.Attr{slog.String("slot", "b")}) // must not share h2's attrs
	tests := []struct {
		log  *slog.Logger
		want string // the line after the prefix
	}{
		{slog.New(h), "m k=v"},
		{slog.New(h1), "m worker=3 k=v"},
		{slog.New(h2), "m worker=3 slot=a k=v"},
		{slog.New(h3), "m worker=3 slot=b k=v"},
		{slog.New(h).With("via", "With"), "m via=With k=v"},
		{slog.New(h.WithGroup("g")), "m k=v"}, // groups are flattened
	}
	for i, tt := range tests {
		buf.Reset()
		tt.log.Info("m", "k", "v")
		out := lines(t, buf.String())
		if len(out) != 1 {
			t.Fatalf("logger %d wrote %q; want one line", i, buf.String())
		}
		m := lineRE.FindStringSubmatch(out[0])
		if m == nil || m[3] != tt.want {
			t.Errorf("logger %d: Info(\"m\", \"k\", \"v\") = %q; want message part %q", i, out[0], tt.want)
		}
	}
}

func TestSetWriter(t *testing.T) {
	var a, b bytes.Buffer
	sink := NewSink(&a)
	log := slog.New(NewHandler(sink, slog.LevelInfo))
	log.Info("first")
	sink.SetWriter(&b)
	log.Info("second")
	NewHandler(sink, slog.LevelInfo).WorkerLine(9, slog.LevelInfo, []byte("third"))
	if got := lines(t, a.String()); len(got) != 1 || !strings.HasSuffix(got[0], " first") {
		t.Errorf("old writer got %q; want only \"first\"", got)
	}
	if got := lines(t, b.String()); len(got) != 2 || !strings.HasSuffix(got[0], " second") || !strings.HasSuffix(got[1], " third") {
		t.Errorf("new writer got %q; want \"second\" and \"third\"", got)
	}
}

// TestConcurrentLines writes from many goroutines, through handlers and WorkerLine, to a
// writer with no lock of its own: every line must come out whole, exactly once.
func TestConcurrentLines(t *testing.T) {
	const goroutines, perG = 50, 100
	var buf bytes.Buffer
	sink := NewSink(&buf)
	h := NewHandler(sink, slog.LevelDebug)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			log := slog.New(h.WithAttrs([]slog.Attr{slog.Int("g", g)}))
			for i := range perG {
				switch i % 3 {
				case 0:
					h.WorkerLine(1000+g, slog.LevelInfo, fmt.Appendf(nil, "worker-line %d/%d %s", g, i, strings.Repeat("w", i*10)))
				case 1:
					log.Info(fmt.Sprintf("info %d/%d", g, i), "pad", strings.Repeat("p", i*10))
				default:
					log.Error(fmt.Sprintf("error %d/%d", g, i))
				}
			}
		}()
	}
	wg.Wait()
	seen := make(map[string]bool)
	pid := fmt.Sprint(os.Getpid())
	for _, line := range lines(t, buf.String()) {
		m := lineRE.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("line %q is not in gunicorn's format: lines were interleaved", line)
		}
		var kind string
		var g, i int
		if _, err := fmt.Sscanf(m[3], "%s %d/%d", &kind, &g, &i); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		wantPid, wantMsg := pid, ""
		switch kind {
		case "worker-line":
			wantPid = fmt.Sprint(1000 + g)
			wantMsg = fmt.Sprintf("worker-line %d/%d %s", g, i, strings.Repeat("w", i*10))
		case "info":
			wantMsg = fmt.Sprintf("info %d/%d g=%d pad=%s", g, i, g, strings.Repeat("p", i*10))
		case "error":
			wantMsg = fmt.Sprintf("error %d/%d g=%d", g, i, g)
		}
		if m[1] != wantPid || m[3] != wantMsg {
			t.Errorf("line %q; want pid %s and message %q", line, wantPid, wantMsg)
		}
		key := fmt.Sprint(g, "/", i)
		if seen[key] {
			t.Errorf("line %s written twice", key)
		}
		seen[key] = true
	}
	if len(seen) != goroutines*perG {
		t.Errorf("%d distinct lines; want %d", len(seen), goroutines*perG)
	}
}
