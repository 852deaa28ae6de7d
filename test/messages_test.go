package e2e

// End-to-end tests of the messages a user sees (issue 9, items 13-15): start-up errors that
// say what is wrong, worker output at the level of what it is, each traceback once, and a
// fast stop that logs what it does plainly.

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// exitCode waits for the server to exit by itself and returns its exit status.
func (s *server) exitCode(timeout time.Duration) int {
	s.t.Helper()
	exited, err := s.waitExit(timeout)
	if !exited {
		s.t.Fatalf("gonicorn still running after %v; log:\n%s", timeout, s.log)
	}
	var ee *exec.ExitError
	if err == nil {
		return 0
	}
	if !errors.As(err, &ee) {
		s.t.Fatalf("gonicorn: %v", err)
	}
	return ee.ExitCode()
}

// TestChdirMissing checks that a --chdir that does not exist stops gonicorn at start with
// exit status 1 and a message naming the flag and the directory, instead of fork/exec's
// "no such file or directory" about the interpreter.
func TestChdirMissing(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-dir")
	s := startNoWait(t, "--python", python(t), "--chdir", missing, "messages")
	if code := s.exitCode(30 * time.Second); code != 1 {
		t.Errorf("exit status %d; want 1", code)
	}
	log := s.log.String()
	if !strings.Contains(log, "--chdir") || !strings.Contains(log, missing) || !strings.Contains(log, "no such directory") {
		t.Errorf("output does not say that --chdir %s is missing:\n%s", missing, log)
	}
	if strings.Contains(log, "fork/exec") || strings.Contains(log, "Booting worker") {
		t.Errorf("output blames fork/exec or boots a worker:\n%s", log)
	}
}

// TestImportErrorMissingPackage checks an app that fails to import because the interpreter
// lacks a package: with -w 4 the traceback is printed once, the message names the
// interpreter used and suggests --python or a virtualenv, and the exit status is 3.
func TestImportErrorMissingPackage(t *testing.T) {
	py := python(t)
	s := startNoWait(t, "-w", "4", "--python", py, "--chdir", appsDir(t), "needsmissing")
	if code := s.exitCode(60 * time.Second); code != 3 {
		t.Errorf("exit status %d; want 3", code)
	}
	log := s.log.String()
	if n := strings.Count(log, "Traceback (most recent call last)"); n != 1 {
		t.Errorf("the traceback appears %d times; want once:\n%s", n, log)
	}
	if n := strings.Count(log, "No module named 'gonicorn_test_missing_package'"); n != 1 {
		t.Errorf("the import error appears %d times; want once:\n%s", n, log)
	}
	for _, want := range []string{py, "--python", "virtualenv", `"gonicorn_test_missing_package" is not installed`} {
		if !strings.Contains(log, want) {
			t.Errorf("output lacks %q:\n%s", want, log)
		}
	}
}

// logLines returns the error-log lines whose level is level and that contain sub.
func logLines(log, level, sub string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "] ["+level+"] ") && strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return out
}

// TestWorkerOutputLevels checks the levels of what workers print: the app's chatter is
// INFO, a traceback it prints itself is ERROR (every line of it), an exception the app
// raises is logged once (by the master, at ERROR, with the request), and --log-level error
// keeps the tracebacks while it hides the INFO lines. The level's case does not matter.
func TestWorkerOutputLevels(t *testing.T) {
	// No "Booting worker" line at this level to wait for: the first request waits in the
	// queue until the worker is ready.
	s := startNoWait(t, "--python", python(t), "--chdir", appsDir(t), "--log-level", "ERROR", "messages")
	for _, path := range []string{"/print", "/printtb", "/pid"} {
		if r := s.get(path); r.status != 200 {
			t.Fatalf("GET %s = %d", path, r.status)
		}
	}
	if r := s.get("/raise"); r.status != 500 {
		t.Fatalf("GET /raise = %d; want 500", r.status)
	}
	if !s.log.waitFor("ValueError: messages-raise-marker", 5*time.Second) {
		t.Fatalf("the raised exception is not in the error log:\n%s", s.log)
	}
	if !s.log.waitFor("KeyError: 'messages-printed-marker'", 5*time.Second) {
		t.Fatalf("the printed traceback is not in the error log:\n%s", s.log)
	}
	log := s.log.String()
	if n := strings.Count(log, "ValueError: messages-raise-marker"); n != 1 {
		t.Errorf("the raised exception appears %d times; want once:\n%s", n, log)
	}
	if len(logLines(log, "ERROR", "Error handling request /raise")) != 1 {
		t.Errorf("no ERROR line for the request that raised:\n%s", log)
	}
	for _, want := range []string{"Traceback (most recent call last):", `in application`, "KeyError: 'messages-printed-marker'"} {
		if len(logLines(log, "ERROR", want)) == 0 {
			t.Errorf("the printed traceback's line %q is not at ERROR:\n%s", want, log)
		}
	}
	for _, hidden := range []string{"[INFO]", "messages: chatter", "Booting worker"} {
		if strings.Contains(log, hidden) {
			t.Errorf("--log-level ERROR shows %q:\n%s", hidden, log)
		}
	}
}

// TestWorkerOutputInfo checks that at the default level the app's own output is there, at
// INFO, tagged with the worker's pid.
func TestWorkerOutputInfo(t *testing.T) {
	s := pepStart(t, "messages")
	pid := string(s.get("/pid").body)
	s.get("/print")
	if !s.log.waitFor("messages: chatter", 5*time.Second) {
		t.Fatalf("the app's output is not in the error log:\n%s", s.log)
	}
	if len(logLines(s.log.String(), "INFO", "messages: chatter")) != 1 || !strings.Contains(s.log.String(), "["+pid+"] [INFO] messages: chatter") {
		t.Errorf("the app's output is not one INFO line tagged with pid %s:\n%s", pid, s.log)
	}
}

// TestTimeoutStackDumpCritical checks that the stack dump of a worker killed by --timeout
// is logged at CRITICAL, after WORKER TIMEOUT, and shown at --log-level error.
func TestTimeoutStackDumpCritical(t *testing.T) {
	s := startNoWait(t, "--python", python(t), "--chdir", appsDir(t), "--timeout", "1", "--log-level", "error", "messages")
	if r := s.get("/pid"); r.status != 200 {
		t.Fatalf("GET /pid = %d", r.status)
	}
	if r := s.get("/hang"); r.status != 504 {
		t.Fatalf("GET /hang = %d; want 504", r.status)
	}
	if !s.log.waitFor("in hang_here", 5*time.Second) {
		t.Fatalf("no stack dump naming hang_here:\n%s", s.log)
	}
	log := s.log.String()
	for _, want := range []string{"WORKER TIMEOUT", "(most recent call first):", "in hang_here"} {
		if len(logLines(log, "CRITICAL", want)) == 0 {
			t.Errorf("%q is not logged at CRITICAL:\n%s", want, log)
		}
	}
	if strings.Contains(log, "messages: hanging") {
		t.Errorf("--log-level error shows the app's INFO output:\n%s", log)
	}
}

// TestFastStopMessages checks what a fast stop (INT) with a request in flight logs: that
// the request was cut because the master stopped, at INFO, and no warning or error about a
// worker that broke its protocol or a closed network connection.
func TestFastStopMessages(t *testing.T) {
	s := pepStart(t, "messages")
	g := newAppGate(t)
	c := pepDial(t, s)
	io.WriteString(c, "GET /slow?"+g.query()+" HTTP/1.1\r\nHost: t\r\n\r\n")
	g.arrived()
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGINT)
	if code := s.exitCode(15 * time.Second); code != 0 {
		t.Errorf("exit status %d after INT; want 0", code)
	}
	log := s.log.String()
	for _, bad := range []string{"broke the worker protocol", "use of closed network connection", "[WARNING]", "[ERROR]"} {
		if strings.Contains(log, bad) {
			t.Errorf("a fast stop logs %q:\n%s", bad, log)
		}
	}
	if !regexp.MustCompile(`\[INFO\] Request cut short: the master is stopping without waiting for it .*request="?/slow`).MatchString(log) {
		t.Errorf("the cut request is not logged at INFO:\n%s", log)
	}
}

// TestHUPBrokenCodeTracebackOnce checks that a reload whose new code fails to import logs
// the traceback once, not once per worker of the new generation. READY=1 after RELOADING=1
// (sd_notify) tells when every spawn of the reload has ended.
func TestHUPBrokenCodeTracebackOnce(t *testing.T) {
	dir := t.TempDir()
	app := filepath.Join(dir, "hupapp.py")
	if err := os.WriteFile(app, []byte("def application(environ, start_response):\n    start_response('200 OK', [])\n    return [b'good']\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(t.TempDir(), "notify")
	next := notifySocket(t, name)
	f, addr := listenerFile(t)
	defer f.Close()
	cmd := exec.Command(binary, "--bind", "fd://3", "--python", python(t), "--chdir", dir,
		"-e", "PYTHONDONTWRITEBYTECODE=1", "-w", "3", "hupapp")
	cmd.ExtraFiles = []*os.File{f}
	s := startCmd(t, cmd, addr, "NOTIFY_SOCKET="+name)
	if got := next(); got != "READY=1" {
		t.Fatalf("first sd_notify = %q; want READY=1", got)
	}
	if err := os.WriteFile(app, []byte("this is not python\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGHUP)
	if got := next(); !strings.HasPrefix(got, "RELOADING=1\n") {
		t.Fatalf("sd_notify on HUP = %q; want RELOADING=1", got)
	}
	if got := next(); got != "READY=1" {
		t.Fatalf("sd_notify after the failed reload = %q; want READY=1", got)
	}
	log := s.log.String()
	for _, once := range []string{"Reload failed", "NameError: name 'this' is not defined", "Traceback (most recent call last)"} {
		if n := strings.Count(log, once); n != 1 {
			t.Errorf("%q appears %d times; want once:\n%s", once, n, log)
		}
	}
	if r := s.get("/"); r.status != 200 || string(r.body) != "good" {
		t.Errorf("GET / after the failed reload = %d %q; want 200 good", r.status, r.body)
	}
}
