package config

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestReloadSettings: --reload, --reload-engine and --reload-extra-file parse with
// gunicorn's names; an unknown engine is an error naming the flag and the value; relative
// extra paths are taken from --chdir.
func TestReloadSettings(t *testing.T) {
	dir := t.TempDir()
	c, err := Parse(strings.Fields("--reload --reload-engine poll --reload-extra-file .env --reload-extra-file /srv/t/**/*.html --chdir "+dir+" app"), env())
	if err != nil {
		t.Fatal(err)
	}
	if !c.Reload || c.ReloadEngine != "poll" {
		t.Errorf("Reload, ReloadEngine = %v, %q; want true, poll", c.Reload, c.ReloadEngine)
	}
	if got, want := c.ReloadExtraPaths(), []string{filepath.Join(dir, ".env"), "/srv/t/**/*.html"}; !slices.Equal(got, want) {
		t.Errorf("ReloadExtraPaths() = %q; want %q", got, want)
	}
	d, err := Parse([]string{"app"}, env())
	if err != nil {
		t.Fatal(err)
	}
	if d.Reload || d.ReloadEngine != "auto" {
		t.Errorf("defaults: Reload, ReloadEngine = %v, %q; want false, auto", d.Reload, d.ReloadEngine)
	}
	if len(c.Warnings) != 0 || len(d.Warnings) != 0 {
		t.Errorf("warnings %q, %q; want none", c.Warnings, d.Warnings)
	}
	w, err := Parse(strings.Fields("--reload-extra-file .env --reload-engine poll app"), env())
	if err != nil || !slices.Equal(w.Warnings, []string{"--reload-extra-file has no effect without --reload", "--reload-engine has no effect without --reload"}) {
		t.Errorf("without --reload: warnings %q, %v; want one for each flag", w.Warnings, err)
	}
	p, err := Parse(strings.Fields("--reload --preload app"), env())
	if err != nil || len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "--preload is turned off by --reload") {
		t.Errorf("--reload --preload: warnings %q, %v; want one saying --preload is off", p.Warnings, err)
	}
	_, err = Parse(strings.Fields("--reload-engine watchman app"), env())
	if err == nil || !strings.Contains(err.Error(), "--reload-engine") || !strings.Contains(err.Error(), "watchman") {
		t.Errorf("--reload-engine watchman: err = %v; want one naming the flag and the value", err)
	}
}

// TestReloadConfigFile: gunicorn's reload, reload_engine and reload_extra_files in a config
// file, the last as gunicorn writes it: a list of strings (a single string works too).
func TestReloadConfigFile(t *testing.T) {
	c, err := parseFile(t, "-c conf.py app", env(), map[string]Value{
		"reload": pyv("bool", true), "reload_engine": pyv("str", "inotify"),
		"reload_extra_files": pyv("strlist", []string{"a.txt", "t/**/*.html"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Reload || c.ReloadEngine != "inotify" || !slices.Equal(c.ReloadExtraFiles, []string{"a.txt", "t/**/*.html"}) {
		t.Errorf("config file: Reload %v, ReloadEngine %q, ReloadExtraFiles %q; want true, inotify, [a.txt t/**/*.html]", c.Reload, c.ReloadEngine, c.ReloadExtraFiles)
	}
	c, err = parseFile(t, "-c conf.py app", env(), map[string]Value{"reload_extra_files": pyv("str", ".env")})
	if err != nil || !slices.Equal(c.ReloadExtraFiles, []string{".env"}) {
		t.Errorf("reload_extra_files = '.env': %q, %v; want [.env]", c.ReloadExtraFiles, err)
	}
}
