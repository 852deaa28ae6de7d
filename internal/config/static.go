package config

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/gonicorn/gonicorn/internal/static"
)

// validateStatic checks the form of each --static PREFIX=DIR and of --static-max-age.
func (c *Config) validateStatic() error {
	for _, v := range c.Static {
		prefix, dir, ok := strings.Cut(v, "=")
		if !ok || dir == "" {
			return fmt.Errorf("invalid value %q for --static: want URL_PREFIX=DIRECTORY", v)
		}
		if err := static.CheckPrefix(prefix); err != nil {
			return fmt.Errorf("invalid value %q for --static: %v", v, err)
		}
	}
	return nil
}

// checkStaticDirs reports a --static directory that is not one when the configuration is
// read (at start and on a reload), so that gonicorn does not start serving 404s for it.
func (c *Config) checkStaticDirs() error {
	for i, m := range c.StaticMounts() {
		if err := static.CheckDir(m.Dir); err != nil {
			return fmt.Errorf("invalid value %q for --static: %v", c.Static[i], err)
		}
	}
	return nil
}

// StaticMounts returns the --static mounts with the --static-* options. A relative directory
// is taken from --chdir (where the app runs, as gunicorn chdirs before it loads the app),
// else from the current directory, and made absolute.
func (c *Config) StaticMounts() []static.Mount {
	var mounts []static.Mount
	for _, v := range c.Static {
		prefix, dir, _ := strings.Cut(v, "=")
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(c.Chdir, dir)
			if abs, err := filepath.Abs(dir); err == nil {
				dir = abs
			}
		}
		mounts = append(mounts, static.Mount{Prefix: prefix, Dir: dir, Options: c.StaticOptions()})
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
