package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// tryDo sends one request on a new connection (network "tcp" or "unix") and reads the
// response. Unlike server.do it reports errors instead of failing the test, so it can run
// in any goroutine.
func tryDo(network, addr, req string) (*response, error) {
	c, err := net.Dial(network, addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		return nil, err
	}
	method, _, _ := strings.Cut(req, " ")
	return readResponse(bufio.NewReader(c), method)
}

func tryGet(addr, path string) (*response, error) {
	return tryDo("tcp", addr, "GET "+path+" HTTP/1.1\r\nHost: test\r\n\r\n")
}

var bootLine = regexp.MustCompile(`Booting worker with pid: (\d+)`)

// workerPIDs returns the pids of the workers the log reports as booted.
func (s *server) workerPIDs() []int {
	var pids []int
	for _, m := range bootLine.FindAllStringSubmatch(s.log.String(), -1) {
		pid, _ := strconv.Atoi(m[1])
		pids = append(pids, pid)
	}
	return pids
}

// waitWorkers waits until the log reports n booted workers and returns their pids.
func (s *server) waitWorkers(n int) []int {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if pids := s.workerPIDs(); len(pids) >= n {
			return pids
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%d workers not booted after 30 s; log:\n%s", n, s.log)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitExit waits up to timeout for the master to exit and returns its exit error.
func (s *server) waitExit(timeout time.Duration) (exited bool, err error) {
	select {
	case <-s.done:
		return true, s.err
	case <-time.After(timeout):
		return false, nil
	}
}

// waitAllGone waits up to timeout for every pid to end, and reports those that did not.
func waitAllGone(t *testing.T, pids []int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for _, pid := range pids {
		for !processGone(pid) {
			if time.Now().After(deadline) {
				t.Errorf("process %d still running %v later", pid, timeout)
				syscall.Kill(pid, syscall.SIGKILL)
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// processGone reports whether pid no longer runs: it does not exist, or it is a zombie
// waiting for its new parent to reap it.
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// /proc/PID/stat: "pid (comm) state ..."; comm may contain spaces and parentheses.
	i := strings.LastIndexByte(string(stat), ')')
	return i >= 0 && i+2 < len(stat) && (stat[i+2] == 'Z' || stat[i+2] == 'X')
}

func startLifecycle(t *testing.T, args ...string) *server {
	t.Helper()
	args = append([]string{"--python", realPython(t), "--chdir", appsDir(t)}, args...)
	return start(t, append(args, "lifecycle")...)
}

// Lines a worker prints (at import, before its handshake) reach the error log, tagged with
// that worker's pid as gunicorn's log lines are.
func TestWorkerOutputTagged(t *testing.T) {
	s := startLifecycle(t, "-w", "2")
	for _, pid := range s.waitWorkers(2) {
		for _, line := range []string{"lifecycle app: hello on stdout", "lifecycle app: hello on stderr"} {
			want := fmt.Sprintf("] [%d] [INFO] %s", pid, line)
			if !s.log.waitFor(want, 5*time.Second) {
				t.Errorf("log lacks %q; log:\n%s", want, s.log)
			}
		}
	}
}

// SIGTERM with a request in the app: the request completes with 200, then the master
// exits 0.
func TestGracefulStopFinishesRequest(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "release")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	s := startLifecycle(t, "-e", "LIFECYCLE_FIFO="+fifo, "--graceful-timeout", "10")

	type result struct {
		r   *response
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := tryGet(s.addr, "/slow")
		done <- result{r, err}
	}()
	// Opening the FIFO for writing returns once the app opened it for reading: the request
	// is in the app.
	opened := make(chan *os.File, 1)
	go func() {
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
		}
		opened <- w
	}()
	var w *os.File
	select {
	case w = <-opened:
	case <-time.After(10 * time.Second):
		// Unblock the open, so that no goroutine is left behind.
		r, _ := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
		if w = <-opened; w != nil {
			w.Close()
		}
		r.Close()
		t.Fatalf("GET /slow did not reach the app in 10 s; log:\n%s", s.log)
	}
	if w == nil {
		t.FailNow()
	}
	defer w.Close() // releases the app if the test fails early
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGTERM)
	if !s.log.waitFor("Handling signal: term", 5*time.Second) {
		t.Errorf("no \"Handling signal: term\" in the log")
	}
	// The listener is closed at once: new connections are refused while the request in
	// flight goes on (the harness holds no copy of the listening socket).
	refused := false
	for deadline := time.Now().Add(5 * time.Second); !refused && time.Now().Before(deadline); {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			refused = true
			break
		}
		c.Close()
		time.Sleep(10 * time.Millisecond)
	}
	if !refused {
		t.Errorf("%s still accepts connections 5 s after SIGTERM", s.addr)
	}
	select {
	case res := <-done:
		t.Fatalf("the request ended before the app returned: %v %v", res.r, res.err)
	case <-s.done:
		t.Fatalf("the master exited with a request in flight: %v", s.err)
	case <-time.After(100 * time.Millisecond):
	}
	w.Write([]byte("go"))
	w.Close()

	res := <-done
	if res.err != nil || res.r.status != 200 || string(res.r.body) != "slow done" {
		t.Fatalf("GET /slow across a graceful stop = %+v, %v; want 200 \"slow done\"", res.r, res.err)
	}
	if c := res.r.header("Connection"); c != "close" {
		t.Errorf("GET /slow answered during a graceful stop with Connection %q; want close", c)
	}
	exited, err := s.waitExit(10 * time.Second)
	if !exited {
		t.Fatalf("master still running 10 s after SIGTERM and the last request")
	}
	if err != nil {
		t.Errorf("master exit = %v; want status 0", err)
	}
}

// An idle server stops at once on SIGTERM, with status 0.
func TestTermIdleExits(t *testing.T) {
	s := startLifecycle(t, "-w", "2")
	s.waitWorkers(2)
	if r := s.get("/"); r.status != 200 {
		t.Fatalf("GET / = %d", r.status)
	}
	begin := time.Now()
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGTERM)
	exited, err := s.waitExit(2 * time.Second)
	if !exited {
		t.Fatalf("idle master still running 2 s after SIGTERM; log:\n%s", s.log)
	}
	if err != nil {
		t.Errorf("master exit = %v; want status 0", err)
	}
	t.Logf("stopped in %v", time.Since(begin).Round(time.Millisecond))
	if !strings.Contains(s.log.String(), "Shutting down: Master") {
		t.Errorf("log lacks \"Shutting down: Master\"")
	}
}

// A master killed with SIGKILL leaves no worker behind.
func TestKillMasterNoOrphans(t *testing.T) {
	s := startLifecycle(t, "-w", "2", "--threads", "2")
	pids := s.waitWorkers(2)
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGKILL)
	if exited, _ := s.waitExit(5 * time.Second); !exited {
		t.Fatal("master still running after SIGKILL")
	}
	exited := time.Now()
	waitAllGone(t, pids, 2*time.Second)
	t.Logf("workers gone %v after the master exited", time.Since(exited).Round(time.Millisecond))
}

// A connection accepted before SIGTERM whose request arrives a moment later (the client of a
// load balancer, or of the other master during a binary upgrade) gets its answer, not a
// reset; a connection that stays silent does not hold the stop up for --graceful-timeout.
func TestTermServesFirstRequestOfNewConnection(t *testing.T) {
	s := startLifecycle(t, "-w", "1", "--graceful-timeout", "20")
	s.waitWorkers(1)
	late, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer late.Close()
	silent, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	// Both are accepted (a request on a third connection is answered after them).
	if r := s.get("/"); r.status != 200 {
		t.Fatalf("GET / = %d", r.status)
	}
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGTERM)
	if !s.log.waitFor("Handling signal: term", 5*time.Second) {
		t.Fatal("no \"Handling signal: term\" in the log")
	}
	time.Sleep(300 * time.Millisecond)
	late.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(late, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatalf("writing the late request: %v", err)
	}
	r, err := readResponse(bufio.NewReader(late), "GET")
	if err != nil {
		t.Fatalf("late request on a connection accepted before TERM: %v; want an answer", err)
	}
	if r.status != 200 || !strings.EqualFold(r.header("Connection"), "close") {
		t.Errorf("late request: status %d, Connection %q; want 200 and close", r.status, r.header("Connection"))
	}
	// The silent connection is closed about 2 s after it was accepted, well before
	// --graceful-timeout; then the master exits.
	exited, err := s.waitExit(10 * time.Second)
	if !exited {
		t.Fatalf("master still running 10 s after SIGTERM with a silent connection open; log:\n%s", s.log)
	}
	if err != nil {
		t.Errorf("master exit = %v; want status 0", err)
	}
}
