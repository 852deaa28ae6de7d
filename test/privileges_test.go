package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// whoami is what test/apps/whoami.py reports of its worker.
type whoami struct {
	UID, EUID, GID, EGID, PID, PPID int
	Groups                          []int
}

func getWhoami(t *testing.T, s *server) whoami {
	t.Helper()
	r := s.get("/")
	if r.status != 200 {
		t.Fatalf("GET / = %d; want 200; log:\n%s", r.status, s.log)
	}
	var w whoami
	if err := json.Unmarshal(r.body, &w); err != nil {
		t.Fatalf("GET / body %q: %v", r.body, err)
	}
	return w
}

// nobody returns the uid and primary gid of the user nobody, which the tests run the workers
// as. The tests need root, as gunicorn's --user does (CI and this machine run as root).
func nobody(t *testing.T) (uid, gid int) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("the --user tests need root (euid %d)", os.Geteuid())
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("user nobody: %v", err)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid
}

// procCreds reads the real uid and gid of process pid from /proc.
func procCreds(t *testing.T, pid int) (uid, gid string) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) > 1 && f[0] == "Uid:":
			uid = f[1]
		case len(f) > 1 && f[0] == "Gid:":
			gid = f[1]
		}
	}
	return uid, gid
}

// -u nobody: the workers run as nobody in its primary group with no other group, the master
// stays root; a unix socket of --bind is given to nobody's uid and gid under --umask (0o117:
// mode 0660), and the pid file is root's, 0644. A request body spooled to a file by the
// master (more than 1 MiB) reaches the worker as an fd, which needs no permission.
func TestUserGroupWorkers(t *testing.T) {
	uid, gid := nobody(t)
	dir := t.TempDir()
	sock, pid := filepath.Join(dir, "app.sock"), filepath.Join(dir, "app.pid")
	s := start(t, "--python", debianPython(t, "json"), "--chdir", appsDir(t), "-u", "nobody", "-m", "0o117",
		"--bind", "unix:"+sock, "--pid", pid, "-w", "2", "whoami")
	w := getWhoami(t, s)
	if w.UID != uid || w.EUID != uid || w.GID != gid || w.EGID != gid || !slices.Equal(w.Groups, []int{gid}) {
		t.Errorf("worker credentials %+v; want uid %d, gid %d, groups [%d]", w, uid, gid, gid)
	}
	if w.PPID != s.cmd.Process.Pid {
		t.Errorf("worker's parent %d; want the master %d", w.PPID, s.cmd.Process.Pid)
	}
	if u, g := procCreds(t, s.cmd.Process.Pid); u != "0" || g != "0" {
		t.Errorf("master runs as uid %s gid %s; want root (0, 0)", u, g)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(sock, &st); err != nil {
		t.Fatal(err)
	}
	if int(st.Uid) != uid || int(st.Gid) != gid || st.Mode&0o777 != 0o660 {
		t.Errorf("socket %s: owner %d:%d mode %04o; want %d:%d 0660", sock, st.Uid, st.Gid, st.Mode&0o777, uid, gid)
	}
	if err := syscall.Stat(pid, &st); err != nil {
		t.Fatal(err)
	}
	if st.Uid != 0 || st.Mode&0o777 != 0o644 {
		t.Errorf("pid file %s: owner %d mode %04o; want root's, 0644", pid, st.Uid, st.Mode&0o777)
	}
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatalf("connecting to %s: %v", sock, err)
	}
	c.Close()
	body := strings.Repeat("x", 3<<20)
	r := s.do(fmt.Sprintf("POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body))
	if r.status != 200 || string(r.body) != strconv.Itoa(len(body)) {
		t.Errorf("POST /body of %d bytes = %d %q; want 200 and the length", len(body), r.status, r.body)
	}
}

// -u and -g by number, with --initgroups: the workers get that uid and gid, and the groups
// of the user in /etc/group plus the gid (nobody has none of its own, so just the gid).
func TestUserGroupNumeric(t *testing.T) {
	uid, _ := nobody(t)
	s := start(t, "--python", debianPython(t, "json"), "--chdir", appsDir(t),
		"-u", strconv.Itoa(uid), "-g", "0", "--initgroups", "whoami")
	w := getWhoami(t, s)
	if w.UID != uid || w.GID != 0 || !slices.Contains(w.Groups, 0) {
		t.Errorf("worker credentials %+v; want uid %d, gid 0, groups with 0", w, uid)
	}
}

// An unknown user or group stops gonicorn at once with exit status 1 and a line naming the
// flag and the value; so does a --chdir the user cannot enter.
func TestUserGroupErrors(t *testing.T) {
	nobody(t)
	closed := t.TempDir() // 0700, root's
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-u", "no-such-user-gonicorn", "app"}, "gonicorn: error: --user no-such-user-gonicorn: no such user"},
		{[]string{"-g", "no-such-group-gonicorn", "app"}, "gonicorn: error: --group no-such-group-gonicorn: no such group"},
		{[]string{"-m", "0o1777", "app"}, "gonicorn: error: --umask 0o1777: want a mask of permission bits"},
		{[]string{"--bind", "127.0.0.1:0", "--python", debianPython(t, "json"), "-u", "nobody", "--chdir", closed, "app"},
			"gonicorn: error: --chdir " + closed + ": the workers' user (uid"},
	} {
		_, stderr, code := runCLI(t, nil, tc.args...)
		if code != 1 || !strings.HasPrefix(stderr, tc.want) {
			t.Errorf("gonicorn %v: exit %d, stderr %q; want 1 and %q...", tc.args, code, stderr, tc.want)
		}
	}
}

// Not root: naming another user is an error saying that only root may switch.
func TestUserNotRoot(t *testing.T) {
	uid, gid := nobody(t)
	cmd := []string{"-u", "root", "app"}
	_, stderr, code := runCLIAs(t, uint32(uid), uint32(gid), cmd...)
	if code != 1 || !strings.Contains(stderr, "--user root: only root may start the workers as another user") {
		t.Errorf("gonicorn %v as nobody: exit %d, stderr %q; want 1 and \"only root may\"", cmd, code, stderr)
	}
}

// runCLIAs is runCLI as the user uid:gid, with a copy of the binary that user may run (the
// one TestMain built is in a directory only root may enter).
func runCLIAs(t *testing.T, uid, gid uint32, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	dir, err := os.MkdirTemp("", "gonicorn-as-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	b, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "gonicorn")
	if err := os.WriteFile(exe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{gid}}}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("gonicorn %v as uid %d: %v", args, uid, err)
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}

// HUP re-reads the configuration: the new generation of workers runs as the user too.
func TestUserAfterReload(t *testing.T) {
	uid, _ := nobody(t)
	s := start(t, "--python", debianPython(t, "json"), "--chdir", appsDir(t), "-u", "nobody", "whoami")
	before := getWhoami(t, s)
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGHUP)
	if !s.log.waitFor("Reload complete", 30*time.Second) {
		t.Fatalf("no \"Reload complete\" after HUP; log:\n%s", s.log)
	}
	after := getWhoami(t, s)
	if after.PID == before.PID || after.UID != uid {
		t.Errorf("after HUP: worker %+v; want a new worker (not pid %d) with uid %d", after, before.PID, uid)
	}
}
