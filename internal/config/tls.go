package config

import (
	"fmt"

	"github.com/gonicorn/gonicorn/internal/tlsconf"
)

// TLS returns the TLS settings for package tlsconf.
func (c *Config) TLS() tlsconf.Settings {
	return tlsconf.Settings{CertFile: c.CertFile, KeyFile: c.KeyFile, CACerts: c.CACerts,
		CertReqs: c.CertReqs, Version: c.SSLVersion, Ciphers: c.Ciphers, HTTP2: c.HTTP2()}
}

// validateTLS checks the TLS settings (their files are read when the master starts) and
// that a bind written https:// has a certificate.
func (c *Config) validateTLS() error {
	if _, err := tlsconf.Parse(c.TLS()); err != nil {
		return err
	}
	if c.CertFile != "" {
		return nil
	}
	for _, s := range c.Bind {
		if b, _ := ParseBind(s); b.Scheme == "https" {
			return fmt.Errorf("invalid value %q for --bind: https:// needs --certfile (and --keyfile)", s)
		}
	}
	return nil
}
