package main

import (
	"strings"
	"testing"
	"time"

	"github.com/gonicorn/gonicorn/internal/control"
)

func TestPrintableEscapesTerminalControls(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/reports?year=2025", "/reports?year=2025"},
		{"/caf\u00e9", "/caf\u00e9"},
		{"/\x1b]0;owned\x07", `/\x1b]0;owned\a`}, // would retitle the operator's window
		{"/\u009b2J", `/\u009b2J`},               // C1 CSI: clears some terminals
		{"/a\"b\x00", `/a\"b\x00`},
	} {
		if got := printable(tc.in); got != tc.want {
			t.Errorf("printable(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

func TestFitScreen(t *testing.T) {
	frame := "header\n" + strings.Repeat("x", 30) + "\nl3\nl4\nl5\nl6\n"
	// 5 rows: 3 lines and the note fill 4, the last row stays free (a newline there would scroll).
	got := fitScreen(frame, 20, 5)
	want := "header\x1b[K\n" + strings.Repeat("x", 20) + "\x1b[K\nl3\x1b[K\n... 3 more lines\x1b[K\n"
	if got != want {
		t.Errorf("fitScreen(20 cols, 5 rows) = %q; want %q", got, want)
	}
	if got := fitScreen("a\nb\n", 0, 0); got != "a\x1b[K\nb\x1b[K\n" {
		t.Errorf("fitScreen(no terminal) = %q; want every line, erased to its end", got)
	}
}

func TestCPUPercent(t *testing.T) {
	now := time.Unix(1000, 0)
	w := control.Worker{PID: 7, Age: 100, CPU: 25}
	if got := cpuPercent(w, cpuSample{}, now); got != 25 {
		t.Errorf("first frame: cpuPercent = %v; want 25 (25 s of CPU in 100 s of life)", got)
	}
	prev := cpuSample{cpu: 24.5, at: now.Add(-time.Second)}
	if got := cpuPercent(w, prev, now); got != 50 {
		t.Errorf("cpuPercent = %v; want 50 (0.5 s of CPU in the last second)", got)
	}
	if got := cpuPercent(control.Worker{CPU: 0}, prev, now); got != 0 {
		t.Errorf("cpuPercent of an unreadable worker = %v; want 0", got)
	}
}

func TestRenderTop(t *testing.T) {
	r := control.Reply{
		Status:  &control.Status{PID: 10, Uptime: 252.06, Version: "0.1.0", App: "app:application", Workers: 1, Slots: 2, Busy: 2, Queued: 3, OldestWait: 1520.4},
		Traffic: &control.Traffic{Span: 10, Requests: 1, Rate: 0.1, P50: 12.34, P99: 12.34},
		Workers: []control.Worker{{PID: 11, Age: 251, Requests: 9, RSS: 48 << 20, CPU: 2.51, State: "serving", Slots: []control.Slot{
			{Method: "GET", Target: "/x?y=1", Client: "10.0.0.7:56448", Running: 9550.2}, {Idle: true}}}},
	}
	got := renderTop(r, nil, time.Date(2026, 12, 7, 1, 2, 3, 0, time.UTC))
	want := `gonicorn 0.1.0  master 10  app app:application  up 4m12s  01:02:03
workers 1  slots 2 busy of 2  queue 3 waiting, oldest for 1520 ms
last 10s  0.1 req/s  p50 12 ms  p99 12 ms  (1 request)

PID      AGE      REQUESTS  RSS        CPU%   STATE
11       4m11s    9         48.0MiB    1.0    serving
  slot 0: GET /x?y=1 from 10.0.0.7:56448, running for 9550 ms
  slot 1: idle
`
	if got != want {
		t.Errorf("renderTop =\n%s\nwant\n%s", got, want)
	}
}
