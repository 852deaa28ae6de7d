package e2e

// End-to-end tests of the queue and the master's signals (issue 4): --max-queue and
// --queue-timeout, a graceful stop that finishes queued requests, HUP reload under load,
// TTIN/TTOU, USR1 log reopening, --pid, a boot crash loop and stack dumps on SIGPWR
// (test/apps/ops.py).

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fetched is the outcome of one request made in the background.
type fetched struct {
	r   *response
	err error
}

// goFetch GETs path in a new goroutine.
func goFetch(s *server, path string) <-chan fetched {
	ch := make(chan fetched, 1)
	go func() {
		r, err := s.fetch(path)
		ch <- fetched{r, err}
	}()
	return ch
}

// opsStart runs test/apps/ops.py; the file gate opens its /gate requests.
func opsStart(t *testing.T, gate string, flags ...string) *server {
	t.Helper()
	return pepStart(t, "ops", append([]string{"-e", "OPS_GATE=" + gate}, flags...)...)
}

func openGate(t *testing.T, gate string) {
	t.Helper()
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// pending sends the requests /n?i=1..n one after another, checking each is not answered while
// the worker is held at the gate: it waits on the worker's socket (pipelined, up to 3 behind
// the held request) or in the queue. The pause between them fixes their order.
func pending(t *testing.T, s *server, n int) []<-chan fetched {
	t.Helper()
	var chs []<-chan fetched
	for i := 1; i <= n; i++ {
		ch := goFetch(s, fmt.Sprintf("/n?i=%d", i))
		select {
		case f := <-ch:
			t.Fatalf("GET /n?i=%d answered while the only worker is held: %+v %v", i, f.r, f.err)
		case <-time.After(100 * time.Millisecond):
		}
		chs = append(chs, ch)
	}
	return chs
}

// expectServedInOrder checks that the requests from pending were answered 200 in the order
// they were sent (K = i + first).
func expectServedInOrder(t *testing.T, chs []<-chan fetched, first int) {
	t.Helper()
	for i, ch := range chs {
		f := <-ch
		want := fmt.Sprintf("%d %d", i+1, i+1+first)
		if f.err != nil || f.r.status != 200 || string(f.r.body) != want {
			t.Errorf("GET /n?i=%d = %+v, %v; want 200 %q (first come, first served)", i+1, f.r, f.err, want)
		}
	}
}

// dialRefused waits until new connections to s are refused.
func dialRefused(s *server) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			return true
		}
		c.Close()
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// With one worker held, 3 requests are pipelined behind it and --max-queue 2 more wait in
// the queue; the next one gets 503 with Retry-After at once. Then SIGTERM: the listener
// closes, and every request in flight and queued is served, in order, before the master
// exits 0.
func TestMaxQueueThenTermDrainsQueue(t *testing.T) {
	gate := filepath.Join(t.TempDir(), "gate")
	s := opsStart(t, gate, "-w", "1", "--max-queue", "2", "--graceful-timeout", "20")
	held := goFetch(s, "/gate")
	if !s.log.waitFor("ops: at the gate", 10*time.Second) {
		t.Fatal("GET /gate never reached the app")
	}
	defer openGate(t, gate) // releases the worker if the test fails early
	waiting := pending(t, s, 5)

	begin := time.Now()
	r, err := s.fetch("/n?i=6")
	if err != nil {
		t.Fatal(err)
	}
	if r.status != 503 || r.header("Retry-After") == "" {
		t.Errorf("GET /n?i=6 with the queue full = %d (Retry-After %q); want 503 with Retry-After", r.status, r.header("Retry-After"))
	}
	if d := time.Since(begin); d > time.Second {
		t.Errorf("503 for a full queue took %v; want it at once", d)
	}

	syscall.Kill(s.cmd.Process.Pid, syscall.SIGTERM)
	if !s.log.waitFor("Handling signal: term", 5*time.Second) {
		t.Error(`no "Handling signal: term" in the log`)
	}
	if !dialRefused(s) {
		t.Errorf("%s still accepts connections 5 s after SIGTERM", s.addr)
	}
	openGate(t, gate)
	if f := <-held; f.err != nil || f.r.status != 200 {
		t.Errorf("GET /gate across SIGTERM = %+v, %v; want 200", f.r, f.err)
	}
	expectServedInOrder(t, waiting, 1)
	if exited, err := s.waitExit(10 * time.Second); !exited || err != nil {
		t.Errorf("master after SIGTERM: exited %v, %v; want exit status 0", exited, err)
	}
}

// A request that waits --queue-timeout in the queue gets 503; the ones pipelined on the
// worker's socket are not in the queue and are served once the worker is free.
func TestQueueTimeout(t *testing.T) {
	gate := filepath.Join(t.TempDir(), "gate")
	s := opsStart(t, gate, "-w", "1", "--queue-timeout", "1", "--access-logfile", "-")
	held := goFetch(s, "/gate")
	if !s.log.waitFor("ops: at the gate", 10*time.Second) {
		t.Fatal("GET /gate never reached the app")
	}
	defer openGate(t, gate)
	waiting := pending(t, s, 3)
	begin := time.Now()
	r, err := s.fetch("/n?i=4")
	if err != nil {
		t.Fatal(err)
	}
	d := time.Since(begin)
	if r.status != 503 || r.header("Retry-After") == "" {
		t.Errorf("GET /n?i=4 after waiting in the queue = %d (Retry-After %q); want 503 with Retry-After", r.status, r.header("Retry-After"))
	}
	if d < 900*time.Millisecond || d > 5*time.Second {
		t.Errorf("503 came after %v; want about 1 s (--queue-timeout 1)", d)
	}
	// The server's own 503 is access-logged too, with its body ("Service Unavailable\n").
	if !s.log.waitFor(`"GET /n?i=4 HTTP/1.1" 503 20 `, 5*time.Second) {
		t.Errorf("no access-log line for the 503")
	}
	openGate(t, gate)
	if f := <-held; f.err != nil || f.r.status != 200 {
		t.Errorf("GET /gate = %+v, %v; want 200", f.r, f.err)
	}
	expectServedInOrder(t, waiting, 1)
}

// SIGTERM with 20 requests in the app (2 workers × 10 threads) and 50 more waiting for a
// slot: all 70 complete, then the master exits 0.
func TestTermCompletesInFlightAndQueued(t *testing.T) {
	gate := filepath.Join(t.TempDir(), "gate")
	s := opsStart(t, gate, "-w", "2", "--threads", "10", "--graceful-timeout", "30")
	s.waitWorkers(2)
	defer openGate(t, gate)
	var all []<-chan fetched
	for i := 0; i < 70; i++ {
		all = append(all, goFetch(s, "/gate"))
	}
	if !s.waitForLogCount("ops: at the gate", 20, 10*time.Second) {
		t.Fatalf("%d requests reached the app; want 20", s.logCount("ops: at the gate"))
	}
	// The other 50 wait inside the server, where the test cannot see them; loopback
	// delivers them within milliseconds. This pause is the one sleep of the test.
	time.Sleep(300 * time.Millisecond)
	if n := s.logCount("ops: at the gate"); n != 20 {
		t.Fatalf("%d requests in the app; want 20 (one per thread)", n)
	}
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGTERM)
	if !s.log.waitFor("Handling signal: term", 5*time.Second) {
		t.Error(`no "Handling signal: term" in the log`)
	}
	if !dialRefused(s) {
		t.Errorf("%s still accepts connections 5 s after SIGTERM", s.addr)
	}
	openGate(t, gate)
	ok := 0
	for _, ch := range all {
		f := <-ch
		if f.err == nil && f.r.status == 200 && string(f.r.body) == "gate open" {
			ok++
		} else if ok+1 == len(all) || f.err != nil {
			t.Logf("a request failed: %+v %v", f.r, f.err)
		}
	}
	if ok != 70 {
		t.Errorf("%d of 70 requests completed across SIGTERM; want all", ok)
	}
	if exited, err := s.waitExit(10 * time.Second); !exited || err != nil {
		t.Errorf("master after SIGTERM: exited %v, %v; want exit status 0", exited, err)
	}
}

// SIGHUP under steady load: a new generation of workers imports the changed app file and
// takes over; no request fails, and the new code answers afterwards.
func TestHUPReloadsUnderLoad(t *testing.T) {
	dir := t.TempDir()
	app := filepath.Join(dir, "hupapp.py")
	write := func(version string) {
		src := fmt.Sprintf("def application(environ, start_response):\n    start_response('200 OK', [('Content-Type', 'text/plain')])\n    return [b%q]\n", version)
		if err := os.WriteFile(app, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("version one")
	s := start(t, "--python", python(t), "--chdir", dir, "-e", "PYTHONDONTWRITEBYTECODE=1", "-w", "2", "hupapp")
	s.waitWorkers(2)
	hupped := make(chan struct{})
	go func() {
		time.Sleep(300 * time.Millisecond) // some load on the first generation
		write("version two!")
		syscall.Kill(s.cmd.Process.Pid, syscall.SIGHUP)
		close(hupped)
	}()
	res := runLoad(s, 4, "/", 10*time.Millisecond, 100, func() bool {
		select {
		case <-hupped:
			return s.logCount("Worker exiting") >= 2
		default:
			return false
		}
	}, 10*time.Second)
	res.check(t, 100)
	if !res.pids["version one"] || !res.pids["version two!"] {
		t.Errorf("answers seen during the load: %v; want both versions", res.pids)
	}
	if r := s.get("/"); string(r.body) != "version two!" {
		t.Errorf("GET / after the reload = %d %q; want the new code", r.status, r.body)
	}
	for _, want := range []string{"Handling signal: hup", "Hang up: Master"} {
		if !strings.Contains(s.log.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if n := s.logCount("Booting worker"); n != 4 {
		t.Errorf("%d workers booted; want 4 (2 + a new generation of 2)", n)
	}
}

// SIGTTIN adds a worker, SIGTTOU retires one (the oldest), never below one.
func TestTTINAndTTOU(t *testing.T) {
	s := opsStart(t, "/nonexistent", "-w", "1")
	s.waitWorkers(1)
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGTTIN)
	if !s.waitForLogCount("Booting worker", 2, 10*time.Second) || !s.log.waitFor("Increasing number of workers to 2", time.Second) {
		t.Fatal("SIGTTIN did not add a worker")
	}
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGTTOU)
	if !s.log.waitFor("Worker exiting", 10*time.Second) || !strings.Contains(s.log.String(), "Decreasing number of workers to 1") {
		t.Fatal("SIGTTOU did not retire a worker")
	}
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGTTOU)
	if !s.log.waitFor("Not decreasing the number of workers below 1", 5*time.Second) {
		t.Error("SIGTTOU with one worker left was not refused")
	}
	if r := s.get("/pid"); r.status != 200 {
		t.Errorf("GET /pid = %d; want 200", r.status)
	}
	if n := s.logCount("Worker exiting"); n != 1 {
		t.Errorf("%d workers exited; want 1", n)
	}
}

// SIGUSR1 reopens the log files, so that logrotate can rename them; --pid writes the
// master's pid at start and removes the file at exit.
func TestUSR1ReopensLogsAndPIDFile(t *testing.T) {
	dir := t.TempDir()
	errLog, accessLog, pidFile := filepath.Join(dir, "error.log"), filepath.Join(dir, "access.log"), filepath.Join(dir, "gonicorn.pid")
	s := startNoWait(t, "--python", python(t), "--chdir", appsDir(t), "--error-logfile", errLog,
		"--access-logfile", accessLog, "--pid", pidFile, "-e", "OPS_GATE=/nonexistent", "ops")
	waitFile := func(path, sub string) bool {
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if b, _ := os.ReadFile(path); strings.Contains(string(b), sub) {
				return true
			}
		}
		return false
	}
	if !waitFile(errLog, "Booting worker") {
		t.Fatalf("no worker booted; error log: %s", readOr(errLog))
	}
	if b, err := os.ReadFile(pidFile); err != nil || strings.TrimSpace(string(b)) != fmt.Sprint(s.cmd.Process.Pid) {
		t.Errorf("--pid file = %q, %v; want %d", b, err, s.cmd.Process.Pid)
	}
	s.get("/pid?before")
	// The access-log line is written after the client has its response: wait for it, or it
	// may be written after the reopen, into the new file.
	if !waitFile(accessLog, "GET /pid?before") {
		t.Fatalf("access log lacks the request before SIGUSR1: %q", readOr(accessLog))
	}
	for _, p := range []string{errLog, accessLog} {
		if err := os.Rename(p, p+".1"); err != nil {
			t.Fatal(err)
		}
	}
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGUSR1)
	if !waitFile(errLog+".1", "Handling signal: usr1") || !waitFile(errLog, "Reopened log files") {
		t.Fatalf("no new error log after SIGUSR1; old one: %s", readOr(errLog+".1"))
	}
	s.get("/pid?after")
	if !waitFile(accessLog, "GET /pid?after") {
		t.Errorf("new access log lacks the request after SIGUSR1: %q", readOr(accessLog))
	}
	if !strings.Contains(readOr(accessLog+".1"), "GET /pid?before") {
		t.Errorf("rotated access log lacks the request before SIGUSR1")
	}
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGTERM)
	if exited, err := s.waitExit(10 * time.Second); !exited || err != nil {
		t.Fatalf("master after SIGTERM: exited %v, %v", exited, err)
	}
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Errorf("--pid file still there after exit: %v", err)
	}
}

func readOr(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// A worker that dies right after every boot is respawned with growing backoff, logged each
// time; after --max-boot-failures in a row the master exits with status 3 and says why.
func TestBootCrashLoopGivesUp(t *testing.T) {
	s := startNoWait(t, "--python", python(t), "--chdir", appsDir(t), "-e", "OPS_CRASH=1",
		"-e", "OPS_GATE=/nonexistent", "--max-boot-failures", "3", "ops")
	exited, err := s.waitExit(20 * time.Second)
	if !exited {
		t.Fatalf("master still running 20 s into a crash loop; log:\n%s", s.log)
	}
	if code := exitCode(err); code != 3 {
		t.Errorf("master exit = %v; want status 3", err)
	}
	for _, want := range []string{
		"Respawning worker in 100ms", "Respawning worker in 200ms",
		"Worker boot failure 3 in a row (--max-boot-failures 3)",
		"3 workers in a row died within 5s of booting",
	} {
		if !strings.Contains(s.log.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}
}

func exitCode(err error) int {
	if ee, ok := err.(interface{ ExitCode() int }); ok {
		return ee.ExitCode()
	}
	if err == nil {
		return 0
	}
	return -1
}

// SIGPWR makes every worker print its Python stacks into the error log: the stack of a
// request held in the app names the function it waits in, and the request goes on.
func TestStackDumpOnDemand(t *testing.T) {
	gate := filepath.Join(t.TempDir(), "gate")
	s := opsStart(t, gate, "-w", "2")
	s.waitWorkers(2)
	defer openGate(t, gate)
	held := goFetch(s, "/gate")
	if !s.log.waitFor("ops: at the gate", 10*time.Second) {
		t.Fatal("GET /gate never reached the app")
	}
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGPWR)
	for _, want := range []string{"Handling signal: pwr", "in wait_at_the_gate", "in application"} {
		if !s.log.waitFor(want, 5*time.Second) {
			t.Errorf("log lacks %q", want)
		}
	}
	if n := s.logCount("Dumping the stacks of worker (pid:"); n != 2 {
		t.Errorf("%d workers asked for a stack dump; want 2", n)
	}
	openGate(t, gate)
	if f := <-held; f.err != nil || f.r.status != 200 {
		t.Errorf("GET /gate after the dump = %+v, %v; want 200", f.r, f.err)
	}
	if n := s.logCount("Booting worker"); n != 2 {
		t.Errorf("%d workers booted; want 2 (a dump kills none)", n)
	}
}

// SIGQUIT and SIGINT stop at once (gunicorn's quick shutdown), without waiting for the
// request in the app; either cuts a SIGTERM drain short; a request still running at the end
// of --graceful-timeout does not hold the master up.
func TestQuitAndIntAreFast(t *testing.T) {
	for _, tc := range []struct {
		name  string
		grace string
		sigs  []syscall.Signal
	}{
		{"QUIT", "30", []syscall.Signal{syscall.SIGQUIT}},
		{"INT", "30", []syscall.Signal{syscall.SIGINT}},
		{"TERM INT", "30", []syscall.Signal{syscall.SIGTERM, syscall.SIGINT}},
		{"TERM QUIT", "30", []syscall.Signal{syscall.SIGTERM, syscall.SIGQUIT}},
		{"TERM past graceful-timeout", "1", []syscall.Signal{syscall.SIGTERM}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gate := filepath.Join(t.TempDir(), "gate")
			s := opsStart(t, gate, "--graceful-timeout", tc.grace)
			defer openGate(t, gate)
			held := goFetch(s, "/gate")
			if !s.log.waitFor("ops: at the gate", 10*time.Second) {
				t.Fatal("GET /gate never reached the app")
			}
			for i, sig := range tc.sigs {
				if i > 0 {
					// TERM is a graceful stop: the master waits for the request.
					if exited, _ := s.waitExit(300 * time.Millisecond); exited {
						t.Fatal("master exited on SIGTERM with a request in the app")
					}
				}
				syscall.Kill(s.cmd.Process.Pid, sig)
			}
			if exited, err := s.waitExit(5 * time.Second); !exited || err != nil {
				t.Fatalf("master after %s: exited %v, %v; want a fast exit with status 0", tc.name, exited, err)
			}
			if f := <-held; f.err == nil && f.r.status == 200 {
				t.Errorf("GET /gate = 200 across a fast stop; want it cut off")
			}
		})
	}
}

// A reload whose new code fails to import keeps the running workers and their code.
func TestHUPWithBrokenCodeKeepsServing(t *testing.T) {
	dir := t.TempDir()
	app := filepath.Join(dir, "hupapp.py")
	if err := os.WriteFile(app, []byte("def application(environ, start_response):\n    start_response('200 OK', [])\n    return [b'good']\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := start(t, "--python", python(t), "--chdir", dir, "-e", "PYTHONDONTWRITEBYTECODE=1", "-w", "2", "hupapp")
	s.waitWorkers(2)
	if err := os.WriteFile(app, []byte("this is not python\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGHUP)
	if !s.log.waitFor("Reload failed; the running workers keep serving the previous code", 20*time.Second) {
		t.Fatal("no reload failure in the log")
	}
	if r := s.get("/"); r.status != 200 || string(r.body) != "good" {
		t.Errorf("GET / after a failed reload = %d %q; want 200 \"good\" from the old workers", r.status, r.body)
	}
	if exited, err := s.waitExit(0); exited {
		t.Errorf("master exited after a failed reload: %v", err)
	}
}
