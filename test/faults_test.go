package e2e

// Fault injection (test/apps/faults.py): a worker killed with SIGKILL in the middle of a
// request, a worker that segfaults, and the file descriptors a worker inherits.

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func faultsStart(t *testing.T, flags ...string) *server {
	t.Helper()
	return pepStart(t, "faults", flags...)
}

// expectReplacement checks that a worker answers again after one died (its replacement).
func expectReplacement(t *testing.T, s *server, dead string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r, err := s.fetch("/pid")
		if err == nil && r.status == 200 && string(r.body) != dead {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer from a replacement worker after the worker %s died: %+v, %v", dead, r, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A worker killed with SIGKILL while it runs a request: that request gets 502, requests on
// the other worker go on unharmed, and a new worker replaces the dead one.
func TestFaultKillWorkerMidRequest(t *testing.T) {
	s := faultsStart(t, "-w", "2")
	g := newAppGate(t)
	held := goFetch(s, "/hold?"+g.query())
	g.arrived()
	g.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(g.c).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the worker's pid from the gate: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 1 {
		t.Fatalf("bad pid %q from the app", line)
	}
	// One client keeps requesting while the worker is killed and replaced: the other
	// worker has a free slot, so none of its requests may land on the dying one.
	var replaced atomic.Bool
	load := make(chan *loadResult, 1)
	go func() {
		load <- runLoad(s, 1, "/pid", 10*time.Millisecond, 20, replaced.Load, 30*time.Second)
	}()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %d: %v", pid, err)
	}
	select {
	case f := <-held:
		if f.err != nil || f.r.status != 502 {
			t.Errorf("the request whose worker was killed = %+v, %v; want 502", f.r, f.err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the request whose worker was killed got no answer within 15 s")
	}
	if !s.waitForLogCount("Booting worker", 3, 20*time.Second) {
		t.Error("no replacement worker booted")
	}
	replaced.Store(true)
	res := <-load
	res.check(t, 20)
	if res.pids[strconv.Itoa(pid)] {
		t.Errorf("the killed worker %d answered a load request; want all from the other worker", pid)
	}
}

// A worker that segfaults in the app: 502 for that request, then a replacement serves.
func TestFaultSegfault(t *testing.T) {
	s := faultsStart(t, "-w", "1")
	before, err := s.fetch("/pid")
	if err != nil || before.status != 200 {
		t.Fatalf("GET /pid = %+v, %v", before, err)
	}
	r, err := s.fetch("/segv")
	if err != nil || r.status != 502 {
		t.Errorf("GET /segv = %+v, %v; want 502", r, err)
	}
	expectReplacement(t, s, string(before.body))
	// The log names the signal, and faulthandler's dump shows where the app crashed.
	for _, want := range []string{"Worker (pid:" + string(before.body) + ") was sent SIGSEGV", "Fatal Python error: Segmentation fault", "in string_at"} {
		if !s.log.waitFor(want, 5*time.Second) {
			t.Errorf("error log lacks %q", want)
		}
	}
}

// A worker holds stdin, stdout, stderr and its own unix sockets, one per thread, and
// nothing of the master's: not its listener, not its log files.
func TestFaultNoFdLeakIntoWorkers(t *testing.T) {
	dir := t.TempDir()
	const threads = 3
	errorLog := filepath.Join(dir, "error.log")
	s := startNoWait(t, "--python", python(t), "--chdir", appsDir(t), "-w", "2",
		"--threads", strconv.Itoa(threads),
		"--access-logfile", filepath.Join(dir, "access.log"), "--error-logfile", errorLog,
		"--pid", filepath.Join(dir, "gonicorn.pid"), "faults")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if b, _ := os.ReadFile(errorLog); strings.Contains(string(b), "Booting worker with pid") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no worker booted within 30 s; log:\n%s", s.log)
		}
	}
	r, err := s.fetch("/fds")
	if err != nil || r.status != 200 {
		t.Fatalf("GET /fds = %+v, %v", r, err)
	}
	socketRe := regexp.MustCompile(`^socket:\[\d+\]$`)
	sockets := 0
	for _, l := range strings.Split(string(r.body), "\n") {
		fd, target, _ := strings.Cut(l, " ")
		n, err := strconv.Atoi(fd)
		if err != nil {
			t.Errorf("bad line %q", l)
			continue
		}
		switch {
		case n <= 2:
			// stdin, stdout, stderr: whatever the master gave (/dev/null, its output pipe)
			if strings.HasPrefix(target, "socket:") || strings.HasSuffix(target, ".log") {
				t.Errorf("fd %d is %s; want /dev/null or a pipe", n, target)
			}
		case socketRe.MatchString(target):
			sockets++
		default:
			t.Errorf("worker has fd %d open on %s; want only 0-2 and its own sockets", n, target)
		}
	}
	if sockets != threads {
		t.Errorf("worker holds %d sockets; want %d (one per thread):\n%s", sockets, threads, r.body)
	}
}
