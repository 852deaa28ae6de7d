package e2e

// gunicorn's command lines run unchanged (docs/gunicorn-settings.md): every gunicorn setting
// is implemented, refused with one line that says what to do instead, or ignored with a
// warning; gunicorn's spellings (-k, --log-file, -v, GUNICORN_CMD_ARGS, ./gunicorn.conf.py)
// work.

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A refused gunicorn setting stops gonicorn at once with exit status 1 and one line naming
// it and saying what to do instead — on the command line, in GUNICORN_CMD_ARGS and in a
// config file alike — never "unknown flag".
func TestGunicornSettingRefused(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "gunicorn.conf.py")
	writeConfig(t, conf, "spew = True\n")
	for _, tc := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"--spew", "app"}, "gonicorn: error: --spew: gonicorn does not trace every line; send PWR"},
		{nil, []string{"--protocol", "uwsgi", "app"}, "gonicorn: error: --protocol uwsgi: gonicorn speaks HTTP only"},
		{[]string{"GUNICORN_CMD_ARGS=--dirty-app x:y"}, []string{"app"}, "gonicorn: error: --dirty-app x:y: dirty arbiters are not in gonicorn; run long jobs in a task queue (Celery, RQ) or a second gonicorn (in GUNICORN_CMD_ARGS)"},
		{nil, []string{"--python", python(t), "-c", conf, "app"}, "gonicorn: error: config file " + conf + ": spew = True: gonicorn does not trace every line"},
	} {
		_, stderr, code := runCLI(t, tc.env, tc.args...)
		if code != 1 || !strings.HasPrefix(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("gonicorn %v (env %v): exit %d, stderr %q; want 1 and the one line %q...", tc.args, tc.env, code, stderr, tc.want)
		}
	}
}

// gunicorn flags harmless to leave out (Docker guides' --worker-tmp-dir /dev/shm) serve, with
// a warning each; --preload, with them, preloads.
func TestGunicornSettingIgnoredServes(t *testing.T) {
	s := start(t, "--python", python(t), "--chdir", appsDir(t), "--worker-tmp-dir", "/dev/shm", "--preload", "--capture-output", "basic")
	if r := s.get("/"); r.status != 200 {
		t.Fatalf("GET / = %d; want 200", r.status)
	}
	for _, want := range []string{
		"[WARNING] --worker-tmp-dir /dev/shm: gunicorn setting ignored by gonicorn: workers have no heartbeat file",
		"Booting preloader with pid",
	} {
		if !strings.Contains(s.log.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if strings.Contains(s.log.String(), "capture-output") {
		t.Error("--capture-output was reported; gonicorn always does it")
	}
}

// -k/--worker-class takes gunicorn's sync and gthread, in any case and by gunicorn's class
// names, and logs the worker as gunicorn does (sync with --threads > 1 is gthread); another
// class stops gonicorn with one line saying to use --threads.
func TestWorkerClassGunicornNames(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-k", "gthread"}, "Using worker: gthread"},
		{[]string{"--worker-class", "gunicorn.workers.gthread.ThreadWorker", "--threads", "2"}, "Using worker: gthread"},
		{[]string{"-k", "SYNC"}, "Using worker: sync"},
		{[]string{"-k", "gunicorn.workers.sync.SyncWorker", "--threads", "3"}, "Using worker: gthread"},
	} {
		s := start(t, append([]string{"--python", python(t), "--chdir", appsDir(t)}, append(tc.args, "basic")...)...)
		if r := s.get("/"); r.status != 200 {
			t.Errorf("%v: GET / = %d; want 200", tc.args, r.status)
		}
		if !strings.Contains(s.log.String(), tc.want) {
			t.Errorf("%v: log lacks %q", tc.args, tc.want)
		}
		s.stop()
	}
	_, stderr, code := runCLI(t, nil, "-k", "gevent", "app")
	want := "gonicorn: error: --worker-class gevent: gonicorn's workers are not async; every connection is already a goroutine in the master, so use --threads N"
	if code != 1 || !strings.HasPrefix(stderr, want) {
		t.Errorf("-k gevent: exit %d, stderr %q; want 1 and %q", code, stderr, want)
	}
}

// --log-file is gunicorn's other name for --error-logfile (Heroku's Procfile: --log-file -).
func TestLogFileAlias(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "error.log")
	s := startNoWait(t, "--python", python(t), "--chdir", appsDir(t), "--log-file", logPath, "basic")
	deadline := time.Now().Add(30 * time.Second)
	for b, _ := os.ReadFile(logPath); !strings.Contains(string(b), "Booting worker with pid"); b, _ = os.ReadFile(logPath) {
		if time.Now().After(deadline) {
			t.Fatalf("--log-file %s holds %q after 30 s; want the error log with the worker booting", logPath, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r := s.get("/"); r.status != 200 {
		t.Fatalf("GET / = %d; want 200", r.status)
	}
	if b, err := os.ReadFile(logPath); err != nil || !strings.Contains(string(b), "Listening at: ") || strings.Contains(s.log.String(), "Listening at: ") {
		t.Errorf("--log-file %s holds %q, %v; stderr %q; want the error log in the file alone", logPath, b, err, s.log)
	}
	s2 := start(t, "--python", python(t), "--chdir", appsDir(t), "--log-file", "-", "basic")
	if !strings.Contains(s2.log.String(), "Listening at: ") {
		t.Errorf("--log-file -: stderr lacks the error log:\n%s", s2.log)
	}
}

// -v is --version, as in gunicorn.
func TestShortVersion(t *testing.T) {
	out, errOut, code := runCLI(t, nil, "-v")
	if code != 0 || !strings.HasPrefix(out, "gonicorn (version ") {
		t.Errorf("gonicorn -v = %d %q %q; want 0 and the version", code, out, errOut)
	}
}

// GUNICORN_CMD_ARGS is read like GONICORN_CMD_ARGS; when both are set GONICORN_CMD_ARGS wins,
// with a warning.
func TestGunicornCmdArgsRead(t *testing.T) {
	s := startIn(t, t.TempDir(), []string{"GUNICORN_CMD_ARGS=--workers 2 --root-path /gun"}, "--python", python(t), "--chdir", appsDir(t), "basic")
	s.waitWorkers(2)
	if r := s.get("/gun/environ"); r.status != 200 || !strings.Contains(string(r.body), `"SCRIPT_NAME": "/gun"`) {
		t.Errorf("GET /gun/environ = %d %s; want SCRIPT_NAME /gun from GUNICORN_CMD_ARGS", r.status, r.body)
	}
	s.stop()

	both := []string{"GUNICORN_CMD_ARGS=--root-path /gun", "GONICORN_CMD_ARGS=--root-path /gon"}
	s = startIn(t, t.TempDir(), both, "--python", python(t), "--chdir", appsDir(t), "basic")
	if r := s.get("/gon/environ"); r.status != 200 || !strings.Contains(string(r.body), `"SCRIPT_NAME": "/gon"`) {
		t.Errorf("both set: GET /gon/environ = %d %s; want SCRIPT_NAME /gon from GONICORN_CMD_ARGS", r.status, r.body)
	}
	if !strings.Contains(s.log.String(), "[WARNING] GUNICORN_CMD_ARGS is not read: GONICORN_CMD_ARGS is set") {
		t.Error("both set: no warning that GUNICORN_CMD_ARGS is not read")
	}
}

// ./gunicorn.conf.py is read when no -c is given, as gunicorn does, and the log says so at
// INFO; -c names another file instead.
func TestDefaultConfigFileReadFromWorkingDir(t *testing.T) {
	dir := t.TempDir()
	writeConfig(t, filepath.Join(dir, "gunicorn.conf.py"), configHead(t)+"workers = 2\n")
	s := startIn(t, dir, nil, "--python", python(t))
	s.waitWorkers(2)
	if r := s.get("/pid"); r.status != 200 {
		t.Errorf("GET /pid = %d; want 200 from wsgi_app of ./gunicorn.conf.py", r.status)
	}
	if !strings.Contains(s.log.String(), "[INFO] reading config file ./gunicorn.conf.py") {
		t.Errorf("log lacks the INFO line naming ./gunicorn.conf.py")
	}
	s.stop()

	other := filepath.Join(t.TempDir(), "other.conf.py")
	writeConfig(t, other, configHead(t)+"workers = 1\n")
	s = startIn(t, dir, nil, "--python", python(t), "-c", other)
	if r := s.get("/pid"); r.status != 200 || strings.Contains(s.log.String(), "reading config file ./gunicorn.conf.py") || len(s.workerPIDs()) != 1 {
		t.Errorf("-c other: GET /pid = %d, %d workers; want 200 from other.conf.py alone", r.status, len(s.workerPIDs()))
	}
}

// --backlog sets the listen(2) backlog of a bound socket, as ss reports it (Send-Q of a
// listening socket is its backlog).
func TestBacklog(t *testing.T) {
	addr := freePort(t)
	s := start(t, "--python", python(t), "--chdir", appsDir(t), "-b", addr, "--backlog", "37", "basic")
	_, port, _ := net.SplitHostPort(addr)
	out, err := exec.Command("ss", "-ltnH", "sport = :"+port).CombinedOutput()
	if err != nil {
		t.Fatalf("ss: %v: %s", err, out)
	}
	fields := strings.Fields(string(out))
	if len(fields) < 3 || fields[2] != "37" {
		t.Errorf("ss -ltn for %s: %q; want Send-Q (the backlog) 37", addr, out)
	}
	if r := s.get("/"); r.status != 200 {
		t.Errorf("GET / = %d; want 200", r.status)
	}
}

// --reuse-port sets SO_REUSEPORT, so another socket that sets it may bind the same address;
// without it that bind fails.
func TestReusePort(t *testing.T) {
	reuse := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1) })
		return serr
	}}
	for _, tc := range []struct {
		flags   []string
		canBind bool
	}{{[]string{"--reuse-port"}, true}, {nil, false}} {
		addr := freePort(t)
		s := start(t, append([]string{"--python", python(t), "--chdir", appsDir(t), "-b", addr}, append(tc.flags, "basic")...)...)
		ln, err := reuse.Listen(context.Background(), "tcp", addr)
		if ln != nil {
			ln.Close()
		}
		if (err == nil) != tc.canBind {
			t.Errorf("%v: a second SO_REUSEPORT bind of %s: %v; want it to succeed: %v", tc.flags, addr, err, tc.canBind)
		}
		s.stop()
	}
}

// --check-config reads the configuration and imports the app in one worker, binds nothing,
// and exits 0; an app that fails to import, or a bad setting, exits 1 with the reason.
func TestCheckConfig(t *testing.T) {
	addr := freePort(t)
	stdout, stderr, code := runCLI(t, nil, "--python", python(t), "--chdir", appsDir(t), "-b", addr, "--check-config", "basic")
	if code != 0 || stdout != "" || stderr != "" {
		t.Errorf("--check-config basic: exit %d, stdout %q, stderr %q; want 0 and silence, as gunicorn", code, stdout, stderr)
	}
	_, stderr, code = runCLI(t, nil, "--python", python(t), "--chdir", appsDir(t), "--check-config", "badimport")
	if code != 1 || !strings.Contains(stderr, `failed to load application "badimport"`) || !strings.Contains(stderr, "Traceback") {
		t.Errorf("--check-config badimport: exit %d, stderr %q; want 1 with the traceback", code, stderr)
	}
	_, stderr, code = runCLI(t, nil, "--python", python(t), "--check-config", "-w", "0", "basic")
	if code != 1 || !strings.Contains(stderr, "--workers") {
		t.Errorf("--check-config -w 0: exit %d, stderr %q; want 1 naming --workers", code, stderr)
	}
	// Nothing was bound: the address is still free.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Errorf("after --check-config -b %s the address is taken: %v", addr, err)
	} else {
		ln.Close()
	}
}

// --print-config prints every effective setting with its source, then checks as
// --check-config does.
func TestPrintConfig(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "g.conf.py")
	writeConfig(t, conf, configHead(t)+"workers = 3\nkeepalive = 9\n")
	stdout, stderr, code := runCLI(t, []string{"GUNICORN_CMD_ARGS=--threads 2"}, "--python", python(t), "-c", conf, "-t", "5", "--print-config")
	if code != 0 {
		t.Fatalf("--print-config: exit %d, stderr %q", code, stderr)
	}
	for _, re := range []string{
		`(?m)^wsgi_app +=  configapp +\[file ` + regexp.QuoteMeta(conf) + `\]$`,
		`(?m)^workers +=  3 +\[file `, `(?m)^keepalive +=  9 +\[file `,
		`(?m)^threads +=  2 +\[GUNICORN_CMD_ARGS\]$`, `(?m)^timeout +=  5 +\[command line\]$`,
		`(?m)^graceful_timeout +=  30 +\[default\]$`,
	} {
		if !regexp.MustCompile(strings.ReplaceAll(re, "=  ", "= ")).MatchString(stdout) {
			t.Errorf("--print-config output lacks %s:\n%s", re, stdout)
		}
	}
}
