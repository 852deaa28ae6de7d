package e2e

// End-to-end tests of the binary upgrade on USR2 (cmd/gonicorn/upgrade.go), as gunicorn's
// reexec: the old master starts a new master from the executable now at its path, passing
// its listening sockets; both serve until one of them gets TERM (test/apps/upgrade.py).
//
// The new master is a child of the old one, not of the test. So that the test can reap it
// (and see its exit status) once the old master is gone, the test process is made a child
// subreaper for the duration of each test: an orphaned new master is then given to the test
// instead of init (which, in some containers, never reaps zombies).

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// upgradeServer is a gonicorn run from its own copy of the binary, so that the test can
// replace that copy, with a --pid file and an app whose version is read at import.
type upgradeServer struct {
	*server
	exe     string // the path the old master was started from
	dir     string // the app's VERSION file is here
	pidFile string
}

var newMasterLine = regexp.MustCompile(`Upgrading: started a new master \(pid (\d+)\) from (\S+)`)

// startUpgrade copies the gonicorn binary into a temporary directory and runs it from there
// serving test/apps/upgrade.py (version "v1") with 2 workers on a loopback listener (fd://3)
// and extra flags, and waits until both workers booted.
func startUpgrade(t *testing.T, flags ...string) *upgradeServer {
	t.Helper()
	return startUpgradeEnv(t, nil, flags...)
}

// startUpgradeEnv is startUpgrade with extra KEY=VALUE entries in the master's environment.
func startUpgradeEnv(t *testing.T, env []string, flags ...string) *upgradeServer {
	t.Helper()
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Logf("PR_SET_CHILD_SUBREAPER: %v; new masters are reparented to init", err)
	} else {
		t.Cleanup(func() { unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0) })
	}
	dir := t.TempDir()
	u := &upgradeServer{exe: filepath.Join(dir, "gonicorn"), dir: dir, pidFile: filepath.Join(dir, "gonicorn.pid")}
	copyBinary(t, u.exe)
	u.setVersion(t, "v1")

	f, addr := listenerFile(t)
	defer f.Close()
	args := append([]string{"--bind", "fd://3", "--python", python(t), "--chdir", appsDir(t),
		"--pid", u.pidFile, "-w", "2", "-e", "UPGRADE_DIR=" + dir}, flags...)
	s := &server{t: t, addr: addr, log: newLogBuffer(), done: make(chan struct{})}
	s.cmd = exec.Command(u.exe, append(args, "upgrade")...)
	s.cmd.ExtraFiles = []*os.File{f}
	s.cmd.Env = append(os.Environ(), env...)
	// The output goes through a pipe the test owns rather than through exec's copying
	// goroutines: the new master inherits the old one's stdout and stderr, and exec's Wait
	// would wait for it to close them, that is, for the new master to exit too.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stdout, s.cmd.Stderr = pw, pw
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = s.cmd.Start()
	pw.Close()
	if err != nil {
		pr.Close()
		t.Fatal(err)
	}
	go func() {
		io.Copy(s.log, pr)
		pr.Close()
	}()
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	u.server = s
	t.Cleanup(s.stop)
	t.Cleanup(u.stopNewMasters) // runs before s.stop
	s.waitReady()
	s.waitWorkers(2)
	// A USR2 sent while the master still boots is ignored (docs/architecture.md); the master
	// answers only once its boot is over, so after an answer every USR2 is handled. Without
	// this, a USR2 sent right after the last "Booting worker" line could race the boot. Any
	// answer will do: on a TLS listener this plain request gets the master's own 400.
	if r, err := s.fetch("/"); err != nil || r.status == 0 {
		t.Fatalf("first request to the master = %+v, %v; want an answer", r, err)
	}
	return u
}

// copyBinary writes a copy of the gonicorn binary at path (a new file, by rename, if path
// exists: the running one's inode is left alone).
func copyBinary(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	tmp := path + ".new"
	if err := os.WriteFile(tmp, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func (u *upgradeServer) setVersion(t *testing.T, v string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(u.dir, "VERSION"), []byte(v+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// newMasters returns the pids of the new masters the log reports as started.
func (u *upgradeServer) newMasters() []int {
	var pids []int
	for _, m := range newMasterLine.FindAllStringSubmatch(u.log.String(), -1) {
		pid, _ := strconv.Atoi(m[1])
		pids = append(pids, pid)
	}
	return pids
}

// usr2 sends USR2 to the old master, waits until the n-th new master (counting from 1 in
// the test) is started and ready, and returns its pid.
func (u *upgradeServer) usr2(t *testing.T, n int) int {
	t.Helper()
	m1 := u.cmd.Process.Pid
	syscall.Kill(m1, syscall.SIGUSR2)
	if !u.waitForLogCount("Upgrading: started a new master (pid ", n, 10*time.Second) {
		t.Fatalf("no new master started after USR2 #%d; log:\n%s", n, u.log)
	}
	m := newMasterLine.FindAllStringSubmatch(u.log.String(), -1)[n-1]
	if m[2] != u.exe {
		t.Errorf("new master started from %s; want %s (the old master's path)", m[2], u.exe)
	}
	m2, _ := strconv.Atoi(m[1])
	ready := fmt.Sprintf("Upgrade: new master ready; the old master (pid %d) still serves until it gets TERM", m1)
	if !u.waitForLogCount(ready, n, 30*time.Second) {
		t.Fatalf("new master %d not ready after 30 s; log:\n%s", m2, u.log)
	}
	return m2
}

// stopNewMasters ends every new master still running at cleanup: TERM, then KILL (with its
// children) if it has not exited 10 s later.
func (u *upgradeServer) stopNewMasters() {
	for _, pid := range u.newMasters() {
		if processGone(pid) {
			reap(pid, 0)
			continue
		}
		syscall.Kill(pid, syscall.SIGTERM)
		if _, gone := reap(pid, 10*time.Second); gone {
			continue
		}
		u.t.Errorf("new master %d still runs 10 s after SIGTERM at cleanup", pid)
		kids := childrenOf(pid)
		syscall.Kill(pid, syscall.SIGKILL)
		for _, k := range kids {
			syscall.Kill(k, syscall.SIGKILL)
		}
		reap(pid, 5*time.Second)
	}
}

// reap waits up to timeout for pid to end. If pid is a child of the test (a new master whose
// old master is gone), it is reaped and its wait status returned; otherwise gone means it
// no longer exists or is a zombie of another parent.
func reap(pid int, timeout time.Duration) (status *syscall.WaitStatus, gone bool) {
	deadline := time.Now().Add(timeout)
	for {
		var ws syscall.WaitStatus
		wpid, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		switch {
		case wpid == pid:
			return &ws, true
		case errors.Is(err, syscall.ECHILD) && processGone(pid):
			return nil, true
		}
		if time.Now().After(deadline) {
			return nil, false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// procStat returns the state and the parent pid of pid from /proc/PID/stat.
func procStat(pid int) (state byte, ppid int, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0, 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	return f[0][0], ppid, true
}

// childrenOf returns the live (not zombie) processes whose parent is one of parents.
func childrenOf(parents ...int) []int {
	ents, _ := os.ReadDir("/proc")
	var kids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		state, ppid, ok := procStat(pid)
		if !ok || state == 'Z' || state == 'X' {
			continue
		}
		for _, p := range parents {
			if ppid == p {
				kids = append(kids, pid)
			}
		}
	}
	return kids
}

// readPIDFile returns the pid in path, or 0 with the error.
func readPIDFile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// waitPIDFile waits until path holds pid (or, for pid 0, until path does not exist).
func waitPIDFile(path string, pid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		got, err := readPIDFile(path)
		if (pid == 0 && errors.Is(err, os.ErrNotExist)) || (pid != 0 && err == nil && got == pid) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkPIDFile checks that path holds pid (pid 0: that there is no such file).
func checkPIDFile(t *testing.T, what, path string, pid int) {
	t.Helper()
	if !waitPIDFile(path, pid, 2*time.Second) {
		got, err := readPIDFile(path)
		if pid == 0 {
			t.Errorf("%s: %s holds %d (%v); want no such file", what, filepath.Base(path), got, err)
		} else {
			t.Errorf("%s: %s holds %d (%v); want %d", what, filepath.Base(path), got, err, pid)
		}
	}
}

func exeOf(pid int) string {
	p, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return err.Error()
	}
	return p
}

// backgroundLoad is runLoad in the background, until finish is called.
type backgroundLoad struct {
	stop chan struct{}
	out  chan *loadResult
	once sync.Once
	res  *loadResult
}

// startBackgroundLoad runs 4 clients that GET path (with 5 ms between requests) until
// finish is called (at cleanup at the latest) or 60 s passed.
func startBackgroundLoad(t *testing.T, s *server, path string) *backgroundLoad {
	l := &backgroundLoad{stop: make(chan struct{}), out: make(chan *loadResult, 1)}
	go func() {
		l.out <- runLoad(s, 4, path, 5*time.Millisecond, 1, func() bool {
			select {
			case <-l.stop:
				return true
			default:
				return false
			}
		}, 60*time.Second)
	}()
	t.Cleanup(func() { l.finish() })
	return l
}

func (l *backgroundLoad) finish() *loadResult {
	l.once.Do(func() {
		close(l.stop)
		l.res = <-l.out
	})
	return l.res
}

// versions counts the answers of res by version ("v1 PID" counts for v1).
func versions(res *loadResult) map[string]int {
	n := map[string]int{}
	for body := range res.pids {
		v, _, _ := strings.Cut(body, " ")
		n[v]++
	}
	return n
}

// workerOf returns the version and worker pid of an answer "VERSION PID".
func workerOf(r *response) (string, int) {
	v, p, _ := strings.Cut(string(r.body), " ")
	pid, _ := strconv.Atoi(p)
	return v, pid
}

// waitAnswers GETs / until both versions in want were seen, and returns the worker pids
// seen by version.
func waitAnswers(t *testing.T, s *server, timeout time.Duration, want ...string) map[string]map[int]bool {
	t.Helper()
	seen := map[string]map[int]bool{}
	deadline := time.Now().Add(timeout)
	for {
		all := true
		for _, v := range want {
			if len(seen[v]) == 0 {
				all = false
			}
		}
		if all {
			return seen
		}
		if time.Now().After(deadline) {
			t.Fatalf("answers seen in %v: %v; want versions %v", timeout, seen, want)
		}
		r, err := s.fetch("/")
		if err != nil || r.status != 200 {
			t.Fatalf("GET / = %+v, %v", r, err)
		}
		v, pid := workerOf(r)
		if seen[v] == nil {
			seen[v] = map[int]bool{}
		}
		seen[v][pid] = true
	}
}

// expectOnly checks that n requests in a row are all answered 200 by version v.
func expectOnly(t *testing.T, what string, get func() (*response, error), n int, v string) {
	t.Helper()
	for i := 0; i < n; i++ {
		r, err := get()
		if err != nil || r.status != 200 {
			t.Fatalf("%s: GET / = %+v, %v", what, r, err)
		}
		if got, _ := workerOf(r); got != v {
			t.Fatalf("%s: GET / #%d answered %q; want version %s only", what, i+1, r.body, v)
		}
	}
}

// expectGone checks that none of pids runs any more and that no process is a child of one
// of masters.
func expectGone(t *testing.T, what string, pids []int, masters ...int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range pids {
		for !processGone(pid) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if !processGone(pid) {
			t.Errorf("%s: process %d still runs", what, pid)
		}
	}
	if kids := childrenOf(masters...); len(kids) > 0 {
		t.Errorf("%s: processes %v are children of the masters %v", what, kids, masters)
	}
}

// USR2 under steady load, with the binary replaced at its path and the app's version bumped:
// a new master from the new binary serves the new code next to the old master; TERM to the
// old one promotes the new one (pid file included). No request fails throughout.
func TestUSR2UpgradeUnderLoad(t *testing.T) {
	u := startUpgrade(t)
	m1 := u.cmd.Process.Pid
	checkPIDFile(t, "at start", u.pidFile, m1)
	if got := exeOf(m1); got != u.exe {
		t.Fatalf("/proc/%d/exe = %q; want %q", m1, got, u.exe)
	}
	load := startBackgroundLoad(t, u.server, "/?sleep=0.01")
	time.Sleep(300 * time.Millisecond) // some load on the old master alone

	copyBinary(t, u.exe) // the upgrade installs a new binary at the same path
	if got := exeOf(m1); got != u.exe+" (deleted)" {
		t.Errorf("/proc/%d/exe after the binary was replaced = %q; want %q", m1, got, u.exe+" (deleted)")
	}
	u.setVersion(t, "v2")
	m2 := u.usr2(t, 1)
	if got := exeOf(m2); got != u.exe {
		t.Errorf("/proc/%d/exe of the new master = %q; want %q (the new binary)", m2, got, u.exe)
	}
	for _, want := range []string{
		"Handling signal: usr2",
		fmt.Sprintf("Inherited 1 socket(s) from the old master (pid %d); --bind is ignored", m1),
		fmt.Sprintf("Listening at: http://%s (%d)", u.addr, m2),
	} {
		if !strings.Contains(u.log.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}
	checkPIDFile(t, "with both masters", u.pidFile, m1)
	checkPIDFile(t, "with both masters", u.pidFile+".2", m2)

	// Both masters accept on the shared socket.
	seen := waitAnswers(t, u.server, 10*time.Second, "v1", "v2")

	syscall.Kill(m1, syscall.SIGTERM)
	exited, err := u.waitExit(20 * time.Second)
	if !exited || err != nil {
		t.Fatalf("old master after TERM: exited %v, %v; want exit status 0; log:\n%s", exited, err, u.log)
	}
	gone := time.Now()
	if !u.log.waitFor("Master has been promoted.", 5*time.Second) {
		t.Fatalf("no \"Master has been promoted.\" 5 s after the old master exited; log:\n%s", u.log)
	}
	if d := time.Since(gone); d > time.Second {
		t.Errorf("the new master was promoted %v after the old one exited; want within about 0.5 s", d)
	}
	checkPIDFile(t, "after the promotion", u.pidFile, m2)
	checkPIDFile(t, "after the promotion", u.pidFile+".2", 0)

	expectOnly(t, "after the promotion", func() (*response, error) { return u.fetch("/") }, 30, "v2")
	res := load.finish()
	res.check(t, 100)
	if n := versions(res); n["v1"] == 0 || n["v2"] == 0 || len(n) != 2 {
		t.Errorf("workers that answered the load, by version: %v; want v1 and v2 only", n)
	}

	// The old master's workers are gone with it.
	var oldWorkers, all []int
	for body := range res.pids {
		var v string
		var pid int
		fmt.Sscanf(body, "%s %d", &v, &pid)
		if v == "v1" {
			oldWorkers = append(oldWorkers, pid)
		}
		all = append(all, pid)
	}
	for pid := range seen["v1"] {
		oldWorkers = append(oldWorkers, pid)
	}
	expectGone(t, "after the old master exited", oldWorkers, m1)

	syscall.Kill(m2, syscall.SIGTERM)
	status, gone2 := reap(m2, 20*time.Second)
	if !gone2 {
		t.Fatalf("new master %d still runs 20 s after TERM; log:\n%s", m2, u.log)
	}
	if status != nil && (!status.Exited() || status.ExitStatus() != 0) {
		t.Errorf("new master after TERM: wait status %v; want exit status 0", *status)
	}
	if status == nil {
		t.Logf("new master %d was not the test's child; its exit status is not known", m2)
	}
	checkPIDFile(t, "after the new master exited", u.pidFile, 0)
	expectGone(t, "after both masters exited", append(all, u.workerPIDs()...), m1, m2)
}

// TERM to the new master before the old one stopped rolls the upgrade back: the new master
// exits 0 and removes its pid file, the old one goes on serving the old code, and a later
// USR2 upgrades again.
func TestUSR2Rollback(t *testing.T) {
	u := startUpgrade(t)
	m1 := u.cmd.Process.Pid
	load := startBackgroundLoad(t, u.server, "/?sleep=0.01")
	u.setVersion(t, "v2")
	m2 := u.usr2(t, 1)
	if pid, err := readPIDFile(u.pidFile + ".2"); err != nil || pid != m2 {
		t.Fatalf("%s.2 = %d, %v; want the new master's pid %d", filepath.Base(u.pidFile), pid, err, m2)
	}
	seen := waitAnswers(t, u.server, 10*time.Second, "v1", "v2")
	newWorkers := childrenOf(m2)

	syscall.Kill(m2, syscall.SIGTERM)
	if !u.log.waitFor(fmt.Sprintf("New master (pid %d) exited: exit status 0", m2), 20*time.Second) {
		t.Fatalf("the old master did not report the new one's exit 0; log:\n%s", u.log)
	}
	checkPIDFile(t, "after the rollback", u.pidFile+".2", 0)
	checkPIDFile(t, "after the rollback", u.pidFile, m1)
	expectOnly(t, "after the rollback", func() (*response, error) { return u.fetch("/") }, 30, "v1")
	res := load.finish()
	res.check(t, 50)
	var v2 []int
	for pid := range seen["v2"] {
		v2 = append(v2, pid)
	}
	expectGone(t, "after the rollback", append(v2, newWorkers...), m2)
	if exited, err := u.waitExit(0); exited {
		t.Fatalf("old master exited after the rollback: %v", err)
	}

	m3 := u.usr2(t, 2)
	if n := u.logCount("Upgrading: started a new master"); n != 2 {
		t.Errorf("%d new masters started; want 2", n)
	}
	checkPIDFile(t, "after the second USR2", u.pidFile+".2", m3)
	waitAnswers(t, u.server, 10*time.Second, "v1", "v2")
	syscall.Kill(m3, syscall.SIGTERM)
	if !u.log.waitFor(fmt.Sprintf("New master (pid %d) exited: exit status 0", m3), 20*time.Second) {
		t.Errorf("the second new master did not exit 0 on TERM")
	}
}

// While an upgrade is under way (both masters run), USR2 is refused by both.
func TestUSR2Refusals(t *testing.T) {
	u := startUpgrade(t)
	m1 := u.cmd.Process.Pid
	m2 := u.usr2(t, 1)
	syscall.Kill(m1, syscall.SIGUSR2)
	if !u.log.waitFor("USR2 signal ignored. Child exists.", 5*time.Second) {
		t.Errorf("USR2 to the old master with a new one running was not refused")
	}
	syscall.Kill(m2, syscall.SIGUSR2)
	if !u.log.waitFor("USR2 signal ignored. Parent exists.", 5*time.Second) {
		t.Errorf("USR2 to the new master with the old one running was not refused")
	}
	time.Sleep(200 * time.Millisecond) // a wrongly started third master would log by now
	if n := u.logCount("Upgrading: started a new master"); n != 1 {
		t.Errorf("%d new masters started; want 1", n)
	}
	if n := u.logCount("Handling signal: usr2"); n != 3 {
		t.Errorf("%d USR2 handled; want 3", n)
	}
}

// With a unix socket bind, the old master's exit leaves the socket file to the new master,
// which serves it and removes it when it exits.
func TestUSR2UnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "g.sock")
	u := startUpgrade(t, "--bind", "unix:"+sock)
	m1 := u.cmd.Process.Pid
	get := func() (*response, error) {
		return tryDo("unix", sock, "GET / HTTP/1.1\r\nHost: test\r\n\r\n")
	}
	expectOnly(t, "before USR2", get, 5, "v1")
	u.setVersion(t, "v2")
	m2 := u.usr2(t, 1)
	if want := fmt.Sprintf("Inherited 2 socket(s) from the old master (pid %d)", m1); !strings.Contains(u.log.String(), want) {
		t.Errorf("log lacks %q", want)
	}
	if want := fmt.Sprintf("Listening at: unix:%s (%d)", sock, m2); !strings.Contains(u.log.String(), want) {
		t.Errorf("log lacks %q", want)
	}
	syscall.Kill(m1, syscall.SIGTERM)
	if exited, err := u.waitExit(20 * time.Second); !exited || err != nil {
		t.Fatalf("old master after TERM: exited %v, %v; want exit status 0", exited, err)
	}
	if fi, err := os.Lstat(sock); err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("socket file after the old master exited: %v, %v; want it left to the new master", fi, err)
	}
	expectOnly(t, "after the old master exited", get, 10, "v2")
	if !u.log.waitFor("Master has been promoted.", 5*time.Second) {
		t.Errorf("new master not promoted")
	}
	syscall.Kill(m2, syscall.SIGTERM)
	if _, gone := reap(m2, 20*time.Second); !gone {
		t.Fatalf("new master %d still runs 20 s after TERM", m2)
	}
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket file after the new master exited: %v; want it removed", err)
	}
}

// Under systemd (NOTIFY_SOCKET): the new master names itself the main process once ready;
// the old one, stopped while the new one runs, sends no STOPPING=1 (systemd would stop the
// service); the promoted new master sends STOPPING=1 when it stops. A new master that is
// rolled back hands the main process back to the old one.
func TestUSR2Notify(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	recv := func(timeout time.Duration) (string, error) {
		buf := make([]byte, 4096)
		c.SetReadDeadline(time.Now().Add(timeout))
		n, _, err := c.ReadFromUnix(buf)
		return string(buf[:n]), err
	}
	next := func() string {
		t.Helper()
		got, err := recv(30 * time.Second)
		if err != nil {
			t.Fatalf("no sd_notify datagram: %v", err)
		}
		return got
	}
	u := startUpgradeEnv(t, []string{"NOTIFY_SOCKET=" + sock})
	m1 := u.cmd.Process.Pid
	if got := next(); got != "READY=1" {
		t.Fatalf("first sd_notify = %q; want READY=1", got)
	}

	// Rollback: the new master hands MAINPID back.
	m2 := u.usr2(t, 1)
	if got, want := next(), fmt.Sprintf("MAINPID=%d\nREADY=1", m2); got != want {
		t.Fatalf("sd_notify of the new master = %q; want %q", got, want)
	}
	syscall.Kill(m2, syscall.SIGTERM)
	if got, want := next(), fmt.Sprintf("MAINPID=%d", m1); got != want {
		t.Errorf("sd_notify of the rolled-back new master = %q; want %q", got, want)
	}
	if !u.log.waitFor(fmt.Sprintf("New master (pid %d) exited: exit status 0", m2), 20*time.Second) {
		t.Fatalf("the rolled-back new master did not exit 0; log:\n%s", u.log)
	}

	// Upgrade: the old master stops silently, the promoted one says STOPPING=1.
	m3 := u.usr2(t, 2)
	if got, want := next(), fmt.Sprintf("MAINPID=%d\nREADY=1", m3); got != want {
		t.Fatalf("sd_notify of the second new master = %q; want %q", got, want)
	}
	syscall.Kill(m1, syscall.SIGTERM)
	if exited, err := u.waitExit(20 * time.Second); !exited || err != nil {
		t.Fatalf("old master after TERM: exited %v, %v; want status 0", exited, err)
	}
	if !u.log.waitFor("Master has been promoted.", 5*time.Second) {
		t.Fatalf("no promotion; log:\n%s", u.log)
	}
	if got, err := recv(500 * time.Millisecond); err == nil {
		t.Errorf("sd_notify from the old master's stop = %q; want none (the new master is the main process)", got)
	}
	syscall.Kill(m3, syscall.SIGTERM)
	if got := next(); got != "STOPPING=1" {
		t.Errorf("sd_notify on the promoted master's TERM = %q; want STOPPING=1", got)
	}
	if _, gone := reap(m3, 20*time.Second); !gone {
		t.Errorf("promoted master %d still runs 20 s after TERM", m3)
	}
}

// A new master whose app does not import exits 3; the old master logs it and serves on, and
// the pid file of the failed one is gone.
func TestUSR2NewMasterFailsToBoot(t *testing.T) {
	u := startUpgrade(t)
	m1 := u.cmd.Process.Pid
	u.setVersion(t, "broken")
	syscall.Kill(m1, syscall.SIGUSR2)
	if !u.log.waitFor("Upgrading: started a new master (pid ", 10*time.Second) {
		t.Fatalf("no new master started; log:\n%s", u.log)
	}
	m2 := u.newMasters()[0]
	if !u.log.waitFor(fmt.Sprintf("New master (pid %d) exited: exit status 3", m2), 30*time.Second) {
		t.Fatalf("the old master did not report the new one's exit 3; log:\n%s", u.log)
	}
	if !strings.Contains(u.log.String(), "upgrade.py: this version does not import") {
		t.Error("the log lacks the new master's traceback")
	}
	checkPIDFile(t, "after the failed upgrade", u.pidFile+".2", 0)
	checkPIDFile(t, "after the failed upgrade", u.pidFile, m1)
	expectOnly(t, "after the failed upgrade", func() (*response, error) { return u.fetch("/") }, 10, "v1")
	// The failed child was reaped, so the next USR2 is not refused.
	u.setVersion(t, "v2")
	syscall.Kill(m1, syscall.SIGUSR2)
	if !u.waitForLogCount("Upgrading: started a new master (pid ", 2, 10*time.Second) {
		t.Fatalf("USR2 after the failed upgrade started no new master; log:\n%s", u.log)
	}
	m3 := u.newMasters()[1]
	waitAnswers(t, u.server, 30*time.Second, "v2")
	syscall.Kill(m3, syscall.SIGTERM)
	if !u.log.waitFor(fmt.Sprintf("New master (pid %d) exited: exit status 0", m3), 20*time.Second) {
		t.Errorf("the second new master did not exit 0 on TERM")
	}
}

// USR2 when the executable is gone from its path (removed, not replaced): the old master
// says why no new master started and goes on serving.
func TestUSR2MissingBinary(t *testing.T) {
	u := startUpgrade(t)
	if err := os.Remove(u.exe); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(u.cmd.Process.Pid, syscall.SIGUSR2)
	if !u.log.waitFor("Upgrading: the new master was not started; this one goes on serving", 10*time.Second) {
		t.Fatalf("no error for a missing binary; log:\n%s", u.log)
	}
	if !strings.Contains(u.log.String(), u.exe) {
		t.Errorf("the error does not name the missing file %s", u.exe)
	}
	if n := u.logCount("Upgrading: started a new master"); n != 0 {
		t.Errorf("%d new masters started; want none", n)
	}
	expectOnly(t, "after the failed USR2", func() (*response, error) { return u.fetch("/") }, 5, "v1")
}

// A unix socket from systemd (socket activation) handed down by USR2 stays systemd's: the
// promoted new master leaves its file in place when it stops, as the old one would have.
func TestUSR2KeepsSystemdSocketFile(t *testing.T) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err == nil {
		t.Cleanup(func() { unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0) })
	}
	sock := filepath.Join(t.TempDir(), "systemd.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	f, err := ln.(*net.UnixListener).File()
	ln.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// LISTEN_PID must be the pid of the process that reads it: the shell execs gonicorn.
	cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"`,
		binary, "--python", python(t), "--chdir", appsDir(t), "faults")
	cmd.ExtraFiles = []*os.File{f}
	s := &server{t: t, cmd: cmd, log: newLogBuffer(), done: make(chan struct{})}
	cmd.Env = append(os.Environ(), "LISTEN_FDS=1")
	cmd.Stdout, cmd.Stderr = s.log, s.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.err = cmd.Wait() // returns once every holder of the output pipe, the new master too, exited
		close(s.done)
	}()
	t.Cleanup(s.stop)
	get := func() (*response, error) { return tryDo("unix", sock, "GET /pid HTTP/1.1\r\nHost: t\r\n\r\n") }
	if !s.log.waitFor("Booting worker with pid", 20*time.Second) {
		t.Fatalf("no worker booted; log:\n%s", s.log)
	}

	m1 := cmd.Process.Pid
	syscall.Kill(m1, syscall.SIGUSR2)
	ready := fmt.Sprintf("Upgrade: new master ready; the old master (pid %d) still serves until it gets TERM", m1)
	if !s.log.waitFor(ready, 30*time.Second) {
		t.Fatalf("no new master ready; log:\n%s", s.log)
	}
	m := newMasterLine.FindStringSubmatch(s.log.String())
	m2, _ := strconv.Atoi(m[1])
	t.Cleanup(func() {
		if !processGone(m2) {
			syscall.Kill(m2, syscall.SIGKILL)
		}
		reap(m2, 5*time.Second)
	})
	syscall.Kill(m1, syscall.SIGTERM)
	if !s.log.waitFor("Master has been promoted.", 20*time.Second) {
		t.Fatalf("the new master was not promoted; log:\n%s", s.log)
	}
	if r, err := get(); err != nil || r.status != 200 || string(r.body) == "" {
		t.Fatalf("GET /pid on systemd's socket after the old master left = %+v, %v", r, err)
	}
	syscall.Kill(m2, syscall.SIGTERM)
	if st, gone := reap(m2, 20*time.Second); !gone || st != nil && st.ExitStatus() != 0 {
		t.Fatalf("promoted master after TERM: gone %v, status %v; want exit 0", gone, st)
	}
	if _, err := os.Lstat(sock); err != nil {
		t.Errorf("systemd's socket file after the promoted master stopped: %v; want it left in place", err)
	}
}
