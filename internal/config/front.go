package config

import (
	"fmt"

	"github.com/gonicorn/gonicorn/internal/proxy"
)

// validateFront checks the settings of the front's defences: the PROXY protocol, the
// connection limit, the client timeouts, the forwarded headers believed and the response
// spool.
func (c *Config) validateFront() error {
	c.ProxyProtocol = normalizeProxyProtocol(c.ProxyProtocol) // gunicorn's true, 1, OFF...
	switch c.ProxyProtocol {
	case "off", "v1", "v2", "auto":
	default:
		return fmt.Errorf("invalid value %q for --proxy-protocol: want off, v1, v2 or auto", c.ProxyProtocol)
	}
	if _, err := proxy.ParseTrust(c.ProxyAllowFrom); err != nil {
		return fmt.Errorf("invalid value %q for --proxy-allow-from: %v", c.ProxyAllowFrom, err)
	}
	if c.MaxConnections < 0 {
		return fmt.Errorf("invalid value %d for --max-connections: must be 0 (unlimited) or positive", c.MaxConnections)
	}
	for name, v := range map[string]float64{"header-timeout": c.HeaderTimeout.Seconds(), "body-timeout": c.BodyTimeout.Seconds(), "write-timeout": c.WriteTimeout.Seconds()} {
		if v <= 0 {
			return fmt.Errorf("invalid value %g for --%s: must be positive", v, name)
		}
	}
	if _, err := proxy.ParseHeaders(c.ForwardedAllowHeaders); err != nil {
		return fmt.Errorf("invalid value %q for --forwarded-allow-headers: %v", c.ForwardedAllowHeaders, err)
	}
	if _, err := proxy.ParseForwarder(c.ForwarderHeaders); err != nil {
		return fmt.Errorf("invalid value %q for --forwarder-headers: %v", c.ForwarderHeaders, err)
	}
	if c.MaxResponseSpool < 0 {
		return fmt.Errorf("invalid value %d for --max-response-spool: must be 0 (hold nothing) or positive", c.MaxResponseSpool)
	}
	return nil
}
