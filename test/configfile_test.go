package e2e

// The config file (-c gunicorn.conf.py): settings from the file reach the workers, the
// command line overrides them, HUP re-reads the file, and what gonicorn cannot do is a
// warning while a file that fails is an error (docs/config-file.md).

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// writeConfig writes src as the config file path.
func writeConfig(t *testing.T, path, src string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

// configStart runs gonicorn with the config file src (written to a temp dir; it serves
// configapp from test/apps by its chdir and wsgi_app) and the extra flags. It returns the
// server and the file's path.
func configStart(t *testing.T, src string, flags ...string) (*server, string) {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "gunicorn.conf.py")
	writeConfig(t, conf, configHead(t)+src)
	return start(t, append([]string{"--python", python(t), "-c", conf}, flags...)...), conf
}

// configHead is the part of every test's file that finds the app.
func configHead(t *testing.T) string {
	return fmt.Sprintf("chdir = %q\nwsgi_app = \"configapp\"\nraw_env = [\"PYTHONDONTWRITEBYTECODE=1\"]\n", appsDir(t))
}

// workers=2 and a timeout from the file: two workers boot, a request over the timeout
// gets the worker killed (504).
func TestConfigFileWorkersAndTimeout(t *testing.T) {
	s, _ := configStart(t, "import multiprocessing\nworkers = 2\ntimeout = 1\n")
	s.waitWorkers(2)
	if r := s.get("/pid"); r.status != 200 {
		t.Fatalf("GET /pid = %d; want 200", r.status)
	}
	if r := s.get("/sleep?s=20"); r.status != 504 {
		t.Errorf("GET /sleep?s=20 with timeout = 1 = %d; want 504", r.status)
	}
	if !s.log.waitFor("WORKER TIMEOUT", 5*time.Second) {
		t.Error("no WORKER TIMEOUT in the log")
	}
	if n := s.logCount("[WARNING]"); n != 0 {
		t.Errorf("%d warnings logged; want none for a file of supported settings", n)
	}
}

// defaults < config file < GONICORN_CMD_ARGS < command line; lists are replaced.
func TestConfigFileCommandLineOverrides(t *testing.T) {
	t.Setenv("GONICORN_CMD_ARGS", "-e ORIGIN=env --threads 1 -e ONLY_ENV=yes")
	s, _ := configStart(t, "workers = 3\nthreads = 4\nraw_env = ['ORIGIN=file', 'ONLY_FILE=yes']\n", "-w", "1", "-e", "ORIGIN=cmd")
	s.waitWorkers(1)
	for path, want := range map[string]string{
		"/env?name=ORIGIN":    "cmd",   // the command line's -e replaced the others
		"/env?name=ONLY_ENV":  "",      // GONICORN_CMD_ARGS's list was replaced
		"/env?name=ONLY_FILE": "",      // so was the file's
		"/multithread":        "False", // threads = 4 in the file, 1 in GONICORN_CMD_ARGS
	} {
		if r := s.get(path); r.status != 200 || string(r.body) != want {
			t.Errorf("GET %s = %d %q; want %q", path, r.status, r.body, want)
		}
	}
	if !strings.Contains(s.log.String(), "Using worker: sync") {
		t.Error("log lacks \"Using worker: sync\"")
	}
	if n := s.logCount("Booting worker"); n != 1 {
		t.Errorf("%d workers booted; want 1 (-w 1 over workers = 3)", n)
	}
}

// HUP re-reads the file: after it is rewritten to workers = 3, three workers of the new
// generation serve.
func TestConfigFileHUPReloadsWorkers(t *testing.T) {
	s, conf := configStart(t, "workers = 2\n")
	old := s.waitWorkers(2)
	writeConfig(t, conf, configHead(t)+"workers = 3\n")
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGHUP)
	if !s.log.waitFor("Reload complete", 30*time.Second) {
		t.Fatal("no \"Reload complete\" after HUP")
	}
	fresh := s.waitWorkers(5)[2:]
	if !s.waitForLogCount("Worker exiting", 2, 15*time.Second) {
		t.Fatal("the old generation did not exit")
	}
	// Three requests held at once: one on each worker (one slot each).
	gate := filepath.Join(t.TempDir(), "open")
	var chs []<-chan fetched
	for i := 0; i < 3; i++ {
		chs = append(chs, goFetch(s, "/pid?wait="+gate))
	}
	if !s.waitForLogCount("configapp: waiting", 3, 15*time.Second) {
		t.Fatal("three requests were not held by workers at once")
	}
	writeConfig(t, gate, "")
	var served []string
	for _, ch := range chs {
		f := <-ch
		if f.err != nil || f.r.status != 200 {
			t.Fatalf("GET /pid: %+v, %v", f.r, f.err)
		}
		served = append(served, string(f.r.body))
	}
	slices.Sort(served)
	var want []string
	for _, pid := range fresh {
		want = append(want, fmt.Sprint(pid))
	}
	slices.Sort(want)
	if !slices.Equal(served, want) {
		t.Errorf("pids that served = %v; want the new generation's three %v (old: %v)", served, want, old)
	}
}

// Settings gonicorn lacks but may ignore: a warning each, at start and again on HUP; a
// refused one with a value that asks for nothing (daemon = False) is accepted; a server hook
// is run, not warned about (docs/hooks.md).
func TestConfigFileWarningsLogged(t *testing.T) {
	s, _ := configStart(t, "daemon = False\npreload_app = True\nworker_tmp_dir = '/dev/shm'\nmy_helper = 3\n\ndef post_fork(server, worker):\n    pass\n")
	s.waitWorkers(1)
	for _, want := range []string{
		"[WARNING] config file ",
		"Booting preloader with pid", // preload_app = True
		"worker_tmp_dir: gunicorn setting ignored by gonicorn: workers have no heartbeat file",
	} {
		if !strings.Contains(s.log.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if strings.Contains(s.log.String(), "my_helper") || strings.Contains(s.log.String(), "daemon") || strings.Contains(s.log.String(), "post_fork") {
		t.Error("a global that is no setting, or a hook, was reported; gunicorn ignores those")
	}
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGHUP)
	if !s.log.waitFor("reload: config file ", 15*time.Second) || !s.log.waitFor("worker_tmp_dir: gunicorn setting ignored", time.Second) {
		t.Error("the warnings were not logged again on HUP")
	}
}

// A file with a syntax error: exit status 1, the message names the file and shows the
// traceback.
func TestConfigFileSyntaxErrorExits(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "gunicorn.conf.py")
	writeConfig(t, conf, "workers = 2\nbind = ['127.0.0.1:8000'\n")
	_, stderr, code := runCLI(t, nil, "--python", python(t), "-c", conf, "app")
	if code != 1 {
		t.Errorf("exit status %d; want 1", code)
	}
	for _, want := range []string{"config file " + conf, `File "` + conf + `", line 2`, "SyntaxError"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	_, stderr, code = runCLI(t, nil, "--python", python(t), "-c", filepath.Join(t.TempDir(), "missing.py"), "app")
	if code != 1 || !strings.Contains(stderr, "missing.py") {
		t.Errorf("missing config file: exit status %d, stderr %q; want 1 naming the file", code, stderr)
	}
}

// HUP with a file that now fails: the error is logged and the running workers serve on.
func TestConfigFileHUPBrokenKeepsServing(t *testing.T) {
	s, conf := configStart(t, "workers = 2\n")
	s.waitWorkers(2)
	writeConfig(t, conf, configHead(t)+"workers = 3\nraise RuntimeError('config is broken')\n")
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGHUP)
	if !s.log.waitFor("reload: reading the configuration; keeping the running one", 15*time.Second) {
		t.Fatal("no reload error in the log")
	}
	if !strings.Contains(s.log.String(), "RuntimeError: config is broken") || !strings.Contains(s.log.String(), conf) {
		t.Errorf("the logged error lacks the file or its traceback")
	}
	if r := s.get("/pid"); r.status != 200 {
		t.Errorf("GET /pid after a failed reload = %d; want 200", r.status)
	}
	if n := s.logCount("Booting worker"); n != 2 {
		t.Errorf("%d workers booted; want 2 (no new generation)", n)
	}
	if exited, err := s.waitExit(0); exited {
		t.Errorf("master exited after a failed reload: %v", err)
	}
}

// A HUP whose config file takes long to evaluate (here: it sleeps 20 s) does not hold up a
// TERM that comes meanwhile: the master stops at once.
func TestConfigFileSlowHUPDoesNotDelayTerm(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "slow")
	s, _ := configStart(t, fmt.Sprintf("import os, time\nif os.path.exists(%q):\n    time.sleep(20)\nworkers = 1\n", marker))
	s.waitWorkers(1)
	writeConfig(t, marker, "")
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGHUP)
	if !s.log.waitFor("Hang up: Master", 5*time.Second) {
		t.Fatal("no \"Hang up: Master\" in the log")
	}
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGTERM)
	if exited, err := s.waitExit(10 * time.Second); !exited || err != nil {
		t.Fatalf("master after TERM during a 20 s config evaluation: exited %v, %v; want exit 0 within 10 s", exited, err)
	}
}
