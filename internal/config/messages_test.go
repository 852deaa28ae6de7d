package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestChdirChecked checks that a --chdir that is not a directory is an error naming the flag
// and the value when the configuration is read, not the workers' fork/exec failing with
// "no such file or directory" about the interpreter.
func TestChdirChecked(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		chdir string
		want  string // in the error; "" = no error
	}{
		{dir, ""},
		{filepath.Join(dir, "missing"), "no such directory"},
		{file, "not a directory"},
	} {
		_, err := Parse([]string{"--chdir", tc.chdir, "app"}, env())
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("Parse(--chdir %s) = %v; want no error", tc.chdir, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), "--chdir") ||
			!strings.Contains(err.Error(), tc.chdir) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("Parse(--chdir %s) error = %v; want one naming --chdir, the value and %q", tc.chdir, err, tc.want)
		}
	}
}

// TestLogLevelAnyCase checks that --log-level accepts gunicorn's names in any case.
func TestLogLevelAnyCase(t *testing.T) {
	for in, want := range map[string]string{"INFO": "info", "Warning": "warning", "ERROR": "error", "debug": "debug", "Critical": "critical"} {
		c, err := Parse([]string{"--log-level", in, "app"}, env())
		if err != nil || c.LogLevel != want {
			t.Errorf("Parse(--log-level %s) = %v; want LogLevel %q", in, err, want)
			continue
		}
		if c.LogLevel != want {
			t.Errorf("Parse(--log-level %s).LogLevel = %q; want %q", in, c.LogLevel, want)
		}
	}
}

// TestUsageSignals checks the signals --help lists: INT is a fast stop (as QUIT, and as the
// README says), and USR2 is there.
func TestUsageSignals(t *testing.T) {
	u := Usage(env())
	_, sigs, ok := strings.Cut(u, "\nSignals:")
	if !ok {
		t.Fatalf("--help has no Signals section:\n%s", u)
	}
	for _, want := range []string{"TERM       graceful stop", "INT, QUIT  fast stop", "HUP", "TTIN/TTOU", "USR1", "USR2       binary upgrade", "PWR"} {
		if !strings.Contains(sigs, want) {
			t.Errorf("--help's signals lack %q:\n%s", want, sigs)
		}
	}
	if strings.Contains(sigs, "INT graceful") || strings.Contains(sigs, "TERM, INT") {
		t.Errorf("--help calls INT a graceful stop:\n%s", sigs)
	}
}

// TestProcName checks -n/--name and gunicorn's proc_name in a config file: NAME in the
// process titles, APP_MODULE when none is given.
func TestProcName(t *testing.T) {
	for _, tc := range []struct {
		args    string
		globals map[string]Value // a config file's, for -c
		want    string
	}{
		{"mysite.wsgi", nil, "gonicorn: master [mysite.wsgi]"},
		{"-n shop mysite.wsgi", nil, "gonicorn: master [shop]"},
		{"--name shop mysite.wsgi:application", nil, "gonicorn: master [shop]"},
		{"-c gunicorn.conf.py mysite.wsgi", map[string]Value{"proc_name": pyv("str", "fromfile")}, "gonicorn: master [fromfile]"},
		{"-c gunicorn.conf.py -n cmd mysite.wsgi", map[string]Value{"proc_name": pyv("str", "fromfile")}, "gonicorn: master [cmd]"},
	} {
		c, err := parseFile(t, tc.args, env(), tc.globals)
		if err != nil {
			t.Errorf("Parse(%q) = %v", tc.args, err)
			continue
		}
		if got := c.Title("master"); got != tc.want {
			t.Errorf("Parse(%q).Title(master) = %q; want %q", tc.args, got, tc.want)
		}
		if len(c.Warnings) != 0 {
			t.Errorf("Parse(%q) warnings = %q; want none (proc_name is a setting now)", tc.args, c.Warnings)
		}
	}
}
