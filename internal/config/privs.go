package config

import "github.com/gonicorn/gonicorn/internal/privs"

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
