package config

import (
	"strings"
	"testing"
)

func TestLogSettings(t *testing.T) {
	c, err := Parse([]string{"app"}, env())
	if err != nil {
		t.Fatal(err)
	}
	if c.ErrorLogFormat != "text" || c.RequestIDHeader != "X-Request-ID" || c.AccessLogFormat == "json" {
		t.Errorf("Parse(app) = error log %q, request id header %q, access log format %q; want text, X-Request-ID, gunicorn's",
			c.ErrorLogFormat, c.RequestIDHeader, c.AccessLogFormat)
	}
	// --access-log-format is --access-logformat under the name the issue gave it.
	for _, flag := range []string{"--access-logformat", "--access-log-format"} {
		c, err = Parse([]string{flag, "json", "--error-log-format", "json", "--request-id-header", "X-Correlation-ID", "app"}, env())
		if err != nil {
			t.Fatal(err)
		}
		if c.AccessLogFormat != "json" || c.ErrorLogFormat != "json" || c.RequestIDHeader != "X-Correlation-ID" {
			t.Errorf("Parse(%s json ...) = %q, %q, %q; want json, json, X-Correlation-ID", flag, c.AccessLogFormat, c.ErrorLogFormat, c.RequestIDHeader)
		}
	}
	if c, err := Parse([]string{"--request-id-header=", "app"}, env()); err != nil || c.RequestIDHeader != "" {
		t.Errorf("Parse(--request-id-header=) = %v; want no error and no request ids", err)
	}
	for _, tt := range []struct{ args, want string }{
		{"--error-log-format logfmt", "--error-log-format"},
		{"--error-log-format JSON", "--error-log-format"},
		{"--request-id-header X-Request:ID", "--request-id-header"},
		{"--request-id-header a\tb", "--request-id-header"},
	} {
		_, err := Parse(append(strings.SplitN(tt.args, " ", 2), "app"), env())
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%s) = %v; want an error naming %s", tt.args, err, tt.want)
		}
	}
}

// TestLogSettingsConfigFile checks the names a gunicorn.conf.py gives them.
func TestLogSettingsConfigFile(t *testing.T) {
	c, err := parseFile(t, "-c gunicorn.conf.py app", env(), map[string]Value{
		"access_log_format": pyv("str", "json"), "error_log_format": pyv("str", "json"),
		"request_id_header": pyv("str", "X-Trace-ID"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.AccessLogFormat != "json" || c.ErrorLogFormat != "json" || c.RequestIDHeader != "X-Trace-ID" {
		t.Errorf("config file = %q, %q, %q; want json, json, X-Trace-ID", c.AccessLogFormat, c.ErrorLogFormat, c.RequestIDHeader)
	}
	if _, err := parseFile(t, "-c gunicorn.conf.py app", env(), map[string]Value{"error_log_format": pyv("str", "xml")}); err == nil ||
		!strings.Contains(err.Error(), "error_log_format") && !strings.Contains(err.Error(), "error-log-format") {
		t.Errorf("error_log_format = 'xml': %v; want an error naming the setting", err)
	}
}
