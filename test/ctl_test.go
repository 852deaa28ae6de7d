package e2e

// End-to-end tests of the control socket and `gonicorn ctl` (cmd/gonicorn/ctl.go, package
// control; docs/operations.md, "Control socket"), driven while a request hangs in the app
// (test/apps/supervise.py's /hang blocks in hang_forever_here).

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ctl runs `gonicorn ctl --socket sock args...` and returns its standard output and error
// and its exit status.
func ctl(t *testing.T, sock string, args ...string) (string, string, int) {
	t.Helper()
	return ctlIn(t, "", append([]string{"--socket", sock}, args...)...)
}

// ctlIn runs `gonicorn ctl args...` in dir ("" = the test's).
func ctlIn(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	return runIn(t, dir, append([]string{"ctl"}, args...)...)
}

// runIn runs `gonicorn args...` in dir ("" = the test's) to its end, and returns its output,
// error output and exit status.
func runIn(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("gonicorn %v: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

// ctlWorkerPIDs returns the worker pids `gonicorn ctl --json workers` lists.
func ctlWorkerPIDs(t *testing.T, sock string) []int {
	t.Helper()
	out, errOut, code := ctl(t, sock, "--json", "workers")
	if code != 0 {
		t.Fatalf("gonicorn ctl workers: exit %d: %s", code, errOut)
	}
	var reply struct {
		Workers []struct {
			PID   int    `json:"pid"`
			State string `json:"state"`
		} `json:"workers"`
	}
	if err := json.Unmarshal([]byte(out), &reply); err != nil {
		t.Fatalf("gonicorn ctl --json workers = %q: %v", out, err)
	}
	var pids []int
	for _, w := range reply.Workers {
		if w.State == "serving" {
			pids = append(pids, w.PID)
		}
	}
	slices.Sort(pids)
	return pids
}

// waitCtlWorkers polls `gonicorn ctl workers` until ok accepts the serving workers' pids
// (a worker booting takes its time; there is no event to wait on from outside).
func waitCtlWorkers(t *testing.T, sock, what string, ok func([]int) bool) []int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		pids := ctlWorkerPIDs(t, sock)
		if ok(pids) {
			return pids
		}
		if time.Now().After(deadline) {
			t.Fatalf("gonicorn ctl workers: %s not seen after 30 s; last: %v", what, pids)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var runningFor = regexp.MustCompile(`slot \d+: GET /hang\?n=1 from 127\.0\.0\.1:\d+, running for (\d+) ms`)

func TestCtlWhileARequestHangs(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "c.ctl")
	s := pepStart(t, "supervise", "-w", "1", "--threads", "2", "--graceful-timeout", "1", "--control-socket", sock)
	go s.fetch("/hang?n=1") // fails when the server stops; nothing waits for it
	if !s.log.waitFor("supervise: hanging", 10*time.Second) {
		t.Fatal("the app never reached hang_forever_here")
	}
	pid := s.workerPIDs()[0]

	out, errOut, code := ctl(t, sock, "status")
	if code != 0 {
		t.Fatalf("gonicorn ctl status: exit %d: %s", code, errOut)
	}
	for _, want := range []string{"pid:      " + strconv.Itoa(s.cmd.Process.Pid), "app:      supervise",
		"workers:  1", "slots:    1 busy of 2", "queued:   0", "version:  "} {
		if !strings.Contains(out, want) {
			t.Errorf("gonicorn ctl status lacks %q:\n%s", want, out)
		}
	}

	out, errOut, code = ctl(t, sock, "workers")
	if code != 0 {
		t.Fatalf("gonicorn ctl workers: exit %d: %s", code, errOut)
	}
	m := runningFor.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("gonicorn ctl workers does not show the hanging request:\n%s", out)
	}
	if !strings.Contains(out, "slot 1: idle") && !strings.Contains(out, "slot 0: idle") {
		t.Errorf("gonicorn ctl workers does not show the idle slot:\n%s", out)
	}
	if !regexp.MustCompile(`(?m)^` + strconv.Itoa(pid) + ` +\S+ +1 +[0-9.]+MiB +serving$`).MatchString(out) {
		t.Errorf("gonicorn ctl workers lacks worker %d's line (age, 1 request, RSS, serving):\n%s", pid, out)
	}
	// The running time grows: the request is still running.
	first, _ := strconv.Atoi(m[1])
	time.Sleep(20 * time.Millisecond)
	out, _, _ = ctl(t, sock, "workers")
	if m := runningFor.FindStringSubmatch(out); m == nil {
		t.Errorf("second gonicorn ctl workers lost the hanging request:\n%s", out)
	} else if later, _ := strconv.Atoi(m[1]); later <= first {
		t.Errorf("running for %d ms, then %d ms; want it growing", first, later)
	}

	// dump: the stacks come back to the caller, naming where the app hangs.
	for _, args := range [][]string{{"dump"}, {"dump", strconv.Itoa(pid)}} {
		out, errOut, code = ctl(t, sock, args...)
		if code != 0 {
			t.Fatalf("gonicorn ctl %v: exit %d: %s", args, code, errOut)
		}
		for _, want := range []string{"==> worker " + strconv.Itoa(pid) + " <==", "in hang_forever_here", "supervise.py"} {
			if !strings.Contains(out, want) {
				t.Errorf("gonicorn ctl %v lacks %q:\n%s", args, want, out)
			}
		}
	}
	if !s.log.waitFor("Dumping the stacks of worker (pid:"+strconv.Itoa(pid)+") for the control socket", time.Second) {
		t.Error("the error log does not say the stacks were dumped")
	}

	// Bad commands: a clear message and exit status 1 (2 for bad usage).
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"dump", "1"}, 1, "dumping the stacks of pid 1: no such worker"},
		{[]string{"dump", "x"}, 1, `dump: "x" is not a worker pid`},
		{[]string{"frobnicate"}, 1, `unknown command "frobnicate"`},
		{[]string{}, 2, "usage: gonicorn ctl"},
	} {
		_, errOut, code := ctl(t, sock, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.msg) {
			t.Errorf("gonicorn ctl %v = exit %d, %q; want exit %d with %q", tc.args, code, errOut, tc.code, tc.msg)
		}
	}
}

func TestCtlTTINTTOUReload(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "c.ctl")
	s := pepStart(t, "supervise", "-w", "1", "--control-socket", sock)
	waitCtlWorkers(t, sock, "1 worker", func(p []int) bool { return len(p) == 1 })

	if out, errOut, code := ctl(t, sock, "ttin"); code != 0 || out != "ttin: sent\n" {
		t.Fatalf("gonicorn ctl ttin = exit %d, %q, %q", code, out, errOut)
	}
	two := waitCtlWorkers(t, sock, "2 workers after ttin", func(p []int) bool { return len(p) == 2 })
	if !s.log.waitFor("Handling signal: ttin", time.Second) {
		t.Error("ttin was not handled as the TTIN signal")
	}

	if _, errOut, code := ctl(t, sock, "ttou"); code != 0 {
		t.Fatalf("gonicorn ctl ttou: exit %d: %s", code, errOut)
	}
	one := waitCtlWorkers(t, sock, "1 worker after ttou", func(p []int) bool { return len(p) == 1 })
	if !slices.Contains(two, one[0]) {
		t.Errorf("after ttou the worker is %v; want one of %v", one, two)
	}

	if _, errOut, code := ctl(t, sock, "reload"); code != 0 {
		t.Fatalf("gonicorn ctl reload: exit %d: %s", code, errOut)
	}
	after := waitCtlWorkers(t, sock, "a new generation after reload", func(p []int) bool {
		return len(p) == 1 && p[0] != one[0]
	})
	if !s.log.waitFor("Handling signal: hup", time.Second) {
		t.Error("reload was not handled as the HUP signal")
	}
	if r := s.get("/pid"); r.status != 200 || string(r.body) != strconv.Itoa(after[0]) {
		t.Errorf("GET /pid after reload = %d %q; want 200 from the new worker %d", r.status, r.body, after[0])
	}
}

func TestControlSocketFile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		flags []string
		mode  os.FileMode
	}{
		{nil, 0o600},
		{[]string{"--control-socket-mode", "0660"}, 0o660},
	} {
		sock := filepath.Join(dir, "c.ctl")
		s := pepStart(t, "supervise", append([]string{"-w", "1", "--control-socket", sock}, tc.flags...)...)
		st, err := os.Lstat(sock)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode()&os.ModeSocket == 0 || st.Mode().Perm() != tc.mode {
			t.Errorf("%v: control socket mode = %v; want a socket with %v", tc.flags, st.Mode(), tc.mode)
		}
		if uid := st.Sys().(*syscall.Stat_t).Uid; int(uid) != os.Getuid() {
			t.Errorf("control socket owner = %d; want %d", uid, os.Getuid())
		}
		s.stop()
		if _, err := os.Lstat(sock); !os.IsNotExist(err) {
			t.Errorf("%v: control socket left after the master stopped: %v", tc.flags, err)
		}
	}

	// A bad mode fails the start, naming the flag.
	out, err := exec.Command(binary, "--bind", "127.0.0.1:0", "--python", python(t), "--chdir", appsDir(t),
		"--control-socket", filepath.Join(dir, "bad.ctl"), "--control-socket-mode", "0800", "supervise").CombinedOutput()
	if err == nil || !strings.Contains(string(out), `--control-socket-mode: "0800" is not a permission mode`) {
		t.Errorf("--control-socket-mode 0800: %v, output:\n%s\nwant an error naming the flag", err, out)
	}
	// So does a path that cannot be created, when it was asked for.
	out, err = exec.Command(binary, "--bind", "127.0.0.1:0", "--python", python(t), "--chdir", appsDir(t),
		"--control-socket", filepath.Join(dir, "missing", "c.ctl"), "supervise").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--control-socket "+filepath.Join(dir, "missing", "c.ctl")) {
		t.Errorf("--control-socket in a missing directory: %v, output:\n%s\nwant an error naming the flag", err, out)
	}
}

func TestControlSocketDefaultAndDisabled(t *testing.T) {
	// By default the socket is gonicorn.ctl in the working directory, where ctl looks too.
	dir := t.TempDir()
	s := startIn(t, dir, nil, "--python", python(t), "--chdir", appsDir(t), "-w", "1", "supervise")
	out, errOut, code := ctlIn(t, dir, "status")
	if code != 0 || !strings.Contains(out, "pid:      "+strconv.Itoa(s.cmd.Process.Pid)) {
		t.Fatalf("gonicorn ctl status in the working directory = exit %d, %q, %q", code, out, errOut)
	}
	s.stop()

	dir = t.TempDir()
	startIn(t, dir, nil, "--python", python(t), "--chdir", appsDir(t), "-w", "1", "--no-control-socket", "supervise")
	if _, err := os.Lstat(filepath.Join(dir, "gonicorn.ctl")); !os.IsNotExist(err) {
		t.Errorf("--no-control-socket: %s exists (%v)", filepath.Join(dir, "gonicorn.ctl"), err)
	}
	if _, errOut, code := ctlIn(t, dir, "status"); code != 1 || !strings.Contains(errOut, "connecting to the control socket") {
		t.Errorf("gonicorn ctl status without a socket = exit %d, %q; want 1 and the reason", code, errOut)
	}

	// A working directory where the default socket cannot be created (a directory holds the
	// name): a warning, and the server serves on.
	dir = t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "gonicorn.ctl"), 0o755); err != nil {
		t.Fatal(err)
	}
	s = startIn(t, dir, nil, "--python", python(t), "--chdir", appsDir(t), "-w", "1", "supervise")
	if r := s.get("/pid"); r.status != 200 {
		t.Errorf("GET /pid without a control socket = %d", r.status)
	}
	if !strings.Contains(s.log.String(), "[WARNING] Control socket not created (--no-control-socket silences this): gonicorn.ctl exists and is not a socket") {
		t.Errorf("no warning about the control socket:\n%s", s.log)
	}
}

// In a binary upgrade the new master's socket is PATH.2 while the old master runs (as its
// pid file); once the old master exited, the new one takes PATH. A rollback (TERM to the
// new master) leaves the old master's PATH alone.
func TestControlSocketUSR2(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "c.ctl")
	u := startUpgrade(t, "--control-socket", sock)
	m1 := u.cmd.Process.Pid
	statusPID := func(path string) string {
		t.Helper()
		out, errOut, code := ctl(t, path, "status")
		if code != 0 {
			return "error: " + errOut
		}
		pid, _, _ := strings.Cut(strings.TrimPrefix(out, "pid:"), "\n")
		return strings.TrimSpace(pid)
	}

	// Rollback: the new master goes, the old master's socket stays.
	m2 := u.usr2(t, 1)
	if got := statusPID(sock); got != strconv.Itoa(m1) {
		t.Errorf("with both masters, %s answers for %s; want the old master %d", sock, got, m1)
	}
	if got := statusPID(sock + ".2"); got != strconv.Itoa(m2) {
		t.Errorf("with both masters, %s.2 answers for %s; want the new master %d", sock, got, m2)
	}
	syscall.Kill(m2, syscall.SIGTERM)
	if _, gone := reap(m2, 20*time.Second); !gone {
		t.Fatalf("new master %d still runs 20 s after TERM", m2)
	}
	if _, err := os.Lstat(sock + ".2"); !os.IsNotExist(err) {
		t.Errorf("%s.2 left after the new master stopped: %v", sock, err)
	}
	if got := statusPID(sock); got != strconv.Itoa(m1) {
		t.Errorf("after the rollback, %s answers for %s; want the old master %d", sock, got, m1)
	}

	// Upgrade: the old master goes, the new one takes the path.
	m3 := u.usr2(t, 2)
	syscall.Kill(m1, syscall.SIGTERM)
	if exited, err := u.waitExit(20 * time.Second); !exited || err != nil {
		t.Fatalf("old master after TERM: exited %v, %v", exited, err)
	}
	if !u.log.waitFor("Master has been promoted.", 10*time.Second) {
		t.Fatalf("the new master was not promoted; log:\n%s", u.log)
	}
	if got := statusPID(sock); got != strconv.Itoa(m3) {
		t.Errorf("after the upgrade, %s answers for %s; want the new master %d", sock, got, m3)
	}
	if _, err := os.Lstat(sock + ".2"); !os.IsNotExist(err) {
		t.Errorf("%s.2 still there after the promotion: %v", sock, err)
	}
}
