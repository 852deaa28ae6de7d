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
	_, err = Parse(strings.Fields("--reload-engine watchman app"), env())
	if err == nil || !strings.Contains(err.Error(), "--reload-engine") || !strings.Contains(err.Error(), "watchman") {
		t.Errorf("--reload-engine watchman: err = %v; want one naming the flag and the value", err)
	}
}
