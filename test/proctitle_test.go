package e2e

// End-to-end tests of the process titles (issue 9, item 17): what ps and top show for the
// master and its workers, read from /proc of the real processes.

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// procFile reads /proc/PID/name.
func procFile(t *testing.T, pid int, name string) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkTitles checks the command line (ps aux, top -c) and comm (top, ps -e, pgrep) of the
// master and of each worker: gonicorn: master [name], gonicorn: worker [name], and their
// first 15 bytes for comm, as gunicorn with setproctitle shows them.
func checkTitles(t *testing.T, s *server, workers int, name string) {
	t.Helper()
	procs := map[int]string{s.cmd.Process.Pid: "gonicorn: master [" + name + "]"}
	for _, pid := range s.waitWorkers(workers) {
		procs[pid] = "gonicorn: worker [" + name + "]"
	}
	if len(procs) != workers+1 {
		t.Fatalf("%d processes; want the master and %d workers", len(procs), workers)
	}
	for pid, title := range procs {
		if got := procFile(t, pid, "cmdline"); got != title+"\x00" {
			t.Errorf("/proc/%d/cmdline = %q; want %q", pid, got, title+"\x00")
		}
		if got := procFile(t, pid, "comm"); got != title[:15]+"\n" {
			t.Errorf("/proc/%d/comm = %q; want %q", pid, got, title[:15]+"\n")
		}
	}
}

// TestProcessTitles checks the titles with the default name, APP_MODULE.
func TestProcessTitles(t *testing.T) {
	s := pepStart(t, "messages", "-w", "2")
	checkTitles(t, s, 2, "messages")
	if r := s.get("/pid"); r.status != 200 {
		t.Errorf("GET /pid = %d; want 200", r.status)
	}
}

// TestProcessTitlesName checks -n/--name given in GONICORN_CMD_ARGS, with a name longer
// than the master's own command line: its title continues into the environment strings'
// memory, and the environment the workers inherit must be intact.
func TestProcessTitlesName(t *testing.T) {
	name := "a-shop-with-a-name-longer-than-the-command-line-" + strings.Repeat("x", 40)
	t.Setenv("GONICORN_CMD_ARGS", "-n "+name+" --python "+python(t)+" --chdir "+appsDir(t))
	t.Setenv("GONICORN_TITLE_TEST", "kept")
	s := start(t, "messages")
	checkTitles(t, s, 1, name)
	pid := s.workerPIDs()[0]
	if env := procFile(t, pid, "environ"); !strings.Contains(env, "\x00GONICORN_TITLE_TEST=kept\x00") {
		t.Errorf("the worker's environment lacks GONICORN_TITLE_TEST=kept")
	}
	if r := s.get("/pid"); r.status != 200 {
		t.Errorf("GET /pid = %d; want 200", r.status)
	}
}
