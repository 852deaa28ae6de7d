// Package e2e holds gonicorn's end-to-end tests: each starts the real binary with real
// Python workers on a loopback port and checks what a client sees.
package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the gonicorn binary built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gonicorn-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "gonicorn")
	build := exec.Command("go", "build", "-o", binary, "../cmd/gonicorn")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building gonicorn: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// python returns the interpreter for plain (stdlib-only) test apps.
func python(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("python3")
	if err != nil {
		t.Fatalf("python3 not found: %v", err)
	}
	return p
}

// debianPython returns an interpreter that can import mod (Django, Flask). Without one the
// test is skipped, unless GONICORN_REQUIRE_ALL is set (CI), where that is a failure.
func debianPython(t *testing.T, mod string) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(p, "-c", "import "+mod).Run() == nil {
			return p
		}
	}
	missing(t, "no python3 with %s installed (apt-get install python3-%s)", mod, mod)
	return ""
}

// debianBinary returns path, a program of the Debian package pkg, or stops the test (see
// missing).
func debianBinary(t *testing.T, path, pkg string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		missing(t, "%s not installed at %s (apt-get install %s): %v", pkg, path, pkg, err)
	}
	return path
}

// missing stops a test that needs what the machine lacks: a failure when
// GONICORN_REQUIRE_ALL is set (CI, whose .ci/run installs it), else a skip.
func missing(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("GONICORN_REQUIRE_ALL") != "" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// server is one running gonicorn.
type server struct {
	t    *testing.T
	cmd  *exec.Cmd
	addr string // host:port
	log  *logBuffer
	done chan struct{}
	err  error // exit status, after done
}

// logBuffer collects the server's output and lets tests wait for a line.
type logBuffer struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	cond *sync.Cond
}

func newLogBuffer() *logBuffer {
	l := &logBuffer{}
	l.cond = sync.NewCond(&l.mu)
	return l
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.buf.Write(p)
	l.cond.Broadcast()
	l.mu.Unlock()
	return len(p), nil
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// waitFor blocks until the log contains s or the timeout passes.
func (l *logBuffer) waitFor(s string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		if strings.Contains(l.String(), s) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// start runs gonicorn with args on a fresh loopback listener (passed as fd://3, so there is no
// port race) and waits until every worker is ready. The server is stopped at test cleanup.
func start(t *testing.T, args ...string) *server {
	t.Helper()
	s := startNoWait(t, args...)
	s.waitReady()
	return s
}

// listenerFile opens a loopback TCP listener and returns it as a file to pass to the server
// (as fd 3), with its address. The caller closes the file once the server has started.
func listenerFile(t *testing.T) (*os.File, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ln.(*net.TCPListener).File()
	ln.Close()
	if err != nil {
		t.Fatal(err)
	}
	return f, ln.Addr().String()
}

func startNoWait(t *testing.T, args ...string) *server {
	t.Helper()
	return launch(t, exec.Command(binary, append([]string{"--bind", "fd://3"}, args...)...))
}

// startIn is start with the working directory dir and env added to the test's environment.
func startIn(t *testing.T, dir string, env []string, args ...string) *server {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"--bind", "fd://3"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	s := launch(t, cmd)
	s.waitReady()
	return s
}

// freePort returns a loopback address whose port was free a moment ago. For servers that must bind
// a fixed address (a restarted instance takes its predecessor's place behind a load balancer;
// an nginx or HAProxy listens there), which cannot be handed a listener the way start does.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// launch starts cmd (a gonicorn whose --bind, or GONICORN_CMD_ARGS, names fd://3) with a
// fresh loopback listener as fd 3, in its own process group, logging into the server's log,
// and stops it when the test ends.
func launch(t *testing.T, cmd *exec.Cmd) *server {
	t.Helper()
	f, addr := listenerFile(t)
	defer f.Close()
	cmd.ExtraFiles = []*os.File{f}
	return launchAt(t, cmd, addr)
}

// launchAt starts cmd, a gonicorn that serves addr, in its own process group, logging into
// the server's log, and stops it when the test ends.
func launchAt(t *testing.T, cmd *exec.Cmd, addr string) *server {
	t.Helper()
	ownControlSocket(t, cmd)
	s := &server{t: t, cmd: cmd, addr: addr, log: newLogBuffer(), done: make(chan struct{})}
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(s.stop)
	return s
}

// ownControlSocket gives a server started in the test's own directory a control socket in
// a temporary one, unless the test chose one: by default it would be gonicorn.ctl in the
// package directory, taken over by each server of the tests running in parallel and left
// behind by one that is killed.
func ownControlSocket(t *testing.T, cmd *exec.Cmd) {
	if cmd.Dir != "" || filepath.Base(cmd.Path) != filepath.Base(binary) {
		return
	}
	for _, a := range cmd.Args[1:] {
		if strings.Contains(a, "control-socket") {
			return
		}
	}
	// Not t.TempDir: its name, the test's, would be in the server's log (tests read it).
	dir, err := os.MkdirTemp("", "ctl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cmd.Args = append([]string{cmd.Args[0], "--control-socket", filepath.Join(dir, "gonicorn.ctl")}, cmd.Args[1:]...)
}

// waitReady waits for the first worker's readiness line and the server answering.
func (s *server) waitReady() {
	s.t.Helper()
	if !s.log.waitFor("Booting worker with pid", 30*time.Second) {
		s.t.Fatalf("server not ready after 30 s; log:\n%s", s.log)
	}
}

// stop ends the server (TERM, then KILL) and the whole process group, and checks that no
// process of the group is left.
func (s *server) stop() {
	select {
	case <-s.done:
	default:
		syscall.Kill(s.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(15 * time.Second):
			syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.done
			s.t.Errorf("server did not stop within 15 s of SIGTERM; log:\n%s", s.log)
		}
	}
	// Workers are in the master's process group; none may outlive it.
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(-s.cmd.Process.Pid, 0) == nil {
		if time.Now().After(deadline) {
			syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			s.t.Errorf("processes of the server's group still alive 5 s after the master exited")
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s.t.Failed() {
		s.t.Logf("server log:\n%s", s.log)
	}
}

// raw sends request bytes on a new connection and returns everything read until the server
// closes the connection or goes quiet for idle.
func (s *server) raw(req string, idle time.Duration) string {
	s.t.Helper()
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		s.t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, req); err != nil {
		s.t.Fatal(err)
	}
	return readUntilQuiet(c, idle)
}

func readUntilQuiet(c net.Conn, idle time.Duration) string {
	var out bytes.Buffer
	buf := make([]byte, 64<<10)
	for {
		c.SetReadDeadline(time.Now().Add(idle))
		n, err := c.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			return out.String()
		}
	}
}

// response is a parsed HTTP/1.x response.
type response struct {
	status  int
	proto   string
	headers map[string][]string // canonical lower-case names
	body    []byte
	closed  bool // the server signalled or performed a close
}

func (r *response) header(name string) string {
	v := r.headers[strings.ToLower(name)]
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// readResponse reads one response from br, following its framing (Content-Length,
// chunked, or until close), for a request with the given method.
func readResponse(br *bufio.Reader, method string) (*response, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("reading status line: %w", err)
	}
	var r response
	var reason string
	if _, err := fmt.Sscanf(line, "%s %d", &r.proto, &r.status); err != nil {
		return nil, fmt.Errorf("bad status line %q", line)
	}
	_ = reason
	r.headers = map[string][]string{}
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("reading headers: %w", err)
		}
		if !strings.HasSuffix(l, "\r\n") {
			return nil, fmt.Errorf("header line without CRLF: %q", l)
		}
		l = strings.TrimSuffix(l, "\r\n")
		if l == "" {
			break
		}
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			return nil, fmt.Errorf("bad header line %q", l)
		}
		k = strings.ToLower(k)
		r.headers[k] = append(r.headers[k], strings.TrimSpace(v))
	}
	r.closed = strings.EqualFold(r.header("Connection"), "close")
	if method == "HEAD" || r.status == 204 || r.status == 304 || r.status < 200 {
		return &r, nil
	}
	switch {
	case r.header("Transfer-Encoding") == "chunked":
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				return &r, fmt.Errorf("reading chunk size: %w", err)
			}
			var n int
			if _, err := fmt.Sscanf(strings.TrimSpace(l), "%x", &n); err != nil {
				return &r, fmt.Errorf("bad chunk size %q", l)
			}
			if n == 0 {
				if _, err := br.ReadString('\n'); err != nil {
					return &r, err
				}
				break
			}
			chunk := make([]byte, n+2)
			if _, err := io.ReadFull(br, chunk); err != nil {
				return &r, fmt.Errorf("reading chunk: %w", err)
			}
			r.body = append(r.body, chunk[:n]...)
		}
	case r.header("Content-Length") != "":
		var n int
		fmt.Sscanf(r.header("Content-Length"), "%d", &n)
		r.body = make([]byte, n)
		if _, err := io.ReadFull(br, r.body); err != nil {
			return &r, fmt.Errorf("reading %d body bytes: %w", n, err)
		}
	default:
		r.body, err = io.ReadAll(br)
		r.closed = true
		if err != nil {
			return &r, err
		}
	}
	return &r, nil
}

// do sends one request on a new connection and reads the response.
func (s *server) do(req string) *response {
	s.t.Helper()
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		s.t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		s.t.Fatal(err)
	}
	method, _, _ := strings.Cut(req, " ")
	r, err := readResponse(bufio.NewReader(c), method)
	if err != nil {
		s.t.Fatalf("request %q: %v", firstLine(req), err)
	}
	return r
}

// get is do for a simple GET.
func (s *server) get(path string) *response {
	s.t.Helper()
	return s.do("GET " + path + " HTTP/1.1\r\nHost: test\r\n\r\n")
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\r\n")
	return l
}

// appsDir is where the test WSGI apps live.
func appsDir(t *testing.T) string {
	d, err := filepath.Abs("apps")
	if err != nil {
		t.Fatal(err)
	}
	return d
}
