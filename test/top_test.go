package e2e

// End-to-end tests of `gonicorn top` (cmd/gonicorn/top.go; docs/operations.md, "gonicorn
// top"): its --once snapshot while requests hang in the app and others wait behind them, and
// its live view in a pseudo-terminal. The app is test/apps/isolation.py, whose /hold waits on
// the test's gate (appGate), so a request hangs exactly as long as the test wants.

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// top runs `gonicorn top --socket sock args...` and returns its output, error output and exit
// status.
func top(t *testing.T, sock string, args ...string) (string, string, int) {
	t.Helper()
	return runIn(t, "", append([]string{"top", "--socket", sock}, args...)...)
}

// waitTop runs `gonicorn top --once` until its output matches re, and returns that output.
// The requests the test sent reach the master's queue in their own time; there is no event to
// wait on from outside.
func waitTop(t *testing.T, sock string, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, errOut, code := top(t, sock, "--once")
		if code != 0 {
			t.Fatalf("gonicorn top --once: exit %d: %s", code, errOut)
		}
		if re.MatchString(out) {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("gonicorn top --once never matched %s; last:\n%s", re, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestTopOnce(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "c.ctl")
	s := pepStart(t, "isolation", "-w", "1", "--threads", "2", "--control-socket", sock)
	for i := 0; i < 3; i++ {
		if r := s.get("/pid"); r.status != 200 {
			t.Fatalf("GET /pid = %d", r.status)
		}
	}
	pid := s.workerPIDs()[0]

	// One request hangs in the app on slot 0 or 1; the other slot is idle.
	gateA := newAppGate(t)
	held := []<-chan fetched{goFetch(s, "/hold?"+gateA.query())}
	gateA.arrived()
	out, errOut, code := top(t, sock, "--once")
	if code != 0 {
		t.Fatalf("gonicorn top --once: exit %d: %s", code, errOut)
	}
	for _, re := range []string{
		`(?m)^gonicorn \S+  master ` + strconv.Itoa(s.cmd.Process.Pid) + `  app isolation  up \S+  \d\d:\d\d:\d\d$`,
		`(?m)^workers 1  slots 1 busy of 2  queue 0 waiting$`,
		// The three /pid requests ended; the hanging one is not counted until it ends.
		`(?m)^last \S+  [0-9.]+ req/s  p50 [0-9.]+ ms  p99 [0-9.]+ ms  \(3 requests\)$`,
		`(?m)^PID +AGE +REQUESTS +RSS +CPU% +STATE$`,
		`(?m)^` + strconv.Itoa(pid) + ` +\S+ +4 +[0-9.]+MiB +[0-9.]+ +serving$`,
		`(?m)^  slot \d: GET /hold\?gate=\d+ from 127\.0\.0\.1:\d+, running for \d+ ms$`,
		`(?m)^  slot \d: idle$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("gonicorn top --once does not match %s:\n%s", re, out)
		}
	}

	// A second request hangs on the other slot; eight more fill both slots' pipelines (3
	// each behind the running one) and the queue (2): the queue shows its oldest waiter.
	gateB := newAppGate(t)
	held = append(held, goFetch(s, "/hold?"+gateB.query()))
	gateB.arrived()
	for i := 0; i < 8; i++ {
		held = append(held, goFetch(s, "/pid"))
	}
	out = waitTop(t, sock, regexp.MustCompile(`(?m)^workers 1  slots 2 busy of 2  queue 2 waiting, oldest for \d+ ms$`))
	if n := len(regexp.MustCompile(`(?m)^  slot \d: GET /hold\?gate=\d+ from 127\.0\.0\.1:\d+, running for \d+ ms$`).FindAllString(out, -1)); n != 2 {
		t.Errorf("gonicorn top --once shows %d hanging requests; want 2:\n%s", n, out)
	}

	// Let them all go: every request is answered, and the traffic line counts them (the ten
	// that end now at least; the first three may have left the 10-second window on a slow
	// machine).
	gateA.open()
	gateB.open()
	for _, ch := range held {
		if f := <-ch; f.err != nil || f.r.status != 200 {
			t.Fatalf("a held or queued request failed: %v %+v", f.err, f.r)
		}
	}
	waitTop(t, sock, regexp.MustCompile(`queue 0 waiting\nlast .*\(1[0-3] requests\)`))

	// Bad usage and no master: a clear message, exit status 2 and 1.
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--interval", "0"}, 2, "--interval 0: want seconds from 0.1 to 3600"},
		{[]string{"extra"}, 2, "usage: gonicorn top"},
	} {
		if _, errOut, code := top(t, sock, tc.args...); code != tc.code || !strings.Contains(errOut, tc.msg) {
			t.Errorf("gonicorn top %v = exit %d, %q; want exit %d with %q", tc.args, code, errOut, tc.code, tc.msg)
		}
	}
	if _, errOut, code := top(t, filepath.Join(t.TempDir(), "none.ctl"), "--once"); code != 1 || !strings.Contains(errOut, "connecting to the control socket") {
		t.Errorf("gonicorn top --once without a master = exit %d, %q; want exit 1 naming the socket", code, errOut)
	}
}

// ptyOutput collects what a program writes to its terminal.
type ptyOutput struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (p *ptyOutput) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buf.Write(b)
}

func (p *ptyOutput) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buf.String()
}

// waitFor waits until ok accepts what was written so far.
func (p *ptyOutput) waitFor(t *testing.T, what string, ok func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if s := p.String(); ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("the terminal never showed %s; it got:\n%q", what, p.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// frames splits a live view's output into its frames (each begins with the cursor's move home).
func frames(out string) []string {
	parts := strings.Split(out, "\x1b[H")
	return parts[1:]
}

func TestTopLiveInATerminal(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "c.ctl")
	s := pepStart(t, "isolation", "-w", "1", "--threads", "2", "--control-socket", sock)
	pid := strconv.Itoa(s.workerPIDs()[0])

	for _, quit := range []struct {
		name     string
		key      string
		interval string // a long one shows that the key is read at once, not at the next refresh
	}{{"q", "q", "0.2"}, {"Ctrl-C", "\x03", "0.2"}, {"q before the next refresh", "q", "600"}} {
		t.Run(quit.name, func(t *testing.T) {
			cmd := exec.Command(binary, "top", "--socket", sock, "--interval", quit.interval)
			tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 30, Cols: 100})
			if err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			out := &ptyOutput{}
			copied := make(chan struct{})
			go func() { // ends when the program exits and the terminal reads EIO
				defer close(copied)
				b := make([]byte, 4096)
				for {
					n, err := tty.Read(b)
					out.Write(b[:n])
					if err != nil {
						return
					}
				}
			}()
			go func() { exited <- cmd.Wait() }()
			t.Cleanup(func() {
				cmd.Process.Kill()
				<-exited
				tty.Close()
				<-copied
			})

			// The first frames: the worker's line, both slots idle, each line erased to its end.
			out.waitFor(t, "a frame with the worker", func(s string) bool {
				f := frames(s)
				return len(f) >= 1 && strings.Contains(f[len(f)-1], "\r\n"+pid+" ")
			})
			if !strings.HasPrefix(out.String(), "\x1b[?1049h") {
				t.Errorf("the live view does not begin on the alternate screen: %q", out.String())
			}
			if quit.interval == "600" {
				quitTop(t, tty, quit.key, exited, copied, out)
				return
			}
			// A request hangs: a later frame shows it, while the view keeps refreshing.
			gate := newAppGate(t)
			done := goFetch(s, "/hold?"+gate.query())
			gate.arrived()
			got := out.waitFor(t, "the hanging request in a later frame", func(s string) bool {
				f := frames(s)
				return len(f) >= 2 && strings.Contains(f[len(f)-1], "GET /hold?gate=")
			})
			f := frames(got)
			if !strings.Contains(f[0], "slot 0: idle\x1b[K\r\n") || !strings.Contains(f[0], "slot 1: idle\x1b[K\r\n") {
				t.Errorf("the first frame does not show both slots idle, each line erased to its end: %q", f[0])
			}
			if !strings.Contains(f[len(f)-1], "queue 0 waiting") || !strings.HasSuffix(f[len(f)-2], "\x1b[J") {
				t.Errorf("frames are not whole (status line, erase below at the end): %q", f[len(f)-2:])
			}
			gate.open()
			if r := <-done; r.err != nil || r.r.status != 200 {
				t.Fatalf("the held request failed: %v", r.err)
			}

			quitTop(t, tty, quit.key, exited, copied, out)
		})
	}
}

// quitTop types key into the live view's terminal and checks that it exits with status 0,
// having restored the screen and the cursor.
func quitTop(t *testing.T, tty *os.File, key string, exited chan error, copied <-chan struct{}, out *ptyOutput) {
	t.Helper()
	if _, err := tty.Write([]byte(key)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err // for the cleanup
		if err != nil {
			t.Fatalf("gonicorn top after %q: %v", key, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("gonicorn top did not quit on %q; it wrote:\n%q", key, out.String())
	}
	<-copied
	if !strings.HasSuffix(out.String(), "\x1b[?25h\x1b[?1049l") {
		t.Errorf("gonicorn top did not restore the screen and cursor at exit: %q", tail(out.String(), 80))
	}
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
