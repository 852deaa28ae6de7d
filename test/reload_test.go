package e2e

// End-to-end tests of issue 11, item 4: development mode (--reload). A change to a file of
// the app starts new workers on the new code while the listening socket stays open; an app
// that fails to import is served as a 500 page with its traceback (logged once) until a
// saved fix loads; --reload-extra-file and the poll engine; a Django app with DEBUG on gets
// its static files through its finders. docs/django.md, "Development mode".

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// reloadDeadline bounds how long a test waits for a saved change to answer: a new worker
// imports Django on a machine that other tests load too.
const reloadDeadline = 90 * time.Second

// copyTree copies the directory src into a new temporary directory (leaving out bytecode
// caches) and returns it, so that a test can edit the files of its copy.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			if d.Name() == "__pycache__" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// writeFile replaces a file's content as an editor saves it.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// editFile replaces old by new in the file at path (old must be there).
func editFile(t *testing.T, path, old, new string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s does not hold %q", path, old)
	}
	writeFile(t, path, strings.Replace(string(data), old, new, 1))
}

// getWith is get with an Accept header.
func (s *server) getWith(path, accept string) *response {
	s.t.Helper()
	return s.do("GET " + path + " HTTP/1.1\r\nHost: test\r\nAccept: " + accept + "\r\n\r\n")
}

// waitAnswer asks for path until ok accepts the answer, and fails after reloadDeadline.
// Every answer on the way must be 200 or 500 (the app's, or its load error's page): the
// listening socket never closes and no request fails during a reload.
func (s *server) waitAnswer(path, accept string, ok func(*response) bool) *response {
	s.t.Helper()
	deadline := time.Now().Add(reloadDeadline)
	for {
		r := s.getWith(path, accept)
		if r.status != 200 && r.status != 500 {
			s.t.Fatalf("GET %s during a reload = %d; want 200 or 500\n%s", path, r.status, r.body)
		}
		if ok(r) {
			return r
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("GET %s: no expected answer %v after a change; last: %d %q", path, reloadDeadline, r.status, r.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startDjangoDev serves a copy of examples/django with --reload and returns it with the
// copy's directory. It returns once the workers' first report of their module files was
// taken by the watcher (the debug line), so that an edit from then on is seen.
func startDjangoDev(t *testing.T, args ...string) (*server, string) {
	t.Helper()
	py := debianPython(t, "django")
	dir := copyTree(t, djangoDir)
	args = append([]string{"--reload", "--log-level", "debug", "--python", py, "-e", "DJANGO_DB=" + filepath.Join(t.TempDir(), "db.sqlite3")}, args...)
	s := startIn(t, dir, nil, args...)
	if !s.log.waitFor("--reload: watching", 30*time.Second) {
		t.Fatalf("no module report reached the watcher; log:\n%s", s.log)
	}
	return s, dir
}

// TestReloadDjangoViewEdit: an edit of a view is answered by the new code, with no failed
// request on the way; the banner says how files are watched; Ctrl-C (INT) stops.
func TestReloadDjangoViewEdit(t *testing.T) {
	s, dir := startDjangoDev(t)
	if !strings.Contains(s.log.String(), "Development mode: serving mysite.settings:WSGI_APPLICATION at http://127.0.0.1:") ||
		!strings.Contains(s.log.String(), "autoreload on (inotify)") {
		t.Errorf("no development banner; log:\n%s", s.log)
	}
	if r := s.get("/json"); r.status != 200 || strings.Contains(string(r.body), "edited") {
		t.Fatalf("GET /json = %d %q; want 200 from the original view", r.status, r.body)
	}
	views := filepath.Join(dir, "demo", "views.py")
	editFile(t, views, `"method": request.method,`, `"method": request.method, "edited": "yes",`)
	s.waitAnswer("/json", "*/*", func(r *response) bool {
		return r.status == 200 && strings.Contains(string(r.body), `"edited": "yes"`)
	})
	if !strings.Contains(s.log.String(), "Worker reloading: "+views+" modified") {
		t.Errorf("log does not name the changed file; log:\n%s", s.log)
	}
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGINT)
	select {
	case <-s.done:
		if s.err != nil {
			t.Errorf("after Ctrl-C (INT): %v; want exit status 0", s.err)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("still running 15 s after Ctrl-C (INT)")
	}
}

// TestReloadDjangoSyntaxError: a syntax error saved in a view module gives every request a
// 500 page with the traceback, HTML for a browser and text otherwise; the log shows it
// once (two workers, and their reloads); the server stays up, and the fix is served.
func TestReloadDjangoSyntaxError(t *testing.T) {
	s, dir := startDjangoDev(t, "--workers", "2")
	views := filepath.Join(dir, "demo", "views.py")
	good, err := os.ReadFile(views)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, views, string(good)+"\ndef broken(:\n    pass\n")
	r := s.waitAnswer("/json", "*/*", func(r *response) bool { return r.status == 500 })
	if ct := r.header("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("text page: Content-Type %q; want text/plain; charset=utf-8", ct)
	}
	for _, want := range []string{"failed to load", views, "def broken(:", "SyntaxError: invalid syntax"} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("text page lacks %q:\n%s", want, r.body)
		}
	}
	h := s.getWith("/json", "text/html,application/xhtml+xml,*/*;q=0.8")
	if h.status != 500 || h.header("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("browser: %d %s; want 500 text/html", h.status, h.header("Content-Type"))
	}
	for _, want := range []string{"<title>SyntaxError: invalid syntax</title>", "<pre>", "def broken(:", views} {
		if !strings.Contains(string(h.body), want) {
			t.Errorf("HTML page lacks %q:\n%s", want, h.body)
		}
	}
	// Another save of the still broken file: a new generation serves the same error, which
	// is not logged again.
	booted := strings.Count(s.log.String(), "Booting worker with pid")
	writeFile(t, views, string(good)+"\ndef broken(:\n    pass\n\n")
	deadline := time.Now().Add(reloadDeadline)
	for strings.Count(s.log.String(), "Booting worker with pid") < booted+2 {
		if time.Now().After(deadline) {
			t.Fatalf("no new generation after the second save; log:\n%s", s.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r := s.get("/json"); r.status != 500 {
		t.Errorf("after the second broken save: GET /json = %d; want 500", r.status)
	}
	writeFile(t, views, string(good))
	s.waitAnswer("/json", "*/*", func(r *response) bool { return r.status == 200 })
	if !s.log.waitFor("Application loaded again", 10*time.Second) {
		t.Errorf("log does not say the app loads again:\n%s", s.log)
	}
	if n := strings.Count(s.log.String(), "SyntaxError: invalid syntax"); n != 1 {
		t.Errorf("the traceback is in the log %d times; want once:\n%s", n, s.log)
	}
	select {
	case <-s.done:
		t.Fatalf("the server exited: %v", s.err)
	default:
	}
}

// TestReloadDjangoStaticFinders: with DEBUG on, --reload serves the admin's CSS from the
// app's static/ directory through Django's finders, without collectstatic, as runserver.
func TestReloadDjangoStaticFinders(t *testing.T) {
	s, _ := startDjangoDev(t, "-e", "DJANGO_DEBUG=1")
	r := s.get("/static/admin/css/base.css")
	if r.status != 200 || !strings.HasPrefix(r.header("Content-Type"), "text/css") || len(r.body) < 1000 {
		t.Fatalf("GET /static/admin/css/base.css = %d %s, %d bytes; want 200 text/css", r.status, r.header("Content-Type"), len(r.body))
	}
	if !strings.Contains(s.log.String(), "through django.contrib.staticfiles' finders") {
		t.Errorf("log does not say how static files are served:\n%s", s.log)
	}
}

// brokenApp is a stdlib app whose module does not import (a syntax error), and its fix.
const (
	brokenApp = "def application(environ, start_response:\n    pass\n"
	fixedApp  = "def application(environ, start_response):\n    start_response('200 OK', [('Content-Type', 'text/plain')])\n    return [b'fixed']\n"
)

// TestReloadBrokenAtStart: an app that does not import at start does not stop the server in
// development mode: its page is served, and saving the file that failed (which was never
// imported) loads it.
func TestReloadBrokenAtStart(t *testing.T) {
	dir := t.TempDir()
	app := filepath.Join(dir, "devapp.py")
	writeFile(t, app, brokenApp)
	s := startIn(t, dir, nil, "--reload", "--log-level", "debug", "--python", python(t), "devapp")
	if !s.log.waitFor("--reload: watching", 30*time.Second) {
		t.Fatalf("no module report reached the watcher; log:\n%s", s.log)
	}
	r := s.waitAnswer("/", "*/*", func(r *response) bool { return r.status == 500 })
	if !strings.Contains(string(r.body), "SyntaxError") || !strings.Contains(string(r.body), app) {
		t.Errorf("page lacks the traceback:\n%s", r.body)
	}
	writeFile(t, app, fixedApp)
	s.waitAnswer("/", "*/*", func(r *response) bool { return r.status == 200 && string(r.body) == "fixed" })
}

// reloadExtraApp reads a file at import: only --reload-extra-file makes its change count.
const reloadExtraApp = `import pathlib
MESSAGE = (pathlib.Path(__file__).parent / 'conf' / 'message.txt').read_bytes()
def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [MESSAGE]
`

// TestReloadExtraFile: a change to a file that --reload-extra-file names by a glob (relative
// to --chdir) reloads, for each engine.
func TestReloadExtraFile(t *testing.T) {
	for _, engine := range []string{"inotify", "poll"} {
		t.Run(engine, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "extraapp.py"), reloadExtraApp)
			if err := os.Mkdir(filepath.Join(dir, "conf"), 0o755); err != nil {
				t.Fatal(err)
			}
			msg := filepath.Join(dir, "conf", "message.txt")
			writeFile(t, msg, "one")
			s := start(t, "--reload", "--reload-engine", engine, "--reload-extra-file", "conf/*.txt",
				"--python", python(t), "--chdir", dir, "extraapp")
			if r := s.get("/"); string(r.body) != "one" {
				t.Fatalf("GET / = %d %q; want one", r.status, r.body)
			}
			if !strings.Contains(s.log.String(), "autoreload on ("+engine+")") {
				t.Errorf("banner does not name the engine %s:\n%s", engine, s.log)
			}
			writeFile(t, msg, "two")
			s.waitAnswer("/", "*/*", func(r *response) bool { return string(r.body) == "two" })
		})
	}
}

// TestReloadPollEngine: the poll engine picks up an edit of the app's module.
func TestReloadPollEngine(t *testing.T) {
	dir := t.TempDir()
	app := filepath.Join(dir, "pollapp.py")
	writeFile(t, app, strings.Replace(fixedApp, "fixed", "before", 1))
	s := start(t, "--reload", "--reload-engine", "poll", "--log-level", "debug", "--python", python(t), "--chdir", dir, "pollapp")
	if !s.log.waitFor("--reload: watching", 30*time.Second) {
		t.Fatalf("no module report reached the watcher; log:\n%s", s.log)
	}
	if r := s.get("/"); string(r.body) != "before" {
		t.Fatalf("GET / = %d %q; want before", r.status, r.body)
	}
	writeFile(t, app, strings.Replace(fixedApp, "fixed", "after!", 1))
	s.waitAnswer("/", "*/*", func(r *response) bool { return string(r.body) == "after!" })
}

// TestReloadCheckConfig: --check-config reports an app that does not import also with
// --reload (whose workers would serve the error instead of failing).
func TestReloadCheckConfig(t *testing.T) {
	_, stderr, code := runCLI(t, nil, "--reload", "--python", python(t), "--chdir", appsDir(t), "--check-config", "badimport")
	if code != 1 || !strings.Contains(stderr, "Traceback") {
		t.Errorf("--reload --check-config badimport: exit %d, stderr %q; want 1 with the traceback", code, stderr)
	}
}

// TestReloadMissingModuleCreated: an app that imports a module that does not exist yet is
// served as its error page, and creating the module's file loads it.
func TestReloadMissingModuleCreated(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "needsapp.py"), "import helper\napplication = helper.application\n")
	s := startIn(t, dir, nil, "--reload", "--log-level", "debug", "--python", python(t), "needsapp")
	if !s.log.waitFor("--reload: watching", 30*time.Second) {
		t.Fatalf("no module report reached the watcher; log:\n%s", s.log)
	}
	r := s.waitAnswer("/", "*/*", func(r *response) bool { return r.status == 500 })
	if !strings.Contains(string(r.body), "No module named 'helper'") {
		t.Errorf("page lacks the error:\n%s", r.body)
	}
	writeFile(t, filepath.Join(dir, "helper.py"), fixedApp)
	s.waitAnswer("/", "*/*", func(r *response) bool { return r.status == 200 && string(r.body) == "fixed" })
}

// TestOverlappingReloadsKeepWorkerCount: a second reload (HUP) while the first one's workers
// still import the app starts no worker of its own (the first one's are on their way), so
// the server ends with --workers workers, not more. --reload's restarts take the same path.
func TestOverlappingReloadsKeepWorkerCount(t *testing.T) {
	dir := t.TempDir()
	gate := filepath.Join(dir, "gate")
	writeFile(t, gate, "")
	sock := filepath.Join(dir, "g.ctl")
	s := start(t, "--python", python(t), "--chdir", appsDir(t), "-w", "1", "--control-socket", sock,
		"-e", "SLOWBOOT_GATE="+gate, "slowboot")
	if err := os.Remove(gate); err != nil { // the next workers wait in their import
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		syscall.Kill(s.cmd.Process.Pid, syscall.SIGHUP)
		deadline := time.Now().Add(10 * time.Second)
		for strings.Count(s.log.String(), "Hang up: Master") < i {
			if time.Now().After(deadline) {
				t.Fatalf("HUP %d not handled; log:\n%s", i, s.log)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	writeFile(t, gate, "")
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(s.log.String(), "Reload complete") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the reloads did not complete; log:\n%s", s.log)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if pids := ctlWorkerPIDs(t, sock); len(pids) != 1 {
		t.Errorf("serving workers after two overlapping reloads with -w 1: %v; want one", pids)
	}
}
