package main

import (
	"io"
	"log/slog"
	"os"
	"sync"

	"github.com/gonicorn/gonicorn/internal/arbiter"
	"github.com/gonicorn/gonicorn/internal/errorlog"
)

// logFile is a log destination that SIGUSR1 can reopen, so that logrotate can move the file
// away and gonicorn writes to a new one (gunicorn's USR1).
type logFile struct {
	path string

	mu sync.Mutex // guards f; held while writing, so a line never straddles two files
	f  *os.File
}

func (l *logFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Write(p)
}

// Reopen opens the path again and swaps it in; on error the old file is kept.
func (l *logFile) Reopen() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	l.mu.Lock()
	old := l.f
	l.f = f
	l.mu.Unlock()
	return old.Close()
}

func (l *logFile) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.f.Close()
}

// openLog opens a log destination: "-" is the given standard stream, anything else a file
// opened for appending, which is a *logFile.
func openLog(path string, std *os.File) (io.Writer, func(), error) {
	if path == "" || path == "-" {
		return std, func() {}, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, nil, err
	}
	l := &logFile{path: path, f: f}
	return l, l.Close, nil
}

// writePIDFile writes the master's pid to path (--pid), through a temporary file and a
// rename, so that a reader never sees a partial number.
func writePIDFile(path string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil { // 0644 whatever the umask, as gunicorn's
		return err
	}
	return os.Rename(tmp, path)
}

// logHandler is an error-log handler that also takes the workers' output lines.
type logHandler interface {
	slog.Handler
	arbiter.Output
}

// errorLogHandler returns the error log's handler for --error-log-format: gunicorn's text
// lines, or JSON objects (docs/logging.md).
func errorLogHandler(format string, sink *errorlog.Sink, level slog.Leveler) logHandler {
	if format == "json" {
		return errorlog.NewJSONHandler(sink, level)
	}
	return errorlog.NewHandler(sink, level)
}
