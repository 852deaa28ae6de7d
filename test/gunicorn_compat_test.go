package e2e

// gunicorn's command lines run unchanged (docs/gunicorn-settings.md): every gunicorn setting
// is implemented, refused with one line that says what to do instead, or ignored with a
// warning; gunicorn's spellings (-k, --log-file, -v, GUNICORN_CMD_ARGS, ./gunicorn.conf.py)
// work.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// startIn is start with the master's working directory dir (for ./gunicorn.conf.py) and
// the extra environment env.
func startIn(t *testing.T, dir string, env []string, args ...string) *server {
	t.Helper()
	f, addr := listenerFile(t)
	defer f.Close()
	s := &server{t: t, addr: addr, log: newLogBuffer(), done: make(chan struct{})}
	s.cmd = exec.Command(binary, append([]string{"--bind", "fd://3"}, args...)...)
	s.cmd.Dir = dir
	s.cmd.Env = append(os.Environ(), env...)
	s.cmd.ExtraFiles = []*os.File{f}
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(s.stop)
	s.waitReady()
	return s
}

// A refused gunicorn setting stops gonicorn at once with exit status 1 and one line naming
// it and saying what to do instead — on the command line, in GUNICORN_CMD_ARGS and in a
// config file alike — never "unknown flag".
func TestGunicornSettingRefused(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "gunicorn.conf.py")
	writeConfig(t, conf, "daemon = True\n")
	for _, tc := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"--daemon", "app"}, "gonicorn: error: --daemon: gonicorn does not detach yet; run it in the foreground"},
		{nil, []string{"-D", "app"}, "gonicorn: error: --daemon: gonicorn does not detach yet"},
		{nil, []string{"--certfile", "c.pem", "app"}, "gonicorn: error: --certfile c.pem: gonicorn does not terminate TLS yet"},
		{[]string{"GUNICORN_CMD_ARGS=--user nobody"}, []string{"app"}, "gonicorn: error: --user nobody: gonicorn does not switch user yet; start it as that user (systemd's User=, Docker's USER) (in GUNICORN_CMD_ARGS)"},
		{nil, []string{"--python", python(t), "-c", conf, "app"}, "gonicorn: error: config file " + conf + ": daemon = True: gonicorn does not detach yet"},
	} {
		_, stderr, code := runCLI(t, tc.env, tc.args...)
		if code != 1 || !strings.HasPrefix(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("gonicorn %v (env %v): exit %d, stderr %q; want 1 and the one line %q...", tc.args, tc.env, code, stderr, tc.want)
		}
	}
}

// gunicorn flags harmless to leave out (Docker guides' --worker-tmp-dir /dev/shm, --preload)
// serve, with a warning each.
func TestGunicornSettingIgnoredServes(t *testing.T) {
	s := start(t, "--python", python(t), "--chdir", appsDir(t), "--worker-tmp-dir", "/dev/shm", "--preload", "--capture-output", "basic")
	if r := s.get("/"); r.status != 200 {
		t.Fatalf("GET / = %d; want 200", r.status)
	}
	for _, want := range []string{
		"[WARNING] --worker-tmp-dir /dev/shm: gunicorn setting ignored by gonicorn: workers have no heartbeat file",
		"[WARNING] --preload: gunicorn setting ignored by gonicorn: each worker imports the app itself",
	} {
		if !strings.Contains(s.log.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if strings.Contains(s.log.String(), "capture-output") {
		t.Error("--capture-output was reported; gonicorn always does it")
	}
}
