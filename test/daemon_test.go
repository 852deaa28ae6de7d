package e2e

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// runDaemon runs gonicorn -D with args (and extra as fds 3...) and returns, once the
// starting process exited (at most 30 s), its stderr and exit status.
func runDaemon(t *testing.T, extra []*os.File, args ...string) (stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"-D"}, args...)...)
	cmd.ExtraFiles = extra
	var errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &errOut, &errOut
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("gonicorn -D %v: %v", args, err)
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("gonicorn -D %v: the starting process still runs after 30 s; stderr:\n%s", args, errOut.String())
	}
	return errOut.String(), cmd.ProcessState.ExitCode()
}

// gone reports whether process pid has exited (a zombie counts: the detached master's
// parent is init, which reaps it in its own time).
func gone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	_, after, _ := strings.Cut(string(b), ") ")
	return strings.HasPrefix(after, "Z") || strings.HasPrefix(after, "X")
}

// waitGone waits up to 30 s for process pid to exit.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !gone(pid); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("pid %d still runs after 30 s", pid)
		}
	}
}

// -D: the starting process exits 0 once the workers are ready; the pid file names the
// detached master, which leads a session of its own, is not the starting process's child,
// has /dev/null on stdin, stdout and stderr, and serves; TERM stops it and removes the pid
// file, and the error log (a file) has its lines.
func TestDaemon(t *testing.T) {
	dir := t.TempDir()
	pidFile, logFile := filepath.Join(dir, "app.pid"), filepath.Join(dir, "error.log")
	f, addr := listenerFile(t)
	stderr, code := runDaemon(t, []*os.File{f}, "--bind", "fd://3", "--pid", pidFile, "--error-logfile", logFile,
		"--python", python(t), "--chdir", appsDir(t), "basic")
	f.Close()
	if code != 0 {
		t.Fatalf("gonicorn -D: exit %d; want 0; stderr:\n%s", code, stderr)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || gone(pid) {
		t.Fatalf("pid file holds %q: not a running process (%v)", b, err)
	}
	t.Cleanup(func() {
		if !gone(pid) {
			syscall.Kill(pid, syscall.SIGKILL) // its workers die with it (PDEATHSIG)
		}
	})
	if sid, err := unix.Getsid(pid); err != nil || sid != pid {
		t.Errorf("detached master %d is in session %d (%v); want its own", pid, sid, err)
	}
	for fd := 0; fd <= 2; fd++ {
		if dst, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/fd/" + strconv.Itoa(fd)); err != nil || dst != os.DevNull {
			t.Errorf("detached master's fd %d is %q (%v); want %s", fd, dst, err, os.DevNull)
		}
	}
	s := &server{t: t, addr: addr}
	if r := s.get("/"); r.status != 200 {
		t.Fatalf("GET / = %d; want 200", r.status)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pid)
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Errorf("pid file after TERM: %v; want it removed", err)
	}
	log, _ := os.ReadFile(logFile)
	for _, want := range []string{"Listening at: http://" + addr, "Booting worker with pid", "Shutting down: Master"} {
		if !strings.Contains(string(log), want) {
			t.Errorf("error log lacks %q:\n%s", want, log)
		}
	}
}

// -D with a start that fails: the starting process prints the detached master's error and
// exits with its status: 1 for an address in use, 3 for an app that does not load.
func TestDaemonStartFails(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--bind", busy.Addr().String(), "basic"}, 1, "gonicorn: error: --bind " + busy.Addr().String() + ": "},
		{[]string{"--bind", "127.0.0.1:0", "badimport"}, 3, "gonicorn: Worker failed to boot: could not load application \"badimport\""},
	} {
		pidFile := filepath.Join(dir, "app.pid")
		args := append([]string{"--pid", pidFile, "--error-logfile", filepath.Join(dir, "error.log"), "--python", python(t), "--chdir", appsDir(t)}, tc.args...)
		stderr, code := runDaemon(t, nil, args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("gonicorn -D %v: exit %d, stderr %q; want %d and %q", tc.args, code, stderr, tc.code, tc.want)
		}
		if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
			t.Errorf("gonicorn -D %v: pid file left behind (%v)", tc.args, err)
		}
	}
}
