package main

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/gonicorn/gonicorn/internal/config"
	"github.com/gonicorn/gonicorn/internal/errorlog"
	"github.com/gonicorn/gonicorn/internal/syslog"
)

// syslogCopy sends the error log, and the access log unless
// --disable-redirect-access-to-syslog, to syslog as well (--log-syslog), as gunicorn adds a
// SysLogHandler to its two loggers. Every method does nothing on a nil one (syslog off).
type syslogCopy struct {
	sender              *syslog.Sender
	errorTag, accessTag string // gunicorn.PREFIX.error, gunicorn.PREFIX.access; accessTag "" = no access log
}

// openSyslog connects to --log-syslog-to when --log-syslog is on. A failure to send later is
// written to the error log file only (primary), once per outage.
func openSyslog(cfg *config.Config, primary slog.Handler) (*syslogCopy, error) {
	if !cfg.LogSyslog {
		return nil, nil
	}
	addr, err := syslog.ParseAddress(cfg.LogSyslogTo)
	if err != nil {
		return nil, fmt.Errorf("--log-syslog-to: %w", err) // config validated it already
	}
	facility, err := syslog.Facility(cfg.LogSyslogFacility)
	if err != nil {
		return nil, fmt.Errorf("--log-syslog-facility: %w", err)
	}
	fileLog := slog.New(primary)
	sender, err := syslog.Open(addr, facility, func(err error) {
		fileLog.Warn("Syslog messages are being lost: " + err.Error())
	})
	if err != nil {
		return nil, fmt.Errorf("--log-syslog-to %s: %w", cfg.LogSyslogTo, err)
	}
	s := &syslogCopy{sender: sender, errorTag: cfg.SyslogTag("error")}
	if !cfg.DisableRedirectAccessToSyslog {
		s.accessTag = cfg.SyslogTag("access")
	}
	return s, nil
}

// errorLog returns h with the syslog copy added.
func (s *syslogCopy) errorLog(h logHandler, level slog.Leveler) logHandler {
	if s == nil {
		return h
	}
	relay := errorlog.NewRelay(level, func(l slog.Level, pid int, text string) {
		s.sender.Send(syslog.Message{Tag: s.errorTag, Severity: severity(l), PID: pid, Text: text})
	})
	return errorlog.Tee{First: h, Second: relay}
}

// accessLog returns the access log's writer with the syslog copy added; file is the access
// log file's writer, nil without --access-logfile. It reports false when the access log goes
// nowhere.
func (s *syslogCopy) accessLog(file io.Writer) (io.Writer, bool) {
	if s == nil || s.accessTag == "" {
		return file, file != nil
	}
	return accessCopy{file: file, s: s, pid: os.Getpid()}, true
}

// Close sends what is queued and closes the connection.
func (s *syslogCopy) Close() {
	if s != nil {
		s.sender.Close()
	}
}

// accessCopy writes access-log lines to the file (if any) and to syslog at INFO, as
// gunicorn's access logger does (it logs at INFO).
type accessCopy struct {
	file io.Writer // nil = no --access-logfile
	s    *syslogCopy
	pid  int
}

func (a accessCopy) Write(line []byte) (int, error) {
	a.s.sender.Send(syslog.Message{Tag: a.s.accessTag, Severity: syslog.Info, PID: a.pid,
		Text: string(bytes.TrimRight(line, "\n"))})
	if a.file == nil {
		return len(line), nil
	}
	return a.file.Write(line)
}

// severity maps an error-log level to the syslog severity Python's SysLogHandler gives it.
func severity(l slog.Level) syslog.Severity {
	switch {
	case l >= errorlog.LevelCritical:
		return syslog.Critical
	case l >= slog.LevelError:
		return syslog.Error
	case l >= slog.LevelWarn:
		return syslog.Warning
	case l >= slog.LevelInfo:
		return syslog.Info
	}
	return syslog.Debug
}
