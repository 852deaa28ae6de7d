package e2e

// A rolling restart behind a real HAProxy (Debian's haproxy, which .ci/run installs) that
// health-checks gonicorn's /readyz: with --shutdown-delay longer than HAProxy needs to see
// the check fail, no request fails; without it, the requests HAProxy sends to a stopped
// instance before its check notices do (docs/operations.md).

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// haproxyPath is Debian's haproxy.
const haproxyPath = "/usr/sbin/haproxy"

// HAProxy's health check: every 200 ms, 2 failures take a server out, 2 successes put it back.
// A server is out at most inter × fall plus one check's time after /readyz turns 503.
const haproxyChecks = "inter 200ms fall 2 rise 2"

// backend is one gonicorn instance behind HAProxy, restartable on the same addresses.
type backend struct {
	name, addr, metrics string
	args                []string
	s                   *server
}

func (b *backend) start(t *testing.T) {
	t.Helper()
	b.s = startBound(t, b.addr, append([]string{"--metrics-bind", b.metrics}, b.args...)...)
	waitProbe(t, b.metrics, "/readyz", 200)
}

// term sends TERM and waits for the master to exit 0.
func (b *backend) term(t *testing.T) {
	t.Helper()
	syscall.Kill(b.s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-b.s.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not exit within 30 s of TERM\n%s", b.name, b.s.log)
	}
	if b.s.err != nil {
		t.Fatalf("%s exited with %v\n%s", b.name, b.s.err, b.s.log)
	}
}

// lb is a running HAProxy with its admin socket.
type lb struct {
	addr, admin string
	log         *logBuffer
}

// startHAProxy runs HAProxy in the foreground (-db) with its config and admin socket in a
// temp dir, balancing over bs with HTTP checks of /readyz on their metrics ports. The
// defaults are HAProxy's: 3 retries of a failed connection, to the same server (no
// redispatch).
func startHAProxy(t *testing.T, bs []*backend) *lb {
	t.Helper()
	bin := debianBinary(t, haproxyPath, "haproxy")
	dir := t.TempDir()
	l := &lb{addr: freePort(t), admin: filepath.Join(dir, "admin.sock"), log: newLogBuffer()}
	var servers strings.Builder
	for _, b := range bs {
		_, port, _ := net.SplitHostPort(b.metrics)
		fmt.Fprintf(&servers, "    server %s %s check port %s\n", b.name, b.addr, port)
	}
	cfg := fmt.Sprintf(`global
    maxconn 512
    stats socket %s level admin
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
frontend fe
    bind %s
    default_backend gonicorn
backend gonicorn
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server %s
%s`, l.admin, l.addr, haproxyChecks, servers.String())
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-db", "-f", path)
	cmd.Stdout, cmd.Stderr = l.log, l.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("haproxy log:\n%s", l.log)
		}
	})
	for _, b := range bs {
		l.waitState(t, b.name, "UP")
	}
	return l
}

// state returns HAProxy's status of server name ("UP", "DOWN", "UP 1/2"...), from "show stat".
func (l *lb) state(name string) (string, error) {
	c, err := net.Dial("unix", l.admin)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, "show stat\n"); err != nil {
		return "", err
	}
	sc := bufio.NewScanner(c)
	col := -1
	for sc.Scan() {
		f := strings.Split(strings.TrimPrefix(sc.Text(), "# "), ",")
		if col < 0 {
			for i, h := range f {
				if h == "status" {
					col = i
				}
			}
			continue
		}
		if len(f) > col && f[0] == "gonicorn" && f[1] == name {
			return f[col], nil
		}
	}
	return "", fmt.Errorf("server %s not in haproxy's stats", name)
}

// waitState waits up to 20 s for HAProxy to report server name in state want.
func (l *lb) waitState(t *testing.T, name, want string) {
	t.Helper()
	var got string
	var err error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if got, err = l.state(name); got == want {
			return
		}
	}
	t.Fatalf("haproxy reports server %s as %q (%v); want %q within 20 s", name, got, err, want)
}

// traffic is steady load through HAProxy: a few clients, each sending one request after
// another on a keep-alive connection, counting what did not come back 200.
type traffic struct {
	stop     chan struct{}
	wg       sync.WaitGroup
	mu       sync.Mutex
	ok       int
	failures map[string]int // "503", "error: ..." → count
}

// sendTraffic starts clients GETting /pid through addr until stop, at most 5 minutes.
func sendTraffic(addr string, clients int) *traffic {
	tr := &traffic{stop: make(chan struct{}), failures: map[string]int{}}
	for range clients {
		tr.wg.Add(1)
		go func() {
			defer tr.wg.Done()
			c := &http.Client{Timeout: 10 * time.Second}
			end := time.Now().Add(5 * time.Minute)
			for time.Now().Before(end) {
				select {
				case <-tr.stop:
					return
				default:
				}
				outcome := ""
				r, err := c.Get("http://" + addr + "/pid")
				if err != nil {
					outcome = "error: " + err.Error()
				} else {
					io.Copy(io.Discard, r.Body)
					r.Body.Close()
					if r.StatusCode != 200 {
						outcome = r.Status
					}
				}
				tr.mu.Lock()
				if outcome == "" {
					tr.ok++
				} else {
					tr.failures[outcome]++
				}
				tr.mu.Unlock()
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	return tr
}

// end stops the clients and returns the number of 200s and of failures.
func (tr *traffic) end() (ok, failed int, failures map[string]int) {
	close(tr.stop)
	tr.wg.Wait()
	for _, n := range tr.failures {
		failed += n
	}
	return tr.ok, failed, tr.failures
}

// twoBackends starts two gonicorn instances with args behind HAProxy.
func twoBackends(t *testing.T, args ...string) ([]*backend, *lb) {
	t.Helper()
	base := []string{"--python", python(t), "--chdir", appsDir(t), "--workers", "2"}
	var bs []*backend
	for _, name := range []string{"a", "b"} {
		b := &backend{name: name, addr: freePort(t), metrics: freePort(t), args: append(append(base, args...), "ops")}
		b.start(t)
		bs = append(bs, b)
	}
	return bs, startHAProxy(t, bs)
}

// TestHAProxyRollingRestart restarts both instances one after the other under steady load,
// with a shutdown delay (1.5 s) well beyond what HAProxy needs to take an instance out
// (2 × 200 ms checks): not one request fails.
func TestHAProxyRollingRestart(t *testing.T) {
	bs, l := twoBackends(t, "--shutdown-delay", "1.5")
	tr := sendTraffic(l.addr, 4)
	time.Sleep(300 * time.Millisecond)
	for _, b := range bs {
		b.term(t)
		l.waitState(t, b.name, "DOWN")
		b.start(t)
		l.waitState(t, b.name, "UP")
		time.Sleep(300 * time.Millisecond) // traffic reaches the new instance
	}
	ok, failed, failures := tr.end()
	t.Logf("rolling restart with --shutdown-delay 1.5: %d requests answered 200, %d failed %v", ok, failed, failures)
	if failed != 0 {
		t.Errorf("%d of %d requests failed during the rolling restart: %v", failed, ok+failed, failures)
	}
	if ok < 100 {
		t.Errorf("only %d requests answered during the rolling restart; the load did not run", ok)
	}
}

// TestHAProxyRestartWithoutDelay is the same restart of one instance without a shutdown
// delay: its listener closes at TERM, before HAProxy's check has noticed, and the requests
// HAProxy sends it meanwhile fail (connection refused, retried on the same server, then 503).
// It measures what the setting is worth.
func TestHAProxyRestartWithoutDelay(t *testing.T) {
	bs, l := twoBackends(t)
	tr := sendTraffic(l.addr, 4)
	time.Sleep(300 * time.Millisecond)
	bs[0].term(t)
	l.waitState(t, bs[0].name, "DOWN")
	time.Sleep(300 * time.Millisecond)
	ok, failed, failures := tr.end()
	t.Logf("restart without --shutdown-delay: %d requests answered 200, %d failed %v", ok, failed, failures)
	if failed == 0 {
		t.Errorf("no request failed when an instance stopped without a shutdown delay; want some (the window before HAProxy's check notices)")
	}
}
