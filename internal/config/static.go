package config

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/gonicorn/gonicorn/internal/static"
)

// validateStatic checks the form of each --static and --sendfile-root PREFIX=DIR.
func (c *Config) validateStatic() error {
	for flag, values := range map[string][]string{"static": c.Static, "sendfile-root": c.SendfileRoot} {
		for _, v := range values {
			prefix, dir, ok := strings.Cut(v, "=")
			if !ok || dir == "" {
				return fmt.Errorf("invalid value %q for --%s: want URL_PREFIX=DIRECTORY", v, flag)
			}
			if err := static.CheckPrefix(prefix); err != nil {
				return fmt.Errorf("invalid value %q for --%s: %v", v, flag, err)
			}
		}
	}
	return nil
}

// checkStaticDirs reports a --static or --sendfile-root directory that is not one when the
// configuration is read (at start and on a reload), so that gonicorn does not start serving
// 404s for it.
func (c *Config) checkStaticDirs() error {
	for i, m := range c.StaticMounts() {
		if err := static.CheckDir(m.Dir); err != nil {
			return fmt.Errorf("invalid value %q for --static: %v", c.Static[i], err)
		}
	}
	for i, m := range c.SendfileRoots() {
		if err := static.CheckDir(m.Dir); err != nil {
			return fmt.Errorf("invalid value %q for --sendfile-root: %v", c.SendfileRoot[i], err)
		}
	}
	return nil
}

// SendfileRoots returns the --sendfile-root directories (a relative one taken as in
// StaticMounts), whose files the app may name with X-Sendfile or X-Accel-Redirect. Only
// --static-dotfiles of the static options applies to them.
func (c *Config) SendfileRoots() []static.Mount {
	var roots []static.Mount
	for _, v := range c.SendfileRoot {
		prefix, dir, _ := strings.Cut(v, "=")
		roots = append(roots, static.Mount{Prefix: prefix, Dir: c.absDir(dir),
			Options: static.Options{Dotfiles: c.StaticDotfiles}})
	}
	return roots
}

// absDir makes a --static or --sendfile-root directory absolute: a relative one is taken from
// --chdir (where the app runs, as gunicorn chdirs before it loads the app), else from the
// current directory.
func (c *Config) absDir(dir string) string {
	if filepath.IsAbs(dir) {
		return dir
	}
	dir = filepath.Join(c.Chdir, dir)
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}

// StaticMounts returns the --static mounts with the --static-* options, their directories
// made absolute (absDir).
func (c *Config) StaticMounts() []static.Mount {
	var mounts []static.Mount
	for _, v := range c.Static {
		prefix, dir, _ := strings.Cut(v, "=")
		mounts = append(mounts, static.Mount{Prefix: prefix, Dir: c.absDir(dir), Options: c.StaticOptions()})
	}
	return mounts
}

// StaticOptions are the --static-* options, for --static mounts and any other mount made
// at start (Django's STATIC_ROOT).
func (c *Config) StaticOptions() static.Options {
	return static.Options{
		MaxAge:         c.StaticMaxAge,
		Index:          c.StaticIndex,
		FollowSymlinks: c.StaticFollowSymlinks,
		Dotfiles:       c.StaticDotfiles,
	}
}
