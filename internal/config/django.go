package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Django is a Django project found by its manage.py when no APP_MODULE is given. The workers
// serve the WSGI_APPLICATION of its settings, as `manage.py runserver` does: they import the
// settings, not the master (docs/django.md).
type Django struct {
	Project  string // absolute path of the directory holding manage.py (--chdir, else the working directory)
	Settings string // the settings module, e.g. "mysite.settings"
	From     string // where Settings came from: "-e", "the environment" or "manage.py"
}

// settingsModuleVar is the variable manage.py and Django read the settings module from.
const settingsModuleVar = "DJANGO_SETTINGS_MODULE"

// manageSettings finds the settings module that manage.py sets: the value of
// os.environ.setdefault("DJANGO_SETTINGS_MODULE", "...") (what startproject writes, also
// spread over lines, with either quotes) or of os.environ["DJANGO_SETTINGS_MODULE"] = "...".
// Only statements at the start of a line count, so a commented-out one does not. manage.py is
// read, never run: an import of the project's code in the master could do anything.
var manageSettings = regexp.MustCompile(`(?m)^[ \t]*(?:os\.)?environ(?:\.setdefault\(\s*["']` + settingsModuleVar + `["']\s*,|\[\s*["']` + settingsModuleVar + `["']\s*\]\s*=)\s*["']([^"'\n]*)["']`)

// moduleName matches a dotted Python module name.
var moduleName = regexp.MustCompile(`^[\pL_][\pL\pN_]*(\.[\pL_][\pL\pN_]*)*$`)

// findDjango looks for a Django project in dir ("" = the working directory), for a start
// without APP_MODULE. Its settings module is the first of: DJANGO_SETTINGS_MODULE given with
// -e (env, the last one wins, as in the workers' environment), in the environment (getenv),
// and the one manage.py sets. Without manage.py the error is the usage error, naming what
// was looked for and where.
func findDjango(dir string, env []string, getenv func(string) string, readFile func(string) ([]byte, error)) (*Django, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("missing APP_MODULE, and cannot look for manage.py: %v", err)
	}
	manage := filepath.Join(abs, "manage.py")
	src, err := readFile(manage)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("missing APP_MODULE, and no Django project in %s (no manage.py there): usage: gonicorn [OPTIONS] module[:callable] (or wsgi_app in the config file), or run gonicorn in a Django project's directory or with --chdir to it", abs)
	}
	if err != nil {
		return nil, fmt.Errorf("missing APP_MODULE, and cannot read %s: %v", manage, err)
	}
	d := &Django{Project: abs}
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, settingsModuleVar+"="); ok {
			d.Settings, d.From = v, "-e"
		}
	}
	if d.Settings == "" {
		if v := getenv(settingsModuleVar); v != "" {
			d.Settings, d.From = v, "the environment"
		}
	}
	if d.Settings == "" {
		if d.Settings, err = settingsFromManage(manage, src); err != nil {
			return nil, err
		}
		d.From = "manage.py"
	}
	if !moduleName.MatchString(d.Settings) {
		return nil, fmt.Errorf("invalid value %q for %s (from %s): want a Python module name such as mysite.settings", d.Settings, settingsModuleVar, d.From)
	}
	return d, nil
}

// settingsFromManage returns the settings module that manage.py (at path, holding src) sets.
// More than one different value (settings chosen by an if) is an error, since the master
// cannot tell which branch would run.
func settingsFromManage(path string, src []byte) (string, error) {
	var found []string
	for _, m := range manageSettings.FindAllSubmatch(src, -1) {
		if v := string(m[1]); !slices.Contains(found, v) {
			found = append(found, v)
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("missing APP_MODULE, and %s sets no %s (no os.environ.setdefault(%q, \"...\") line): set it with -e %s=... or in the environment, or give APP_MODULE", path, settingsModuleVar, settingsModuleVar, settingsModuleVar)
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("missing APP_MODULE, and %s sets %s to more than one value (%s): choose with -e %s=... or in the environment, or give APP_MODULE", path, settingsModuleVar, strings.Join(found, ", "), settingsModuleVar)
}

// AppName names the application in process titles and messages: APP_MODULE, or for a
// Django project found by its manage.py, "SETTINGS:WSGI_APPLICATION".
func (c *Config) AppName() string {
	if c.Paste != "" { // gunicorn's default_proc_name: the ini file, without #name
		return strings.SplitN(c.Paste, "#", 2)[0]
	}
	if c.App == "" && c.Django != nil {
		return c.Django.Settings + ":WSGI_APPLICATION"
	}
	return c.App
}
