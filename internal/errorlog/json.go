package errorlog

import (
	"context"
	"log/slog"

	"time"
)

// JSONHandler writes the error log as one JSON object per record (--error-log-format json),
// with log/slog's JSON handler:
//
//	{"time":"2026-12-06T22:42:41.123Z","level":"ERROR","msg":"Error handling request /x","pid":1234,
//	 "request_id":"6f1c...","traceback":"Traceback (most recent call last):\n  File ..."}
//
// time is RFC 3339 in UTC with milliseconds, as in the JSON access log; level is gunicorn's
// name (DEBUG INFO WARNING ERROR CRITICAL); pid is the process the line comes from: the
// master, or the worker that printed it. A record's own "pid" attribute, the worker it is
// about, becomes "worker_pid", so that no key appears twice. A traceback is one field.
// Invalid UTF-8 in a worker's output becomes U+FFFD, as log/slog writes it.
type JSONHandler struct {
	sink  *Sink
	level slog.Leveler
	inner slog.Handler // slog's JSON handler, writing through sink
}

// jsonTimeLayout is the "time" field: RFC 3339 with milliseconds.
const jsonTimeLayout = "2006-01-02T15:04:05.000Z07:00"

// NewJSONHandler returns a handler writing records at or above level to sink as JSON.
func NewJSONHandler(sink *Sink, level slog.Leveler) *JSONHandler {
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: replaceBuiltin}
	return &JSONHandler{sink: sink, level: level, inner: slog.NewJSONHandler(sinkWriter{sink}, opts)}
}

// replaceBuiltin writes the time and level as documented on JSONHandler.
func replaceBuiltin(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.TimeKey:
		if t, ok := a.Value.Any().(time.Time); ok {
			a.Value = slog.StringValue(t.UTC().Format(jsonTimeLayout))
		}
	case slog.LevelKey:
		if l, ok := a.Value.Any().(slog.Level); ok {
			a.Value = slog.StringValue(levelName(l))
		}
	}
	return a
}

// sinkWriter lets slog's handler write whole lines through the sink's lock.
type sinkWriter struct{ sink *Sink }

func (w sinkWriter) Write(b []byte) (int, error) {
	w.sink.write(b)
	return len(b), nil
}

func (h *JSONHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

func (h *JSONHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.handleAs(ctx, h.sink.pid, r)
}

// handleAs writes r as a line of the process pid.
func (h *JSONHandler) handleAs(ctx context.Context, pid int, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	out.AddAttrs(slog.Int("pid", pid))
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(renamePID(a))
		return true
	})
	return h.inner.Handle(ctx, out)
}

// renamePID gives a record's "pid" attribute, the worker a master line is about, the key
// worker_pid.
func renamePID(a slog.Attr) slog.Attr {
	if a.Key == "pid" {
		a.Key = "worker_pid"
	}
	return a
}

func (h *JSONHandler) WithAttrs(as []slog.Attr) slog.Handler {
	renamed := make([]slog.Attr, len(as))
	for i, a := range as {
		renamed[i] = renamePID(a)
	}
	h2 := *h
	h2.inner = h.inner.WithAttrs(renamed)
	return &h2
}

// WithGroup is not used by gonicorn; groups are flattened, as in Handler.
func (h *JSONHandler) WithGroup(string) slog.Handler { return h }

// WorkerBlock writes a block a worker printed (a traceback...) as one record: its headline
// as msg, the whole block as the traceback field.
func (h *JSONHandler) WorkerBlock(pid int, level slog.Level, t time.Time, headline, block []byte, attrs []slog.Attr) {
	if level < h.level.Level() {
		return
	}
	r := slog.NewRecord(t, level, string(headline), 0)
	r.AddAttrs(attrs...)
	r.AddAttrs(slog.String(TracebackKey, string(block)))
	h.handleAs(context.Background(), pid, r)
}

// GroupsBlocks is true: a traceback is one record.
func (h *JSONHandler) GroupsBlocks() bool { return true }

// WorkerLine writes one line a worker printed as a record of the worker's pid, with the line
// as its msg, if level is enabled.
func (h *JSONHandler) WorkerLine(pid int, level slog.Level, line []byte) {
	if level < h.level.Level() {
		return
	}
	h.handleAs(context.Background(), pid, slog.NewRecord(time.Now(), level, string(line), 0))
}
