package errorlog

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"time"
)

// Relay is a handler that hands each record, as gunicorn's syslog text, to a function: the
// error log's copy for --log-syslog. The text is what follows the prefix of a text line:
// the message, key=value attributes and a traceback on the lines below; with the pid of the
// process it is about (the master's, or the worker's for a line a worker printed) and its
// level.
type Relay struct {
	send  func(level slog.Level, pid int, text string)
	level slog.Leveler
	pid   int
	attrs []slog.Attr
}

// NewRelay returns a relay of the records at or above level to send.
func NewRelay(level slog.Leveler, send func(level slog.Level, pid int, text string)) *Relay {
	return &Relay{send: send, level: level, pid: os.Getpid()}
}

func (h *Relay) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

func (h *Relay) Handle(_ context.Context, r slog.Record) error {
	h.send(r.Level, h.pid, string(appendRecord(nil, r, h.attrs)))
	return nil
}

func (h *Relay) WithAttrs(as []slog.Attr) slog.Handler {
	h2 := *h
	h2.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &h2
}

// WithGroup is not used by gonicorn; groups are flattened, as in Handler.
func (h *Relay) WithGroup(string) slog.Handler { return h }

// WorkerLine relays one line a worker printed.
func (h *Relay) WorkerLine(pid int, level slog.Level, line []byte) {
	if level >= h.level.Level() {
		h.send(level, pid, string(line))
	}
}

// WorkerBlock relays a block a worker printed (a traceback) as one record, as gunicorn's
// logger sends a record with its traceback.
func (h *Relay) WorkerBlock(pid int, level slog.Level, _ time.Time, _, block []byte, _ []slog.Attr) {
	if level >= h.level.Level() {
		h.send(level, pid, string(block))
	}
}

// GroupsBlocks is true: a relay takes a traceback whole. (Under a Tee, the first handler
// decides.)
func (h *Relay) GroupsBlocks() bool { return true }

// Both is what Tee joins: a slog handler that takes the workers' output too.
type Both interface {
	slog.Handler
	WorkerLog
}

// Tee writes every record and worker line to two handlers: the error log, and its copy
// (a Relay). The first decides whether worker output comes in blocks.
type Tee struct{ First, Second Both }

func (t Tee) Enabled(ctx context.Context, l slog.Level) bool {
	return t.First.Enabled(ctx, l) || t.Second.Enabled(ctx, l)
}

func (t Tee) Handle(ctx context.Context, r slog.Record) error {
	var errs []error
	for _, h := range []Both{t.First, t.Second} {
		if h.Enabled(ctx, r.Level) {
			errs = append(errs, h.Handle(ctx, r.Clone()))
		}
	}
	return errors.Join(errs...)
}

func (t Tee) WithAttrs(as []slog.Attr) slog.Handler {
	return Tee{t.First.WithAttrs(as).(Both), t.Second.WithAttrs(as).(Both)}
}

func (t Tee) WithGroup(string) slog.Handler { return t }

func (t Tee) WorkerLine(pid int, level slog.Level, line []byte) {
	t.First.WorkerLine(pid, level, line)
	t.Second.WorkerLine(pid, level, line)
}

func (t Tee) WorkerBlock(pid int, level slog.Level, at time.Time, headline, block []byte, attrs []slog.Attr) {
	t.First.WorkerBlock(pid, level, at, headline, block, attrs)
	t.Second.WorkerBlock(pid, level, at, headline, block, attrs)
}

func (t Tee) GroupsBlocks() bool { return t.First.GroupsBlocks() }
