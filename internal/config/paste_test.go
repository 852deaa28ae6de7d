package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPasteSettings(t *testing.T) {
	dir := t.TempDir()
	ini := filepath.Join(dir, "prod.ini")
	if err := os.WriteFile(ini, []byte("[app:main]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	rel, err := filepath.Rel(wd, ini)
	if err != nil {
		t.Fatal(err)
	}
	// The command line: a relative path made absolute, #name kept, globals parsed as
	// gunicorn's paste_global_conf (split at the first '=' not after '\').
	c, err := Parse([]string{"--paster", rel + "#admin", "--paste-global", "a=1", "--paste-global", `k\=x=v=w`}, env())
	if err != nil {
		t.Fatal(err)
	}
	if c.Paste != ini+"#admin" || c.App != "" || c.AppName() != ini || len(c.PasteVars) != 2 || c.PasteVars["a"] != "1" || c.PasteVars["k=x"] != "v=w" {
		t.Errorf("Parse(--paster ...) = paste %q, app %q, name %q, vars %q; want %q, no APP_MODULE, name %q, a=1 and k=x=v=w",
			c.Paste, c.App, c.AppName(), c.PasteVars, ini+"#admin", ini)
	}
	if c.SyslogTag("error") != "gunicorn."+ini+".error" {
		t.Errorf("SyslogTag = %q; want the ini file as gunicorn's default_proc_name", c.SyslogTag("error"))
	}
	// A config file's gunicorn names.
	c, err = parseFile(t, "-c g.conf.py", env(), map[string]Value{
		"paste": pyv("str", ini), "raw_paste_global_conf": pyv("strlist", []string{"FOO=bar"})})
	if err != nil {
		t.Fatalf("config file paste, raw_paste_global_conf: %v", err)
	}
	if c.Paste != ini || c.PasteVars["FOO"] != "bar" {
		t.Errorf("config file paste, raw_paste_global_conf: %v, %q %q; want %q and FOO=bar", err, c.Paste, c.PasteVars, ini)
	}
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--paste", filepath.Join(dir, "none.ini")}, "is not a file"},
		{[]string{"--paste", dir}, "is not a file"},
		{[]string{"--paste", ini + "#"}, "no app name after '#'"},
		{[]string{"--paste", ini, "--paste-global", `a\=b`}, `invalid value "a\\=b" for --paste-global: want KEY=VALUE`},
	} {
		if _, err := Parse(tc.args, env()); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("Parse(%q) = %v; want an error with %q", tc.args, err, tc.msg)
		}
	}
}
