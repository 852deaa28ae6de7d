package e2e

// End-to-end tests of supervision (issue 4): a hung request is ended by --timeout with the
// worker's stacks in the log, and workers are recycled by --max-requests,
// --max-worker-lifetime and --max-worker-memory without a failed request
// (test/apps/supervise.py).

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fetch is a GET on a new connection that reports failures instead of failing the test, for
// load goroutines.
func (s *server) fetch(path string) (*response, error) {
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: t\r\n\r\n"); err != nil {
		return nil, err
	}
	return readResponse(bufio.NewReader(c), "GET")
}

// loadResult is what the clients of runLoad saw.
type loadResult struct {
	mu       sync.Mutex
	ok       int
	failures []string
	pids     map[string]bool // worker pids that answered
	perPID   map[string]int  // requests each worker pid answered
}

// runLoad runs clients that GET path in a loop, pausing pause between requests, until at least
// min requests were answered and done reports true, or the deadline passes.
func runLoad(s *server, clients int, path string, pause time.Duration, min int, done func() bool, deadline time.Duration) *loadResult {
	res := &loadResult{pids: map[string]bool{}, perPID: map[string]int{}}
	end := time.Now().Add(deadline)
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				res.mu.Lock()
				enough := res.ok+len(res.failures) >= min
				res.mu.Unlock()
				if enough && done() {
					return
				}
				r, err := s.fetch(path)
				res.mu.Lock()
				switch {
				case err != nil:
					res.failures = append(res.failures, err.Error())
				case r.status != 200:
					res.failures = append(res.failures, fmt.Sprintf("status %d: %q", r.status, r.body))
				default:
					res.ok++
					res.pids[string(r.body)] = true
					res.perPID[string(r.body)]++
				}
				res.mu.Unlock()
				time.Sleep(pause)
			}
		}()
	}
	wg.Wait()
	return res
}

func (res *loadResult) check(t *testing.T, min int) {
	t.Helper()
	if len(res.failures) > 0 {
		t.Errorf("%d of %d requests failed; first: %s", len(res.failures), res.ok+len(res.failures), res.failures[0])
	}
	if res.ok < min {
		t.Errorf("%d requests answered; want at least %d", res.ok, min)
	}
}

func TestTimeoutKillsHungWorker(t *testing.T) {
	s := pepStart(t, "supervise", "-w", "1", "--timeout", "1")
	before := s.get("/pid")
	if before.status != 200 {
		t.Fatalf("GET /pid = %d", before.status)
	}

	// A request pipelined on the hung worker's only slot was never started by it: when the
	// worker is killed, it is sent again and the replacement answers it.
	hung := make(chan *response, 1)
	go func() {
		r, err := s.fetch("/hang")
		if err != nil {
			r = &response{status: -1, body: []byte(err.Error())}
		}
		hung <- r
	}()
	if !s.log.waitFor("supervise: hanging", 5*time.Second) {
		t.Fatal("the app never reached hang_forever_here")
	}
	behind, err := s.fetch("/pid")
	if err != nil {
		t.Fatalf("GET /pid behind the hung request: %v", err)
	}
	if behind.status != 200 || string(behind.body) == string(before.body) {
		t.Errorf("GET /pid pipelined behind the hung request = %d from pid %s; want 200 from the replacement (hung worker %s)", behind.status, behind.body, before.body)
	}
	if !s.log.waitFor("Sending a request again: the worker it was queued on died before starting it", time.Second) {
		t.Error("error log lacks the line for the request sent again")
	}

	start := time.Now()
	r := <-hung
	if r.status != 504 {
		t.Errorf("GET /hang = %d %q; want 504", r.status, r.body)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("504 came %v after the hang began; want about 1 s (--timeout 1)", d)
	}
	for _, want := range []string{
		"[CRITICAL] WORKER TIMEOUT (pid:" + string(before.body) + ")",
		`request="GET /hang HTTP/1.1"`,
		"in hang_forever_here", // faulthandler's stack dump, tagged with the worker's pid
	} {
		if !s.log.waitFor(want, 5*time.Second) {
			t.Errorf("error log lacks %q", want)
		}
	}

	// A replacement worker serves the next request.
	if !s.waitForLogCount("Booting worker", 2, 10*time.Second) {
		t.Fatal("no replacement worker booted")
	}
	after := s.get("/pid")
	if after.status != 200 || string(after.body) == string(before.body) {
		t.Errorf("GET /pid after the timeout = %d from pid %s; want 200 from a new worker (old %s)", after.status, after.body, before.body)
	}
}

// TestTimeoutAfterResponseStarted checks that a request that times out after its first
// block only loses its connection: the chunked body has no last chunk (RFC 9112 §7.1).
func TestTimeoutAfterResponseStarted(t *testing.T) {
	s := pepStart(t, "supervise", "-w", "1", "--timeout", "1")
	c := pepDial(t, s)
	io.WriteString(c, "GET /hang-after HTTP/1.1\r\nHost: t\r\n\r\n")
	out := readUntilQuiet(c, 5*time.Second)
	if !strings.HasPrefix(out, "HTTP/1.1 200") || !strings.Contains(out, "block1") {
		t.Fatalf("response = %q; want a 200 with block1", out)
	}
	if strings.Contains(out, "\r\n0\r\n\r\n") || strings.Contains(out, " 504 ") {
		t.Errorf("response = %q; want it cut short after block1, without a last chunk or a 504", out)
	}
	if !s.log.waitFor("WORKER TIMEOUT", 5*time.Second) {
		t.Error("no WORKER TIMEOUT in the log")
	}
	if r := s.get("/pid"); r.status != 200 {
		t.Errorf("GET /pid after the timeout = %d; want 200", r.status)
	}
}

func TestMaxRequestsRecyclesWithoutFailures(t *testing.T) {
	s := pepStart(t, "supervise", "-w", "2", "--max-requests", "5")
	// Load continues until workers were replaced during it, so that the recycling is seen
	// to fail no request. A worker takes 5 requests at most, so the rate is bounded by how
	// fast replacements boot (seconds on a loaded machine): few requests, a long deadline.
	res := runLoad(s, 4, "/pid?sleep=0.005", 0, 20, func() bool { return s.logCount("Worker exiting") >= 2 }, 30*time.Second)
	res.check(t, 20)
	if n := s.logCount("Worker exiting"); n < 2 {
		t.Errorf("%d workers exited under load; want at least 2", n)
	}
	for _, want := range []string{"Autorestarting worker (pid:", "of its 5 requests (max-requests)"} {
		if !strings.Contains(s.log.String(), want) {
			t.Errorf("error log lacks %q", want)
		}
	}
	if n := s.logCount("Booting worker"); n < 4 {
		t.Errorf("%d workers booted; want at least 4 (2 + replacements)", n)
	}
	if len(res.pids) < 3 {
		t.Errorf("answers came from %d worker pids; want at least 3", len(res.pids))
	}
}

func TestMaxWorkerLifetime(t *testing.T) {
	s := pepStart(t, "supervise", "-w", "2", "--max-worker-lifetime", "2")
	res := runLoad(s, 2, "/pid", 20*time.Millisecond, 20, func() bool { return s.logCount("Worker exiting") >= 2 }, 8*time.Second)
	res.check(t, 20)
	if n := s.logCount("Worker exiting"); n < 2 {
		t.Errorf("%d workers exited; want at least 2 recycled by age", n)
	}
	if !strings.Contains(s.log.String(), "above max-worker-lifetime 2s") {
		t.Error("error log lacks the lifetime recycling line")
	}
}

func TestMaxWorkerMemory(t *testing.T) {
	s := pepStart(t, "supervise", "-w", "1", "--max-worker-memory", "60")
	res := runLoad(s, 1, "/leak", 50*time.Millisecond, 10, func() bool { return s.logCount("Worker exiting") >= 1 }, 8*time.Second)
	res.check(t, 10)
	if !s.log.waitFor("MiB above max-worker-memory 60 MiB", time.Second) {
		t.Error("error log lacks the memory recycling line with the RSS")
	}
	if n := s.logCount("Worker exiting"); n < 1 {
		t.Error("the leaking worker was not replaced")
	}
}

// A worker above --max-worker-memory right after boot (here an 80 MiB import against a
// 60 MiB limit) is not recycled for memory: its replacement would be as big, so it used to
// be replaced every second forever. Each worker is logged once with a warning, keeps
// serving, and nothing is autorestarted.
func TestMaxWorkerMemoryBelowBaseline(t *testing.T) {
	s := pepStart(t, "supervise", "-w", "2", "--max-worker-memory", "60", "-e", "SUPERVISE_BALLAST_MIB=80")
	s.waitWorkers(2)
	const warning = "MiB right after boot, above --max-worker-memory 60 MiB"
	// Requests keep coming for 3 s, three times the check interval.
	res := runLoad(s, 2, "/pid", 20*time.Millisecond, 20, func() bool { return false }, 3*time.Second)
	res.check(t, 20)
	if n := s.logCount(warning); n != 2 {
		t.Errorf("%d warnings %q; want one per worker (2):\n%s", n, warning, s.log)
	}
	if n := s.logCount("Autorestarting worker"); n != 0 {
		t.Errorf("%d workers autorestarted; want none (a replacement is as big as its predecessor):\n%s", n, s.log)
	}
	if n := s.logCount("Booting worker with pid"); n != 2 {
		t.Errorf("%d workers booted; want 2", n)
	}
	if len(res.pids) != 2 {
		t.Errorf("answers came from %d worker pids; want the 2 first workers", len(res.pids))
	}
}

// TestTimeoutOtherThreadsGet502 checks the documented cost of a timeout with --threads > 1:
// a request another thread of the killed worker is running fails with 502.
func TestTimeoutOtherThreadsGet502(t *testing.T) {
	s := pepStart(t, "supervise", "-w", "1", "--threads", "2", "--timeout", "2")
	hung := make(chan *response, 1)
	go func() {
		r, err := s.fetch("/hang")
		if err != nil {
			r = &response{status: -1, body: []byte(err.Error())}
		}
		hung <- r
	}()
	if !s.log.waitFor("supervise: hanging", 5*time.Second) {
		t.Fatal("the app never reached hang_forever_here")
	}
	// The second request starts half a second later, so that the hung one reaches its
	// timeout (at 2 s) and the worker is killed (150 ms later) well before this one's own
	// timeout (at 2.5 s): it fails because its process was killed, not for its own time.
	time.Sleep(500 * time.Millisecond)
	other, err := s.fetch("/pid?sleep=5")
	if err != nil {
		t.Fatal(err)
	}
	if other.status != 502 {
		t.Errorf("GET /pid?sleep=5 on the other thread = %d; want 502", other.status)
	}
	if r := <-hung; r.status != 504 {
		t.Errorf("GET /hang = %d; want 504", r.status)
	}
	if r := s.get("/pid"); r.status != 200 {
		t.Errorf("GET /pid after the timeout = %d; want 200 from a replacement", r.status)
	}
}

// TestRetiredWorkerDrainTimeout: with --timeout 0 nothing ends a hung request, so a worker
// retired by a reload (or recycling, or TTOU) would never exit; --graceful-timeout bounds
// its drain, as gunicorn's bounds its old workers on HUP.
func TestRetiredWorkerDrainTimeout(t *testing.T) {
	s := pepStart(t, "supervise", "-w", "1", "--timeout", "0", "--graceful-timeout", "1")
	old := s.get("/pid")
	if old.status != 200 {
		t.Fatalf("GET /pid = %d", old.status)
	}
	hung := goFetch(s, "/hang")
	if !s.log.waitFor("supervise: hanging", 5*time.Second) {
		t.Fatal("the app never reached hang_forever_here")
	}
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGHUP)
	select {
	case f := <-hung:
		if f.err != nil || f.r.status != 502 {
			t.Errorf("hung request on the retired worker = %+v, %v; want 502", f.r, f.err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the retired worker's hung request was not ended 15 s after HUP (--graceful-timeout 1)")
	}
	for _, want := range []string{
		"Worker (pid:" + string(old.body) + ") did not finish its requests within the drain timeout",
		"Worker (pid:" + string(old.body) + ") was sent SIGKILL after the drain timeout (--graceful-timeout)",
	} {
		if !s.log.waitFor(want, 5*time.Second) {
			t.Errorf("error log lacks %q", want)
		}
	}
	if r := s.get("/pid"); r.status != 200 || string(r.body) == string(old.body) {
		t.Errorf("GET /pid after the reload = %d from pid %s; want 200 from the new worker (old %s)", r.status, r.body, old.body)
	}
}

// grandchild asks the worker for /grandchild: it starts `sleep 300` that inherits the worker's
// stdout and stderr, as subprocess.Popen does without redirection. It returns the worker's
// pid and the grandchild's, which is killed at cleanup.
func grandchild(t *testing.T, s *server) (worker, child int) {
	t.Helper()
	r := s.get("/grandchild")
	if r.status != 200 {
		t.Fatalf("GET /grandchild = %d %q", r.status, r.body)
	}
	if _, err := fmt.Sscanf(string(r.body), "%d %d", &worker, &child); err != nil || worker <= 1 || child <= 1 {
		t.Fatalf("GET /grandchild = %q; want two pids", r.body)
	}
	t.Cleanup(func() { syscall.Kill(child, syscall.SIGKILL) })
	return worker, child
}

// A worker that dies while a process it started holds its output pipe (issue 9, item 7) is
// reaped and replaced at once: reaping does not wait for the pipe's EOF. With -w 1 the server
// used to be left without a worker, answering 503, until the grandchild ended.
func TestKilledWorkerWithGrandchildIsReplaced(t *testing.T) {
	s := pepStart(t, "supervise", "-w", "1")
	worker, _ := grandchild(t, s)
	if err := syscall.Kill(worker, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %d: %v", worker, err)
	}
	expectReplacement(t, s, strconv.Itoa(worker))
	if want := fmt.Sprintf("Worker (pid:%d) was sent SIGKILL", worker); !s.log.waitFor(want, 5*time.Second) {
		t.Errorf("error log lacks %q", want)
	}
}

// TERM stops the master although a worker's grandchild holds the worker's output pipe: the
// stop waits for the workers, not for the pipe (issue 9, item 7; it used to wait until the
// grandchild ended).
func TestStopWithGrandchild(t *testing.T) {
	s := pepStart(t, "supervise", "-w", "1")
	grandchild(t, s)
	if err := syscall.Kill(s.cmd.Process.Pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The grandchild sleeps 300 s; well before that is prompt.
	if exited, err := s.waitExit(15 * time.Second); !exited {
		t.Errorf("the master did not exit within 15 s of TERM while a grandchild held a worker's output")
	} else if err != nil {
		t.Errorf("the master exited with %v after TERM; want status 0", err)
	}
}

// A retired worker that does not exit when its sockets close (a non-daemon thread of the app
// keeps the interpreter alive; issue 9, item 8) gets TERM, and KILL after --graceful-timeout
// if TERM does not end it: every recycled worker is gone afterwards, none leaks.
func TestRecycledWorkerThatDoesNotExitIsStopped(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  []string
		exit string // the recycled worker's exit line, after "Worker (pid:N) "
	}{
		{"thread", []string{"-e", "SUPERVISE_THREAD=1"}, "was sent SIGTERM"},
		{"thread ignoring TERM", []string{"-e", "SUPERVISE_THREAD=1", "-e", "SUPERVISE_IGNORE_TERM=1"}, "was sent SIGKILL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := pepStart(t, "supervise", append([]string{"-w", "1", "--max-requests", "3", "--graceful-timeout", "1"}, tc.env...)...)
			seen := map[string]bool{}
			var order []string
			for end := time.Now().Add(30 * time.Second); len(seen) < 3 && time.Now().Before(end); {
				r, err := s.fetch("/pid")
				if err != nil || r.status != 200 {
					t.Fatalf("GET /pid = %+v, %v; want 200", r, err)
				}
				if pid := string(r.body); !seen[pid] {
					seen[pid] = true
					order = append(order, pid)
				}
			}
			if len(order) < 3 {
				t.Fatalf("answers came from %d worker pids in 30 s; want 3 (two recycled)", len(order))
			}
			for _, p := range order[:2] {
				pid, _ := strconv.Atoi(p)
				deadline := time.Now().Add(15 * time.Second)
				for !processGone(pid) && time.Now().Before(deadline) {
					time.Sleep(20 * time.Millisecond)
				}
				if !processGone(pid) {
					t.Errorf("recycled worker %d still runs 15 s after its replacement took over", pid)
				}
				if want := "Worker (pid:" + p + ") " + tc.exit; !s.log.waitFor(want, 5*time.Second) {
					t.Errorf("error log lacks %q", want)
				}
			}
		})
	}
}

// --max-requests is a cap (issue 9, item 9): under load from several clients no worker
// answers more than max-requests + max-requests-jitter requests, and no request fails. With
// one worker, requests wait in the queue while its replacement boots.
func TestMaxRequestsIsACap(t *testing.T) {
	for _, workers := range []string{"2", "1"} {
		t.Run("w"+workers, func(t *testing.T) {
			s := pepStart(t, "supervise", "-w", workers, "--max-requests", "20", "--max-requests-jitter", "5")
			// A worker takes 25 requests at most, so the rate is bounded by how fast
			// replacements boot (seconds on a loaded machine): 100 requests need 4 workers.
			res := runLoad(s, 6, "/pid", 0, 100, func() bool { return s.logCount("Worker exiting") >= 3 }, 60*time.Second)
			res.check(t, 100)
			for pid, n := range res.perPID {
				if n > 25 {
					t.Errorf("worker %s answered %d requests; want at most 25 (max-requests 20 + jitter 5)", pid, n)
				}
			}
			if n := s.logCount("Worker exiting"); n < 3 {
				t.Errorf("%d workers recycled under load; want at least 3", n)
			}
		})
	}
}

// The exit line of a worker the master killed because it broke the worker protocol says so
// (issue 9, item 10), instead of gunicorn's out-of-memory guess for a SIGKILL it did not send.
func TestProtocolErrorExitLine(t *testing.T) {
	s := pepStart(t, "supervise", "-w", "1", "--threads", "1")
	old := s.get("/pid")
	if r := s.get("/break"); r.status != 502 {
		t.Errorf("GET /break = %d; want 502 (a protocol error)", r.status)
	}
	want := "Worker (pid:" + string(old.body) + ") was sent SIGKILL after it broke the worker protocol"
	if !s.log.waitFor(want, 10*time.Second) {
		t.Errorf("error log lacks %q", want)
	}
	if strings.Contains(s.log.String(), "Perhaps out of memory") {
		t.Errorf("the exit line blames the OOM killer for a worker the master killed")
	}
	expectReplacement(t, s, string(old.body))
}
