package e2e

// End-to-end tests of issue 11, item 1: `gonicorn` without APP_MODULE serves the Django
// project whose manage.py is in --chdir, as `manage.py runserver` would, and the workers
// report the project's static and media settings (docs/django.md).

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDjangoWithoutAppModule serves examples/django with no APP_MODULE: the settings module
// comes from its manage.py, the app from WSGI_APPLICATION.
func TestDjangoWithoutAppModule(t *testing.T) {
	py := debianPython(t, "django")
	project, err := filepath.Abs(djangoDir)
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, "--chdir", djangoDir, "--python", py, "-e", "DJANGO_DB="+filepath.Join(t.TempDir(), "db.sqlite3"))
	for _, want := range []string{
		"[INFO] Django project at " + project + ": settings mysite.settings, WSGI_APPLICATION mysite.wsgi.application\n",
		"[INFO] Django settings mysite.settings: STATIC_URL /static/, STATIC_ROOT unset; MEDIA_URL unset, MEDIA_ROOT unset\n",
	} {
		if !s.log.waitFor(want, 10*time.Second) {
			t.Errorf("log lacks %q:\n%s", want, s.log)
		}
	}
	if strings.Count(s.log.String(), "Django project at") != 1 {
		t.Errorf("the startup line appears more than once:\n%s", s.log)
	}
	for _, path := range []string{"/json", "/template"} {
		if r := s.get(path); r.status != 200 {
			t.Errorf("GET %s = %d; want 200\n%s", path, r.status, r.body)
		}
	}
	// A reload (HUP) finds the project again and serves it with new workers.
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGHUP)
	if !s.log.waitFor("Reload complete", 60*time.Second) {
		t.Fatalf("no reload; log:\n%s", s.log)
	}
	if r := s.get("/json"); r.status != 200 {
		t.Errorf("GET /json after HUP = %d; want 200\n%s", r.status, r.body)
	}
	if strings.Contains(s.log.String(), "cannot change") || strings.Contains(s.log.String(), "[WARNING]") {
		t.Errorf("warnings on reload:\n%s", s.log)
	}
}

// TestDjangoExplicitAppReportsStatic: an app named by APP_MODULE that is Django still gets
// its static settings logged, but no project line.
func TestDjangoExplicitAppReportsStatic(t *testing.T) {
	py := debianPython(t, "django")
	s := start(t, "--chdir", djangoDir, "--python", py, "mysite.wsgi")
	want := "[INFO] Django settings mysite.settings: STATIC_URL /static/"
	if !s.log.waitFor(want, 10*time.Second) {
		t.Errorf("log lacks %q:\n%s", want, s.log)
	}
	if strings.Contains(s.log.String(), "Django project at") {
		t.Errorf("a project line for an explicit APP_MODULE:\n%s", s.log)
	}
}

// TestNonDjangoAppNoDjangoLines: a plain app gets no Django lines (and the worker does not
// import Django for it: python/test_gonicorn_django.py checks that).
func TestNonDjangoAppNoDjangoLines(t *testing.T) {
	s := start(t, "--python", python(t), "--chdir", appsDir(t), "basic")
	if r := s.get("/"); r.status != 200 {
		t.Fatalf("GET / = %d; want 200", r.status)
	}
	if strings.Contains(s.log.String(), "Django") {
		t.Errorf("Django lines for a plain app:\n%s", s.log)
	}
}

// startproject makes a fresh project with `python -m django startproject mysite DIR`,
// adds static and media settings (a relative MEDIA_ROOT, resolved from the project's
// directory), runs collectstatic, and returns DIR.
func startproject(t *testing.T, py string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "site")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(py, "-m", "django", "startproject", "mysite", dir).CombinedOutput(); err != nil {
		t.Fatalf("django startproject: %v\n%s", err, out)
	}
	f, err := os.OpenFile(filepath.Join(dir, "mysite", "settings.py"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("\nSTATIC_ROOT = BASE_DIR / 'staticfiles'\nMEDIA_URL = 'media/'\nMEDIA_ROOT = 'uploads'\n")
	f.Close()
	// A second settings module, for -e DJANGO_SETTINGS_MODULE, with WSGI_APPLICATION None
	// (runserver then serves django.core.wsgi.get_wsgi_application()).
	alt := "from .settings import *\nWSGI_APPLICATION = None\n"
	if err := os.WriteFile(filepath.Join(dir, "mysite", "settings_alt.py"), []byte(alt), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "manage.py", "collectstatic", "--noinput")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("manage.py collectstatic: %v\n%s", err, out)
	}
	return dir
}

// TestDjangoStartproject serves a fresh `django-admin startproject` with no APP_MODULE and
// --chdir, as a new user would, and again with the settings module chosen by -e.
func TestDjangoStartproject(t *testing.T) {
	py := debianPython(t, "django")
	dir := startproject(t, py)

	// startproject's settings have DEBUG on and ALLOWED_HOSTS empty: localhost is allowed.
	welcome := func(s *server) {
		t.Helper()
		r := s.do("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
		if r.status != 200 || !strings.Contains(string(r.body), "install worked successfully") {
			t.Errorf("GET / = %d; want 200 and Django's welcome page\n%.500s", r.status, r.body)
		}
	}

	t.Run("manage.py", func(t *testing.T) {
		s := start(t, "--chdir", dir, "--python", py)
		for _, want := range []string{
			"Django project at " + dir + ": settings mysite.settings, WSGI_APPLICATION mysite.wsgi.application\n",
			"Django settings mysite.settings: STATIC_URL /static/, STATIC_ROOT " + filepath.Join(dir, "staticfiles") +
				"; MEDIA_URL media/, MEDIA_ROOT " + filepath.Join(dir, "uploads") + "\n",
		} {
			if !s.log.waitFor(want, 10*time.Second) {
				t.Errorf("log lacks %q:\n%s", want, s.log)
			}
		}
		welcome(s)
		// collectstatic put the admin's CSS into the STATIC_ROOT the worker reported.
		if _, err := os.Stat(filepath.Join(dir, "staticfiles", "admin", "css", "base.css")); err != nil {
			t.Errorf("collectstatic: %v", err)
		}
	})

	t.Run("-e DJANGO_SETTINGS_MODULE", func(t *testing.T) {
		s := start(t, "--chdir", dir, "--python", py, "-e", "DJANGO_SETTINGS_MODULE=mysite.settings_alt")
		want := "Django project at " + dir + ": settings mysite.settings_alt (DJANGO_SETTINGS_MODULE from -e), " +
			"WSGI_APPLICATION None (django.core.wsgi.get_wsgi_application())\n"
		if !s.log.waitFor(want, 10*time.Second) {
			t.Errorf("log lacks %q:\n%s", want, s.log)
		}
		welcome(s)
	})

	t.Run("bad settings module", func(t *testing.T) {
		s := startNoWait(t, "--chdir", dir, "--python", py, "-e", "DJANGO_SETTINGS_MODULE=mysite.nosuch")
		if code := s.exitCode(60 * time.Second); code != 3 {
			t.Errorf("exit status %d; want 3", code)
		}
		log := s.log.String()
		for _, want := range []string{`"mysite.nosuch:WSGI_APPLICATION"`, "No module named 'mysite.nosuch'"} {
			if !strings.Contains(log, want) {
				t.Errorf("output lacks %q:\n%s", want, log)
			}
		}
	})
}

// TestNoAppModuleNoManagePy: without APP_MODULE and without manage.py, gonicorn stops with
// exit status 1 and says what it looked for, and where.
func TestNoAppModuleNoManagePy(t *testing.T) {
	dir := t.TempDir()
	s := startNoWait(t, "--python", python(t), "--chdir", dir)
	if code := s.exitCode(30 * time.Second); code != 1 {
		t.Errorf("exit status %d; want 1", code)
	}
	log := s.log.String()
	for _, want := range []string{"missing APP_MODULE", "no Django project in " + dir, "no manage.py there", "--chdir"} {
		if !strings.Contains(log, want) {
			t.Errorf("output lacks %q:\n%s", want, log)
		}
	}
}

// TestDjangoGuide runs the commands of docs/django.md on a fresh startproject: the
// "Before each start" block (migrate, collectstatic, check --deploy) and the start command,
// unchanged but for the paths (the project's directory, this test's Python and gonicorn)
// and the address (the harness's listener instead of --bind 127.0.0.1:8000). The systemd
// unit's ExecStart must be the same command.
func TestDjangoGuide(t *testing.T) {
	const guide = "../docs/django.md"
	py := debianPython(t, "django")
	dir := startproject(t, py)

	// guideLines returns the block's commands as argument lists, after its "cd /srv/mysite".
	guideLines := func(heading string) [][]string {
		var cmds [][]string
		lines := strings.Split(strings.TrimSpace(docBlock(t, guide, heading, "sh")), "\n")
		if lines[0] != "cd /srv/mysite" {
			t.Fatalf("%s: the block after %q does not start with cd /srv/mysite: %q", guide, heading, lines[0])
		}
		for _, l := range lines[1:] {
			cmds = append(cmds, strings.Fields(l))
		}
		return cmds
	}

	for _, args := range guideLines("## Before each start: migrate and collectstatic") {
		if args[0] != ".venv/bin/python" {
			t.Fatalf("%s: %q does not run .venv/bin/python", guide, args)
		}
		cmd := exec.Command(py, args[1:]...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}

	startCmd := guideLines("## The start command")
	if len(startCmd) != 1 || startCmd[0][0] != ".venv/bin/gonicorn" {
		t.Fatalf("%s: the start command block is not one .venv/bin/gonicorn command: %q", guide, startCmd)
	}
	args := startCmd[0][1:]
	unit := docBlock(t, guide, "## Under systemd", "ini")
	if want := "\nExecStart=/srv/mysite/" + strings.Join(startCmd[0], " ") + "\n"; !strings.Contains(unit, want) {
		t.Errorf("%s: the systemd unit's ExecStart is not the start command %q:\n%s", guide, want, unit)
	}
	var run []string
	for i := 0; i < len(args); i++ {
		if args[i] == "--bind" {
			i++ // the harness listens for it
			continue
		}
		run = append(run, args[i])
	}
	s := startIn(t, dir, nil, append(run, "--python", py)...)
	if !s.log.waitFor("Django project at "+dir+": settings mysite.settings, WSGI_APPLICATION mysite.wsgi.application", 60*time.Second) {
		t.Fatalf("no Django project line; log:\n%s", s.log)
	}
	r := s.do("GET /admin/login/ HTTP/1.1\r\nHost: localhost\r\n\r\n")
	if r.status != 200 || !strings.Contains(string(r.body), "csrfmiddlewaretoken") {
		t.Errorf("GET /admin/login/ = %d; want 200 and the login form\n%.500s", r.status, r.body)
	}
}
