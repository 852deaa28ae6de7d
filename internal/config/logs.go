package config

import (
	"fmt"

	"github.com/gonicorn/gonicorn/internal/http1"
)

// validateLogs checks the settings of queryable logs (docs/logging.md): the error log's
// format and the request id's header name.
func (c *Config) validateLogs() error {
	switch c.ErrorLogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("invalid value %q for --error-log-format: want text or json", c.ErrorLogFormat)
	}
	if err := c.validateSyslog(); err != nil {
		return err
	}
	if c.RequestIDHeader != "" && !http1.ValidFieldName([]byte(c.RequestIDHeader)) {
		return fmt.Errorf("invalid value %q for --request-id-header: want a header name (RFC 9110 token), or '' for no request ids", c.RequestIDHeader)
	}
	return nil
}
