package config

import (
	"fmt"
	"strings"

	"github.com/gonicorn/gonicorn/internal/syslog"
)

// validateSyslog checks --log-syslog-to and --log-syslog-facility, also when --log-syslog is
// off, as gunicorn's config does not check them: a typo is found by --check-config before
// the day syslog is turned on.
func (c *Config) validateSyslog() error {
	if _, err := syslog.ParseAddress(c.LogSyslogTo); err != nil {
		return fmt.Errorf("invalid value for --log-syslog-to: %w", err)
	}
	if _, err := syslog.Facility(c.LogSyslogFacility); err != nil {
		return fmt.Errorf("invalid value for --log-syslog-facility: %w", err)
	}
	return nil
}

// SyslogTag returns gunicorn's syslog program name for log ("error" or "access"):
// gunicorn.PREFIX.LOG, PREFIX being --log-syslog-prefix, else --name, else APP_MODULE, with
// ':' made '.' in the latter two (glogging.py's _set_syslog_handler).
func (c *Config) SyslogTag(log string) string {
	prefix := c.LogSyslogPrefix
	if prefix == "" {
		prefix = c.ProcName
		if prefix == "" {
			prefix = c.AppName()
		}
		prefix = strings.ReplaceAll(prefix, ":", ".")
	}
	return "gunicorn." + prefix + "." + log
}
