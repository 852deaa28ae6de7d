package config

import (
	"fmt"
	"strings"
)

// HTTP2 reports whether HTTP/2 is on: h2 in --http-protocols, or --http2-cleartext, which
// implies it (settings are checked one by one as a config file sets them, in name order, so
// http2_cleartext cannot require an http_protocols set after it).
func (c *Config) HTTP2() bool {
	if c.HTTP2Cleartext {
		return true
	}
	for _, p := range strings.Split(c.HTTPProtocols, ",") {
		if strings.TrimSpace(strings.ToLower(p)) == "h2" {
			return true
		}
	}
	return false
}

// validateHTTP2 checks --http-protocols and the HTTP/2 tunables against the ranges RFC 9113
// §6.5.2 allows.
func (c *Config) validateHTTP2() error {
	// Empty is the default, h1, as in gunicorn's validate_http_protocols (http_protocols = "").
	h1 := strings.TrimSpace(c.HTTPProtocols) == ""
	for _, p := range strings.Split(c.HTTPProtocols, ",") {
		switch strings.TrimSpace(strings.ToLower(p)) {
		case "": // "h1, h2," or a list joined from a config file
		case "h1":
			h1 = true
		case "h2":
		case "h3":
			return fmt.Errorf("invalid value %q for --http-protocols: h3 (HTTP/3) is not served by gonicorn; use h1,h2", c.HTTPProtocols)
		default:
			return fmt.Errorf("invalid value %q for --http-protocols: %q is none of h1, h2", c.HTTPProtocols, strings.TrimSpace(p))
		}
	}
	if !h1 {
		return fmt.Errorf("invalid value %q for --http-protocols: gonicorn always serves HTTP/1.1, so h1 must be in the list (h1,h2)", c.HTTPProtocols)
	}
	for _, r := range []struct {
		flag      string
		v, lo, hi int
	}{
		{"--http2-max-concurrent-streams", c.HTTP2MaxConcurrentStreams, 1, 1 << 31},
		{"--http2-initial-window-size", c.HTTP2InitialWindowSize, 1, 1<<31 - 1},
		{"--http2-max-frame-size", c.HTTP2MaxFrameSize, 1 << 14, 1<<24 - 1},
		{"--http2-max-header-list-size", c.HTTP2MaxHeaderListSize, 1024, 1<<31 - 1},
	} {
		if r.v < r.lo || r.v > r.hi {
			return fmt.Errorf("invalid value %d for %s: it must be from %d to %d", r.v, r.flag, r.lo, r.hi)
		}
	}
	return nil
}
