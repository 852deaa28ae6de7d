package e2e

// End-to-end tests of --paste / --paster and --paste-global (issue 10;
// python/gonicorn_worker.py's load_paste, internal/config/paste.go; docs/config-file.md,
// "PasteDeploy"): the app of test/apps/paste/app.ini, loaded by PasteDeploy in Debian's
// python3 (python3-pastedeploy).

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pasteConf is what test/apps/paste/pasteapp.py answers: the confs its factory got.
type pasteConf struct {
	Global map[string]string `json:"global"`
	Local  map[string]string `json:"local"`
}

func getPasteConf(t *testing.T, s *server) pasteConf {
	t.Helper()
	r := s.get("/hello")
	if r.status != 200 {
		t.Fatalf("GET /hello = %d %s", r.status, r.body)
	}
	var c pasteConf
	if err := json.Unmarshal(r.body, &c); err != nil {
		t.Fatalf("GET /hello = %q: %v", r.body, err)
	}
	return c
}

func TestPaste(t *testing.T) {
	py := debianPython(t, "paste.deploy")
	dir := filepath.Join(appsDir(t), "paste")
	ini := filepath.Join(dir, "app.ini")

	// A relative path, from the directory gonicorn starts in; global variables, one with an
	// escaped '=' in its key; an APP_MODULE as well is ignored, as in gunicorn.
	s := startIn(t, dir, nil, "--python", py, "--paste", "app.ini", "--paste-global", "FOO=1",
		"--paste-global", `A\=B=c=d`, "ignored:app")
	c := getPasteConf(t, s)
	if c.Local["who"] != "main" || c.Global["__file__"] != ini || c.Global["here"] != dir ||
		c.Global["FOO"] != "1" || c.Global["A=B"] != "c=d" || c.Global["site"] != "example" {
		t.Errorf("--paste app.ini: the factory got %+v; want [app:main] of %s with FOO=1, A=B=c=d and [DEFAULT]'s site", c, ini)
	}
	// The [loggers] section configured Python's logging, as gunicorn's logconfig: the app's
	// log line reaches the error log.
	if !s.log.waitFor("pasteapp-log INFO pasteapp serving /hello", 5*time.Second) {
		t.Error("the ini file's [loggers] section was not applied")
	}
	if !s.log.waitFor("APP_MODULE ignored:app is ignored: --paste "+ini+" loads the app", time.Second) {
		t.Error("no warning about the APP_MODULE --paste replaces")
	}
	// [server:main] (port 1) is not read: the server listens where --bind says.
	if strings.Contains(s.log.String(), ":1 ") {
		t.Errorf("[server:main] was read:\n%s", s.log)
	}

	// --paster FILE#name picks another [app:name] section; the [DEFAULT] section and
	// --paste-global meet as in gunicorn (a global variable overrides the file's).
	s = start(t, "--python", py, "--chdir", dir, "--paster", ini+"#admin", "--paste-global", "site=other")
	if c := getPasteConf(t, s); c.Local["who"] != "admin" || c.Global["site"] != "other" {
		t.Errorf("--paster %s#admin: the factory got %+v; want [app:admin] and site=other", ini, c)
	}
}

func TestPasteBadInput(t *testing.T) {
	py := debianPython(t, "paste.deploy")
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		msg  string
		code int
	}{
		{[]string{"--paste", filepath.Join(dir, "none.ini")}, `invalid value "` + filepath.Join(dir, "none.ini") + `" for --paste: ` + filepath.Join(dir, "none.ini") + " is not a file", 1},
		{[]string{"--paste", filepath.Join(appsDir(t), "paste", "app.ini#")}, "no app name after '#'", 1},
		{[]string{"--paste", filepath.Join(appsDir(t), "paste", "app.ini"), "--paste-global", "FOO"}, `invalid value "FOO" for --paste-global: want KEY=VALUE`, 1},
		// A section that is not there: the workers' load error, exit status 3.
		{[]string{"--chdir", filepath.Join(appsDir(t), "paste"), "--paste", filepath.Join(appsDir(t), "paste", "app.ini#nope")}, "LookupError: No section 'nope'", 3},
	} {
		s := startNoWait(t, append([]string{"--python", py}, tc.args...)...)
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			t.Fatalf("%v: gonicorn did not stop", tc.args)
		}
		if code := s.cmd.ProcessState.ExitCode(); code != tc.code || !strings.Contains(s.log.String(), tc.msg) {
			t.Errorf("%v: exit %d, output:\n%s\nwant exit %d with %q", tc.args, code, s.log, tc.code, tc.msg)
		}
	}
}
