package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// usePaste makes --paste FILE[#name] the app (gunicorn's WSGIApplication.init): FILE is made
// absolute against the working directory gonicorn starts in (before --chdir, as gunicorn
// does) and must exist. An APP_MODULE given as well is ignored with a warning, as gunicorn
// ignores it.
func (c *Config) usePaste(pos []string) error {
	file, name, hasName := strings.Cut(c.Paste, "#")
	abs, err := filepath.Abs(file)
	if err != nil || file == "" {
		return fmt.Errorf("invalid value %q for --paste: want FILE[#NAME]", c.Paste)
	}
	if st, err := os.Stat(abs); err != nil || st.IsDir() {
		return fmt.Errorf("invalid value %q for --paste: %s is not a file", c.Paste, abs)
	}
	c.Paste = abs
	if hasName {
		if name == "" {
			return fmt.Errorf("invalid value %q for --paste: no app name after '#'", file+"#")
		}
		c.Paste += "#" + name
	}
	if len(pos) > 0 {
		c.Warnings = append(c.Warnings, fmt.Sprintf("APP_MODULE %s is ignored: --paste %s loads the app", strings.Join(pos, " "), c.Paste))
	}
	return nil
}

// validatePaste parses --paste-global KEY=VALUE into PasteVars, as gunicorn's
// paste_global_conf: split at the first '=' not preceded by '\', then "\=" is '=' in both.
func (c *Config) validatePaste() error {
	c.PasteVars = nil
	for _, kv := range c.PasteGlobal {
		i := unescapedEquals(kv)
		if i < 0 {
			return fmt.Errorf("invalid value %q for --paste-global: want KEY=VALUE", kv)
		}
		if c.PasteVars == nil {
			c.PasteVars = map[string]string{}
		}
		unescape := func(s string) string { return strings.ReplaceAll(s, `\=`, "=") }
		c.PasteVars[unescape(kv[:i])] = unescape(kv[i+1:])
	}
	return nil
}

// unescapedEquals returns the index of the first '=' in s not preceded by '\', or -1.
func unescapedEquals(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == '=' && (i == 0 || s[i-1] != '\\') {
			return i
		}
	}
	return -1
}
