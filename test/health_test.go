package e2e

// End-to-end tests of the ops listener (issue 12, docs/operations.md): /livez and /readyz on
// --metrics-bind, and TERM's --shutdown-delay, also behind a real HAProxy doing a rolling
// restart.

import (
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startBound runs gonicorn on addr (--bind) with args and waits until its first worker is
// ready; it is stopped at test cleanup.
func startBound(t *testing.T, addr string, args ...string) *server {
	t.Helper()
	s := startBoundNoWait(t, addr, args...)
	s.waitReady()
	return s
}

func startBoundNoWait(t *testing.T, addr string, args ...string) *server {
	t.Helper()
	return launchAt(t, exec.Command(binary, append([]string{"--bind", addr}, args...)...), addr)
}

// probe GETs an ops endpoint and returns its status, or 0 if the request failed.
func probe(addr, path string) int {
	c := &http.Client{Timeout: 2 * time.Second}
	r, err := c.Get("http://" + addr + path)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, r.Body)
	r.Body.Close()
	return r.StatusCode
}

// waitProbe waits up to 10 s for path on addr to answer want.
func waitProbe(t *testing.T, addr, path string, want int) {
	t.Helper()
	got := 0
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if got = probe(addr, path); got == want {
			return
		}
	}
	t.Fatalf("GET %s on %s = %d; want %d within 10 s", path, addr, got, want)
}

// /livez answers while the only worker hangs; /readyz answers 200 while a worker serves and
// 503 as soon as TERM arrives; during --shutdown-delay new connections are still served;
// then the listener closes and the master exits 0.
func TestHealthAndShutdownDelay(t *testing.T) {
	gate := t.TempDir() + "/gate"
	metrics := freePort(t)
	s := opsStart(t, gate, "--metrics-bind", metrics, "--shutdown-delay", "3")
	waitProbe(t, metrics, "/readyz", 200)

	held := goFetch(s, "/gate")
	if !s.log.waitFor("ops: at the gate", 10*time.Second) {
		t.Fatal("the /gate request never reached the worker")
	}
	if got := probe(metrics, "/livez"); got != 200 {
		t.Errorf("/livez with the only worker hung = %d; want 200", got)
	}
	if got := probe(metrics, "/readyz"); got != 200 {
		t.Errorf("/readyz with the only worker busy = %d; want 200 (it is ready, only busy)", got)
	}
	if got := probe(s.addr, "/livez"); got == 200 {
		t.Errorf("/livez on the app's listener = 200; want it routed to the app (ops endpoints live on --metrics-bind only)")
	}
	openGate(t, gate)
	if f := <-held; f.err != nil || f.r.status != 200 {
		t.Fatalf("GET /gate = %+v, %v; want 200", f.r, f.err)
	}

	terminated := time.Now()
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGTERM)
	waitProbe(t, metrics, "/readyz", 503)
	if !s.log.waitFor("Shutdown delay", 5*time.Second) {
		t.Fatalf("no shutdown delay logged")
	}
	// Still within the 3 s delay (the answer above came at once): a new connection is served.
	r, err := s.fetch("/pid")
	if err != nil || r.status != 200 {
		t.Fatalf("GET /pid during the shutdown delay = %+v, %v; want 200", r, err)
	}
	if since := time.Since(terminated); since >= 3*time.Second {
		t.Fatalf("the checks during the delay took %v, past the 3 s delay; the machine is too slow for this test", since)
	}
	if got := probe(metrics, "/livez"); got != 200 {
		t.Errorf("/livez during the shutdown delay = %d; want 200", got)
	}
	if !dialRefused(s) {
		t.Fatal("the listener still accepts 5 s after the shutdown delay")
	}
	if time.Since(terminated) < 3*time.Second {
		t.Errorf("the listener closed %v after TERM; want after the 3 s shutdown delay", time.Since(terminated))
	}
	<-s.done
	if s.err != nil {
		t.Errorf("master exit: %v; want 0\n%s", s.err, s.log)
	}
}

// While the app imports, /livez answers 200 and /readyz 503; once a worker is ready, 200.
func TestReadyzDuringBoot(t *testing.T) {
	gate := t.TempDir() + "/gate"
	metrics := freePort(t)
	s := startBoundNoWait(t, freePort(t), "--python", python(t), "--chdir", appsDir(t),
		"-e", "SLOWBOOT_GATE="+gate, "--metrics-bind", metrics, "slowboot")
	waitProbe(t, metrics, "/livez", 200)
	if got := probe(metrics, "/readyz"); got != 503 {
		t.Errorf("/readyz while the app imports = %d; want 503", got)
	}
	openGate(t, gate)
	waitProbe(t, metrics, "/readyz", 200)
	if r, err := s.fetch("/"); err != nil || r.status != 200 {
		t.Errorf("GET / once ready = %+v, %v; want 200", r, err)
	}
}

// An INT during the shutdown delay stops at once.
func TestShutdownDelayCutShortByInt(t *testing.T) {
	metrics := freePort(t)
	s := opsStart(t, t.TempDir()+"/gate", "--metrics-bind", metrics, "--shutdown-delay", "60")
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGTERM)
	if !s.log.waitFor("Shutdown delay", 5*time.Second) {
		t.Fatal("no shutdown delay logged")
	}
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGINT)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("master still runs 10 s after INT during a 60 s shutdown delay")
	}
}

// The metrics listener's address is checked at start and a busy one is reported by name.
func TestMetricsBindInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	out, err := exec.Command(binary, "--python", python(t), "--chdir", appsDir(t),
		"--bind", freePort(t), "--metrics-bind", ln.Addr().String(), "ops").CombinedOutput()
	if err == nil {
		t.Fatalf("gonicorn started with --metrics-bind on a busy port; want an error\n%s", out)
	}
	if want := "--metrics-bind " + ln.Addr().String(); !strings.Contains(string(out), want) {
		t.Errorf("output = %q; want it to name %q", out, want)
	}
}
