package config

import (
	"github.com/spf13/pflag"

	"github.com/gonicorn/gonicorn/internal/privs"
)

// validatePrivs checks the umask's syntax and resolves --user and --group into
// c.Credential. The user database is read here, not when the workers start, so that an
// unknown user stops gonicorn at once with exit status 1 (and --check-config reports it),
// and so that a reload (HUP) that names one keeps the running configuration, where
// resolving it later could only start the workers as root.
func (c *Config) validatePrivs() error {
	if _, err := privs.ParseUmask(c.Umask); err != nil {
		return err
	}
	cred, err := privs.Spec{User: c.User, Group: c.Group, InitGroups: c.InitGroups}.Credential()
	if err != nil {
		return err
	}
	c.Credential = cred
	return nil
}

// UmaskBits returns --umask as permission bits (validated by Parse).
func (c *Config) UmaskBits() int {
	n, _ := privs.ParseUmask(c.Umask)
	return n
}

// idValue is a string setting that a config file may give as an int too, as gunicorn takes
// user = 33, group = 33 and umask = 0o117 (which Python hands over as 79).
type idValue struct{ p *string }

func (v *idValue) String() string     { return *v.p }
func (v *idValue) Type() string       { return "string" }
func (v *idValue) Set(s string) error { *v.p = s; return nil }

// idFlag registers an idValue setting at field, with its default.
func idFlag(field func(*Config) *string) func(*pflag.FlagSet, *Config, *Setting) {
	return func(fs *pflag.FlagSet, c *Config, s *Setting) {
		p := field(c)
		*p = s.Default
		fs.VarP(&idValue{p: p}, s.Name, s.Short, s.Help)
	}
}
