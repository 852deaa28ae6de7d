package e2e

// Fault injection (test/apps/faults.py): a worker killed with SIGKILL in the middle of a
// request, a worker that segfaults, and the file descriptors a worker inherits.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
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

// holdWorker starts a request (/hold) that blocks in the app until the test ends, and returns
// its result-to-be and the pid of the worker running it.
func holdWorker(t *testing.T, s *server) (<-chan fetched, int) {
	t.Helper()
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
	return held, pid
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
	held, pid := holdWorker(t, s)
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
	// A SIGKILL the master did not send gets gunicorn's hint.
	if want := fmt.Sprintf("Worker (pid:%d) was sent SIGKILL! Perhaps out of memory?", pid); !s.log.waitFor(want, 5*time.Second) {
		t.Errorf("error log lacks %q", want)
	}
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

// Requests pipelined behind one whose worker is killed were never started by that worker:
// they are sent again and the replacement answers them, bodies intact, whether the body
// travels in the frame (small or big) or in a file (above the default --body-memory of 1 MiB).
func TestFaultPipelinedRequestsSentAgain(t *testing.T) {
	s := faultsStart(t, "-w", "1")
	held, p := holdWorker(t, s)
	pid := strconv.Itoa(p)

	// Three requests pipelined on the held worker's only slot (depth 4).
	sizes := []int{1000, 200 << 10, 3 << 20}
	type answer struct {
		size int
		r    *response
		err  error
	}
	answers := make(chan answer, len(sizes))
	for _, n := range sizes {
		body := bytes.Repeat([]byte{byte('a' + n%26)}, n)
		go func() {
			r, err := tryDo("tcp", s.addr, fmt.Sprintf("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%s", n, body))
			answers <- answer{n, r, err}
		}()
	}
	// Give the master time to read the three (3 MB over loopback takes milliseconds) and
	// pipeline them on the slot; one still being read would wait in the queue instead.
	time.Sleep(time.Second)
	if err := syscall.Kill(p, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %d: %v", p, err)
	}
	if f := <-held; f.err != nil || f.r.status != 502 {
		t.Errorf("the request whose worker was killed = %+v, %v; want 502", f.r, f.err)
	}
	for range sizes {
		a := <-answers
		if a.err != nil {
			t.Errorf("POST /echo (%d bytes) behind the killed request: %v", a.size, a.err)
			continue
		}
		body := bytes.Repeat([]byte{byte('a' + a.size%26)}, a.size)
		want := fmt.Sprintf("%d %x", a.size, sha256.Sum256(body))
		got := strings.SplitN(string(a.r.body), " ", 2)
		if a.r.status != 200 || len(got) != 2 || got[0] == pid || got[1] != want {
			t.Errorf("POST /echo (%d bytes) behind the killed request = %d %q; want 200 \"NEWPID %s\" from the replacement", a.size, a.r.status, a.r.body, want)
		}
	}
	if n := s.logCount("Sending a request again"); n != len(sizes) {
		t.Errorf("%d requests sent again; want %d", n, len(sizes))
	}
}
