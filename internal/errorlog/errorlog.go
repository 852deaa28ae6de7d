// Package errorlog writes gonicorn's error log in gunicorn's format,
//
//	[2026-11-26 16:52:49 +0000] [1234] [INFO] Listening at: http://127.0.0.1:8000 (1234)
//
// so that log scrapers written for gunicorn keep working. It is a log/slog handler, and it
// also carries the raw lines that workers print on stdout/stderr, tagged with the worker's pid
// and at the level of what they are (Classifier).
package errorlog

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// TracebackKey is the attribute of a record that holds a Python traceback (or stack dump):
// the text handler prints it on the lines below the message, as gunicorn does; the JSON
// handler keeps it as one field.
const TracebackKey = "traceback"

// LevelCritical is gunicorn's CRITICAL, above slog's ERROR.
const LevelCritical = slog.LevelError + 4

// ParseLevel maps gunicorn's --log-level names to slog levels.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warning", "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	case "critical":
		return LevelCritical, nil
	}
	return 0, fmt.Errorf("unknown log level %q", s)
}

// Sink is the shared destination of one error log: the writer and the lock that keeps lines
// whole. Handlers derived with WithAttrs share it.
type Sink struct {
	mu  sync.Mutex // guards w and every write to it
	w   io.Writer
	pid int
}

// NewSink returns a sink writing to w, stamping pid on master lines.
func NewSink(w io.Writer) *Sink { return &Sink{w: w, pid: os.Getpid()} }

// SetWriter swaps the destination (used when log files are reopened).
func (s *Sink) SetWriter(w io.Writer) {
	s.mu.Lock()
	s.w = w
	s.mu.Unlock()
}

func (s *Sink) write(b []byte) {
	s.mu.Lock()
	s.w.Write(b)
	s.mu.Unlock()
}

func appendPrefix(b []byte, t time.Time, pid int, level string) []byte {
	b = append(b, '[')
	b = t.AppendFormat(b, "2006-01-02 15:04:05 -0700")
	b = append(b, "] ["...)
	b = fmt.Appendf(b, "%d", pid)
	b = append(b, "] ["...)
	b = append(b, level...)
	return append(b, "] "...)
}

// Handler is a slog.Handler writing gunicorn-style lines to a Sink. Attributes follow the
// message as key=value pairs.
type Handler struct {
	sink  *Sink
	level slog.Leveler
	attrs []slog.Attr
}

// NewHandler returns a handler writing records at or above level to sink.
func NewHandler(sink *Sink, level slog.Leveler) *Handler {
	return &Handler{sink: sink, level: level}
}

// WorkerLine writes one line a worker printed, tagged with the worker's pid, at level (see
// Classifier: the application's output is INFO, its tracebacks ERROR), if the level is
// enabled. The line is written as the application printed it.
func (h *Handler) WorkerLine(pid int, level slog.Level, line []byte) {
	if level < h.level.Level() {
		return
	}
	b := appendPrefix(make([]byte, 0, 64+len(line)), time.Now(), pid, levelName(level))
	b = append(b, line...)
	b = append(b, '\n')
	h.sink.write(b)
}

// WorkerBlock writes a block's lines one by one, as WorkerLine does; GroupsBlocks is false,
// so CopyWorkerOutput does not call it.
func (h *Handler) WorkerBlock(pid int, level slog.Level, _ time.Time, _, block []byte, _ []slog.Attr) {
	for _, line := range bytes.Split(block, []byte("\n")) {
		h.WorkerLine(pid, level, line)
	}
}

// GroupsBlocks is false: gunicorn's log has one line per line the worker printed.
func (h *Handler) GroupsBlocks() bool { return false }

func (h *Handler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	b := appendPrefix(make([]byte, 0, 128), r.Time, h.sink.pid, levelName(r.Level))
	b = appendRecord(b, r, h.attrs)
	b = append(b, '\n')
	h.sink.write(b)
	return nil
}

// appendRecord appends what follows a line's prefix: the message, the attributes (attrs,
// then the record's) as key=value pairs, and a traceback on the lines below.
func appendRecord(b []byte, r slog.Record, attrs []slog.Attr) []byte {
	b = append(b, r.Message...)
	var traceback string
	appendAttr := func(a slog.Attr) bool {
		if a.Key == TracebackKey {
			// On the lines below the message, as gunicorn prints a traceback.
			traceback = a.Value.String()
			return true
		}
		// A value with spaces, quotes or line breaks is quoted, so that one record is
		// always one line and key=value pairs stay unambiguous.
		v := a.Value.Resolve().String()
		if strings.ContainsAny(v, " \t\r\n\"=") || v == "" {
			v = strconv.Quote(v)
		}
		b = fmt.Appendf(b, " %s=%s", a.Key, v)
		return true
	}
	for _, a := range attrs {
		appendAttr(a)
	}
	r.Attrs(appendAttr)
	if traceback != "" {
		b = append(b, '\n')
		b = append(b, traceback...)
	}
	return b
}

func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	h2 := *h
	h2.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &h2
}

// WithGroup is not used by gonicorn; groups are flattened.
func (h *Handler) WithGroup(string) slog.Handler { return h }

func levelName(l slog.Level) string {
	switch {
	case l >= LevelCritical:
		return "CRITICAL"
	case l >= slog.LevelError:
		return "ERROR"
	case l >= slog.LevelWarn:
		return "WARNING"
	case l >= slog.LevelInfo:
		return "INFO"
	}
	return "DEBUG"
}
