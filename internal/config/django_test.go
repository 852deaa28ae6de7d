package config

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// startprojectManage is manage.py as `django-admin startproject mysite` writes it.
const startprojectManage = `#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""
import os
import sys


def main():
    """Run administrative tasks."""
    os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')
    try:
        from django.core.management import execute_from_command_line
    except ImportError as exc:
        raise ImportError("Couldn't import Django.") from exc
    execute_from_command_line(sys.argv)


if __name__ == '__main__':
    main()
`

// manageFile returns a ReadFile that serves src as dir/manage.py and nothing else.
func manageFile(dir, src string) func(string) ([]byte, error) {
	return func(path string) ([]byte, error) {
		if path == filepath.Join(dir, "manage.py") {
			return []byte(src), nil
		}
		return nil, &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist}
	}
}

// TestSettingsFromManage reads the settings module from the manage.py files Django and
// common templates write, without running them.
func TestSettingsFromManage(t *testing.T) {
	for _, tc := range []struct {
		name, src, want, wantErr string
	}{
		{"startproject", startprojectManage, "mysite.settings", ""},
		{"double quotes (black)", `    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")`, "config.settings.local", ""},
		{"over lines (black, long names)", "    os.environ.setdefault(\n        \"DJANGO_SETTINGS_MODULE\", \"a_very_long_project.settings.production\"\n    )\n", "a_very_long_project.settings.production", ""},
		{"from os import environ", `environ.setdefault('DJANGO_SETTINGS_MODULE', 'p.settings')`, "p.settings", ""},
		{"assignment", `os.environ["DJANGO_SETTINGS_MODULE"] = "p.settings"`, "p.settings", ""},
		{"commented out ignored", "# os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'old.settings')\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'new.settings')", "new.settings", ""},
		{"same value twice", "if x:\n    os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'p.settings')\nelse:\n    os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'p.settings')", "p.settings", ""},
		{"two values", "if x:\n    os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'p.test')\nelse:\n    os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'p.prod')", "", "more than one value (p.test, p.prod)"},
		{"none", "print('hello')\n", "", "sets no DJANGO_SETTINGS_MODULE"},
		{"only commented", "#os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'p.settings')", "", "sets no DJANGO_SETTINGS_MODULE"},
		{"computed", `os.environ.setdefault('DJANGO_SETTINGS_MODULE', NAME)`, "", "sets no DJANGO_SETTINGS_MODULE"},
	} {
		got, err := settingsFromManage("/p/manage.py", []byte(tc.src))
		switch {
		case tc.wantErr == "" && (err != nil || got != tc.want):
			t.Errorf("%s: settingsFromManage = %q, %v; want %q", tc.name, got, err, tc.want)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "/p/manage.py")):
			t.Errorf("%s: settingsFromManage = %q, %v; want an error naming /p/manage.py and %q", tc.name, got, err, tc.wantErr)
		}
	}
}

// TestFindDjango: -e DJANGO_SETTINGS_MODULE wins, then the environment, then manage.py.
func TestFindDjango(t *testing.T) {
	read := manageFile("/srv/mysite", startprojectManage)
	for _, tc := range []struct {
		name     string
		env      []string
		getenv   func(string) string
		settings string
		from     string
	}{
		{"manage.py", nil, env(), "mysite.settings", "manage.py"},
		{"environment", nil, env("DJANGO_SETTINGS_MODULE", "mysite.prod"), "mysite.prod", "the environment"},
		{"-e over environment", []string{"DJANGO_SETTINGS_MODULE=mysite.a", "X=1", "DJANGO_SETTINGS_MODULE=mysite.b"}, env("DJANGO_SETTINGS_MODULE", "mysite.prod"), "mysite.b", "-e"},
	} {
		d, err := findDjango("/srv/mysite", tc.env, tc.getenv, read)
		if err != nil || d.Project != "/srv/mysite" || d.Settings != tc.settings || d.From != tc.from {
			t.Errorf("%s: findDjango = %+v, %v; want /srv/mysite, %s from %s", tc.name, d, err, tc.settings, tc.from)
		}
	}
	if _, err := findDjango("/srv/mysite", []string{"DJANGO_SETTINGS_MODULE=my site"}, env(), read); err == nil ||
		!strings.Contains(err.Error(), `"my site"`) || !strings.Contains(err.Error(), "from -e") {
		t.Errorf("findDjango with a bad module name = %v; want an error naming it and -e", err)
	}
}

// TestParseWithoutAppModule: no APP_MODULE serves the Django project in --chdir (or the
// working directory); without manage.py the usage error names the directory and manage.py.
func TestParseWithoutAppModule(t *testing.T) {
	read := manageFile("/srv/mysite", startprojectManage)
	dir := t.TempDir() // --chdir must be a directory; manage.py comes from read
	c, err := ParseFrom([]string{"--chdir", dir}, Sources{Getenv: env(), ReadFile: manageFile(dir, startprojectManage)})
	if err != nil {
		t.Fatal(err)
	}
	if c.App != "" || c.Django == nil || c.Django.Project != dir || c.Django.Settings != "mysite.settings" {
		t.Fatalf("Parse(--chdir %s) = App %q, Django %+v; want the project in %s", dir, c.App, c.Django, dir)
	}
	if got, want := c.Title("worker"), "gonicorn: worker [mysite.settings:WSGI_APPLICATION]"; got != want {
		t.Errorf("Title = %q; want %q", got, want)
	}
	// --print-config names what is served, and why.
	if e := c.Effective[0]; e.Name != "wsgi_app" || e.Value != "mysite.settings:WSGI_APPLICATION" || !strings.Contains(e.Source, dir) {
		t.Errorf("Effective[0] = %+v; want wsgi_app mysite.settings:WSGI_APPLICATION from the project in %s", e, dir)
	}

	// An APP_MODULE, or wsgi_app in a config file, is served as before.
	c, err = ParseFrom([]string{"--chdir", dir, "mysite.wsgi"}, Sources{Getenv: env(), ReadFile: read})
	if err != nil || c.App != "mysite.wsgi" || c.Django != nil {
		t.Errorf("Parse(mysite.wsgi) = %+v, %v; want App mysite.wsgi, no Django", c, err)
	}

	// The working directory ("" chdir) is where manage.py is looked for.
	wd, _ := os.Getwd()
	_, err = ParseFrom(nil, Sources{Getenv: env(), ReadFile: manageFile("/elsewhere", startprojectManage)})
	if err == nil || !strings.Contains(err.Error(), "APP_MODULE") || !strings.Contains(err.Error(), "no manage.py") ||
		!strings.Contains(err.Error(), wd) {
		t.Errorf("Parse() without manage.py = %v; want the usage error naming APP_MODULE, manage.py and %s", err, wd)
	}

	// A missing --chdir is reported as such, not as a missing manage.py.
	_, err = ParseFrom([]string{"--chdir", filepath.Join(dir, "nope")}, Sources{Getenv: env(), ReadFile: read})
	if err == nil || !strings.Contains(err.Error(), "--chdir") || !strings.Contains(err.Error(), "no such directory") {
		t.Errorf("Parse(--chdir missing) = %v; want the --chdir error", err)
	}
}

// TestReloadDjango: the project found at start is found again on a reload (HUP), where it
// is not a setting that cannot change.
func TestReloadDjango(t *testing.T) {
	old := &Config{Django: &Django{Project: "/a", Settings: "a.settings"}}
	next := &Config{Django: &Django{Project: "/a", Settings: "a.prod"}}
	if got := StaticChanges(old, next); len(got) != 0 {
		t.Errorf("StaticChanges(Django changed) = %q; want none (the workers reload it)", got)
	}
}
