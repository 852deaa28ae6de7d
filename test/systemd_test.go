package e2e

// systemd integration (cmd/gonicorn/systemd.go, docs/systemd.md): socket activation with
// LISTEN_PID/LISTEN_FDS, and sd_notify states sent to NOTIFY_SOCKET.

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startCmd runs cmd (gonicorn, possibly behind /bin/sh) as a server on addr with extra
// environment variables, and waits until a worker booted.
func startCmd(t *testing.T, cmd *exec.Cmd, addr string, env ...string) *server {
	t.Helper()
	s := &server{t: t, cmd: cmd, addr: addr, log: newLogBuffer(), done: make(chan struct{})}
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = s.log, s.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.err = cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(s.stop)
	s.waitReady()
	return s
}

// Socket activation: the listener systemd passes as fd 3 (LISTEN_FDS=1, LISTEN_PID = the
// master's pid) is served, --bind is ignored (logged), and the workers see neither the
// LISTEN_* variables nor the fd.
func TestSystemdSocketActivation(t *testing.T) {
	f, addr := listenerFile(t)
	defer f.Close()
	ignored := filepath.Join(t.TempDir(), "ignored.sock")
	// LISTEN_PID must be the pid of the process that reads it: the shell execs gonicorn,
	// which keeps the shell's pid.
	cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"`,
		binary, "--bind", "unix:"+ignored, "--python", python(t), "--chdir", appsDir(t),
		"--threads", "2", "faults")
	cmd.ExtraFiles = []*os.File{f}
	s := startCmd(t, cmd, addr, "LISTEN_FDS=1", "LISTEN_FDNAMES=http")

	r, err := s.fetch("/pid")
	if err != nil || r.status != 200 {
		t.Fatalf("GET /pid on the systemd socket = %+v, %v", r, err)
	}
	if !strings.Contains(s.log.String(), "--bind is ignored") {
		t.Errorf("no log line saying that --bind is ignored")
	}
	if _, err := os.Lstat(ignored); err == nil {
		t.Errorf("--bind unix:%s was bound although systemd passed a socket", ignored)
	}
	for _, name := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		r, err := s.fetch("/env?name=" + name)
		if err != nil || r.status != 200 || len(r.body) != 0 {
			t.Errorf("worker sees %s = %q (%v); want it unset", name, r.body, err)
		}
	}
	r, err = s.fetch("/fds")
	if err != nil || r.status != 200 {
		t.Fatalf("GET /fds = %+v, %v", r, err)
	}
	for _, l := range strings.Split(string(r.body), "\n") {
		var fd int
		var target string
		fmt.Sscanf(l, "%d %s", &fd, &target)
		if fd > 2 && !strings.HasPrefix(target, "socket:") {
			t.Errorf("worker has fd %d open on %s", fd, target)
		}
	}
	if n := strings.Count(string(r.body), "socket:"); n != 2 {
		t.Errorf("worker holds %d sockets; want 2 (its own, one per thread; not systemd's):\n%s", n, r.body)
	}
}

// LISTEN_PID naming another process: the variables are not ours, --bind is used.
func TestSystemdListenPIDOfAnotherProcess(t *testing.T) {
	f, addr := listenerFile(t)
	defer f.Close()
	cmd := exec.Command(binary, "--bind", "fd://3", "--python", python(t), "--chdir", appsDir(t), "faults")
	cmd.ExtraFiles = []*os.File{f}
	s := startCmd(t, cmd, addr, "LISTEN_FDS=1", "LISTEN_PID=1")
	if r, err := s.fetch("/pid"); err != nil || r.status != 200 {
		t.Fatalf("GET /pid = %+v, %v", r, err)
	}
	if strings.Contains(s.log.String(), "systemd") {
		t.Errorf("LISTEN_PID of another process was honoured:\n%s", s.log)
	}
}

// notifySocket listens on a unixgram socket at name and returns a function that waits for
// the next datagram.
func notifySocket(t *testing.T, name string) func() string {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return func() string {
		t.Helper()
		buf := make([]byte, 4096)
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		n, _, err := c.ReadFromUnix(buf)
		if err != nil {
			t.Fatalf("no sd_notify datagram: %v", err)
		}
		return string(buf[:n])
	}
}

func testNotify(t *testing.T, name string) {
	next := notifySocket(t, name)
	f, addr := listenerFile(t)
	defer f.Close()
	cmd := exec.Command(binary, "--bind", "fd://3", "--python", python(t), "--chdir", appsDir(t), "faults")
	cmd.ExtraFiles = []*os.File{f}
	s := startCmd(t, cmd, addr, "NOTIFY_SOCKET="+name)

	if got := next(); got != "READY=1" {
		t.Fatalf("first sd_notify = %q; want READY=1", got)
	}
	if r, err := s.fetch("/env?name=NOTIFY_SOCKET"); err != nil || len(r.body) != 0 {
		t.Errorf("worker sees NOTIFY_SOCKET = %q (%v); want it unset", r.body, err)
	}
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGHUP)
	if got := next(); !strings.HasPrefix(got, "RELOADING=1\nMONOTONIC_USEC=") {
		t.Errorf("sd_notify on HUP = %q; want RELOADING=1 and MONOTONIC_USEC", got)
	}
	if got := next(); got != "READY=1" {
		t.Errorf("sd_notify after HUP = %q; want READY=1", got)
	}
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGTERM)
	if got := next(); got != "STOPPING=1" {
		t.Errorf("sd_notify on TERM = %q; want STOPPING=1", got)
	}
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		t.Fatal("server did not stop after TERM")
	}
	if s.err != nil {
		t.Errorf("exit after TERM: %v; want status 0", s.err)
	}
}

// NOTIFY_SOCKET, a path: READY=1 once the workers are booted, RELOADING=1 then READY=1 on
// HUP, STOPPING=1 on TERM; the workers do not see NOTIFY_SOCKET.
func TestNotifySocket(t *testing.T) {
	testNotify(t, filepath.Join(t.TempDir(), "notify"))
}

// NOTIFY_SOCKET in the abstract namespace ('@name').
func TestNotifySocketAbstract(t *testing.T) {
	testNotify(t, fmt.Sprintf("@gonicorn-test-notify-%d-%d", os.Getpid(), time.Now().UnixNano()))
}

// After HUP, READY=1 is sent only once the new generation is in the pool (issue: it used to
// follow RELOADING=1 at once, so "systemctl reload" returned before the new code answered).
// The app's import takes 1 s, so the two datagrams must be about that far apart, and a
// request made as soon as READY=1 arrives must be answered by a worker of the new
// generation: the old ones are out of the pool by then. The master's log must show the new
// workers booting before "Reload complete", which it logs just before READY=1.
func TestNotifyReadyAfterReload(t *testing.T) {
	const importSleep = time.Second
	name := filepath.Join(t.TempDir(), "notify")
	next := notifySocket(t, name)
	f, addr := listenerFile(t)
	defer f.Close()
	cmd := exec.Command(binary, "--bind", "fd://3", "--python", python(t), "--chdir", appsDir(t),
		"-w", "2", "-e", fmt.Sprintf("SUPERVISE_IMPORT_SLEEP=%g", importSleep.Seconds()), "supervise")
	cmd.ExtraFiles = []*os.File{f}
	s := startCmd(t, cmd, addr, "NOTIFY_SOCKET="+name)
	if got := next(); got != "READY=1" {
		t.Fatalf("first sd_notify = %q; want READY=1", got)
	}
	old := map[string]bool{}
	for _, pid := range s.waitWorkers(2) {
		old[fmt.Sprint(pid)] = true
	}

	syscall.Kill(s.cmd.Process.Pid, syscall.SIGHUP)
	if got := next(); !strings.HasPrefix(got, "RELOADING=1\n") {
		t.Fatalf("sd_notify on HUP = %q; want RELOADING=1 first", got)
	}
	reloading := time.Now()
	if got := next(); got != "READY=1" {
		t.Fatalf("sd_notify after HUP = %q; want READY=1", got)
	}
	ready := time.Now()
	// First the observations at READY=1, then the checks that may wait.
	var answered []string
	for i := 0; i < 4; i++ {
		r, err := s.fetch("/pid")
		if err != nil || r.status != 200 {
			t.Fatalf("GET /pid right after READY=1 = %+v, %v", r, err)
		}
		answered = append(answered, string(r.body))
	}
	if gap := ready.Sub(reloading); gap < importSleep*8/10 {
		t.Errorf("READY=1 came %v after RELOADING=1; want at least the app's import time (%v)", gap, importSleep)
	}
	for _, pid := range answered {
		if old[pid] {
			t.Errorf("GET /pid right after READY=1 was answered by old worker %s; want the new generation only", pid)
		}
	}
	if !s.log.waitFor("Reload complete", 5*time.Second) {
		t.Fatalf("log lacks %q:\n%s", "Reload complete", s.log)
	}
	log := s.log.String()
	done := strings.Index(log, "Reload complete")
	if n := strings.Count(log[:done], "Booting worker with pid"); n != 4 {
		t.Errorf("%d workers booted before %q; want 4 (2 + the new generation of 2):\n%s", n, "Reload complete", log)
	}
}
