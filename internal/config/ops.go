package config

import (
	"fmt"
	"net"
	"strconv"
)

// validateOps checks the operations settings (docs/operations.md): --metrics-bind is a TCP
// HOST:PORT (an orchestrator's probe and a Prometheus scraper speak TCP). The host is
// resolved when the listener opens, not here. --statsd-host likewise.
func (c *Config) validateOps() error {
	if c.MetricsBind != "" {
		_, port, err := net.SplitHostPort(c.MetricsBind)
		if err != nil {
			return fmt.Errorf("invalid value %q for --metrics-bind: want HOST:PORT: %v", c.MetricsBind, err)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			return fmt.Errorf("invalid value %q for --metrics-bind: port %q is not a number from 0 to 65535", c.MetricsBind, port)
		}
	}
	if c.StatsdHost != "" {
		if _, port, err := net.SplitHostPort(c.StatsdHost); err != nil {
			return fmt.Errorf("invalid value %q for --statsd-host: want HOST:PORT: %v", c.StatsdHost, err)
		} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("invalid value %q for --statsd-host: port %q is not a number from 1 to 65535", c.StatsdHost, port)
		}
	}
	return nil
}
