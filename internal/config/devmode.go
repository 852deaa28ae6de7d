package config

import "fmt"

// validateReload checks --reload-engine and --reload-extra-file.
func (c *Config) validateReload() error {
	switch c.ReloadEngine {
	case "auto", "inotify", "poll":
	default:
		return fmt.Errorf("invalid value %q for --reload-engine: want auto, inotify or poll", c.ReloadEngine)
	}
	for _, p := range c.ReloadExtraFiles {
		if p == "" {
			return fmt.Errorf("invalid value %q for --reload-extra-file: want a path or a glob", p)
		}
	}
	return nil
}

// ReloadExtraPaths returns the --reload-extra-file paths and globs made absolute: a relative
// one is taken from --chdir, where the app runs, as gunicorn takes it from the directory it
// changed to.
func (c *Config) ReloadExtraPaths() []string {
	paths := make([]string, len(c.ReloadExtraFiles))
	for i, p := range c.ReloadExtraFiles {
		paths[i] = c.absDir(p)
	}
	return paths
}

// reloadWarnings says that --reload-extra-file and --reload-engine do nothing without
// --reload (gunicorn ignores them silently; a forgotten --reload is worth a line).
func (c *Config) reloadWarnings() []string {
	if c.Reload {
		if c.Preload {
			// Each restart must import the changed code; a preloader holds the old one.
			return []string{"--preload is turned off by --reload: each worker imports the app itself, so a restart loads the changed code"}
		}
		return nil
	}
	var ws []string
	if len(c.ReloadExtraFiles) > 0 {
		ws = append(ws, "--reload-extra-file has no effect without --reload")
	}
	if c.ReloadEngine != "auto" {
		ws = append(ws, "--reload-engine has no effect without --reload")
	}
	return ws
}
