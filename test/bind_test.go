package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A unix socket bind (next to the harness's fd://3) serves requests, is logged as
// gunicorn does, and its file is removed at shutdown.
func TestBindUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s.sock")
	s := start(t, "-b", "unix:"+sock, "--python", realPython(t), "--chdir", appsDir(t), "basic")
	if want := "Listening at: unix:" + sock + " ("; !strings.Contains(s.log.String(), want) {
		t.Errorf("log lacks %q; log:\n%s", want, s.log)
	}
	r, err := tryDo("unix", sock, "GET / HTTP/1.1\r\nHost: test\r\n\r\n")
	if err != nil || r.status != 200 || string(r.body) != "Hello, World!" {
		t.Fatalf("GET / over %s = %+v, %v; want 200 Hello, World!", sock, r, err)
	}
	// The environ of a unix-socket request: no client address to give, but the keys PEP 3333
	// requires are there (SERVER_NAME from the Host header).
	r, err = tryDo("unix", sock, "GET /environ HTTP/1.1\r\nHost: test\r\n\r\n")
	if err != nil || r.status != 200 {
		t.Fatalf("GET /environ over %s = %+v, %v; want 200", sock, r, err)
	}
	var env map[string]any
	if err := json.Unmarshal(r.body, &env); err != nil {
		t.Fatal(err)
	}
	if env["SERVER_NAME"] != "test" || env["PATH_INFO"] != "/environ" {
		t.Errorf("environ over a unix socket: SERVER_NAME %v, PATH_INFO %v; want test, /environ", env["SERVER_NAME"], env["PATH_INFO"])
	}
	if r := s.get("/"); r.status != 200 {
		t.Errorf("GET / on the fd://3 bind = %d; want 200", r.status)
	}

	syscall.Kill(s.cmd.Process.Pid, syscall.SIGTERM)
	if exited, err := s.waitExit(10 * time.Second); !exited || err != nil {
		t.Fatalf("after SIGTERM: exited %v, %v; want exit status 0", exited, err)
	}
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s still exists after shutdown (%v); want it removed", sock, err)
	}
}

// freeTCPPort returns a loopback TCP port that was free a moment ago.
func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// A HOST:PORT bind listens there and says so in gunicorn's words.
func TestBindTCPPort(t *testing.T) {
	port := freeTCPPort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	s := start(t, "-b", addr, "--python", realPython(t), "--chdir", appsDir(t), "basic")
	if want := fmt.Sprintf("Listening at: http://%s (%d)", addr, s.cmd.Process.Pid); !strings.Contains(s.log.String(), want) {
		t.Errorf("log lacks %q; log:\n%s", want, s.log)
	}
	r, err := tryGet(addr, "/")
	if err != nil || r.status != 200 || string(r.body) != "Hello, World!" {
		t.Fatalf("GET / on %s = %+v, %v; want 200 Hello, World!", addr, r, err)
	}
}

// runCLI runs the binary with args and env additions and returns its output and exit code.
func runCLI(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.WaitDelay = 5 * time.Second
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("gonicorn %v: %v", args, err)
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("gonicorn %v still running after 10 s; stderr:\n%s", args, errOut.String())
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}

func TestVersionAndHelp(t *testing.T) {
	out, errOut, code := runCLI(t, nil, "--version")
	if code != 0 || !strings.HasPrefix(out, "gonicorn (version ") || !strings.HasSuffix(out, ")\n") {
		t.Errorf("gonicorn --version = %d %q %q; want 0 and \"gonicorn (version X)\"", code, out, errOut)
	}
	for _, flag := range []string{"--help", "-h"} {
		out, errOut, code = runCLI(t, nil, flag)
		if code != 0 || errOut != "" {
			t.Errorf("gonicorn %s: exit %d, stderr %q; want 0 and nothing on stderr", flag, code, errOut)
		}
		for _, want := range []string{"--bind", "--workers", "--threads", "--chdir", "--python", "--graceful-timeout", "--limit-request-line", "--version"} {
			if !strings.Contains(out, want) {
				t.Errorf("gonicorn %s does not mention %s:\n%s", flag, want, out)
			}
		}
	}
}

// Bad flags and values stop gonicorn at start with status 1 and a message naming the flag
// and the value.
func TestBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  []string
		want []string // in stderr
	}{
		{args: []string{"--workers", "abc", "app"}, want: []string{"--workers", "abc"}},
		{args: []string{"--threads=-1", "app"}, want: []string{"--threads", "-1"}},
		{args: []string{"--no-such-flag", "app"}, want: []string{"--no-such-flag"}},
		{args: []string{"--bind", "nowhere:http", "app"}, want: []string{"nowhere:http"}},
		{args: []string{"app"}, env: []string{"GONICORN_CMD_ARGS=--keep-alive xyz"}, want: []string{"--keep-alive", "xyz"}},
	} {
		out, errOut, code := runCLI(t, tc.env, tc.args...)
		if code != 1 {
			t.Errorf("gonicorn %v (env %v): exit %d; want 1\nstdout %q\nstderr %q", tc.args, tc.env, code, out, errOut)
		}
		for _, w := range tc.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("gonicorn %v (env %v): stderr %q does not name %q", tc.args, tc.env, errOut, w)
			}
		}
	}
}

// GONICORN_CMD_ARGS is read like the command line, which wins over it.
func TestCmdArgsEnv(t *testing.T) {
	for _, tc := range []struct {
		env, args   string
		multithread bool
	}{
		{env: "--threads 2", multithread: true},
		{env: "--threads 2", args: "--threads 1", multithread: false},
	} {
		t.Run(tc.env+"|"+tc.args, func(t *testing.T) {
			t.Setenv("GONICORN_CMD_ARGS", tc.env)
			args := append(strings.Fields(tc.args), "--python", realPython(t), "--chdir", appsDir(t), "basic")
			s := start(t, args...)
			r := s.get("/environ")
			var env map[string]any
			if err := json.Unmarshal(r.body, &env); r.status != 200 || err != nil {
				t.Fatalf("GET /environ = %d %q (%v)", r.status, r.body, err)
			}
			if env["wsgi.multithread"] != tc.multithread {
				t.Errorf("GONICORN_CMD_ARGS=%q, args %q: wsgi.multithread = %v; want %v", tc.env, tc.args, env["wsgi.multithread"], tc.multithread)
			}
			kind := map[bool]string{true: "gthread", false: "sync"}[tc.multithread]
			if !strings.Contains(s.log.String(), "Using worker: "+kind) {
				t.Errorf("log lacks \"Using worker: %s\"; log:\n%s", kind, s.log)
			}
		})
	}
}

// A unix: bind onto a path that is not a socket stops gonicorn with status 1 and leaves the
// file alone (a stale socket file would be replaced).
func TestBindUnixSocketNotASocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.txt")
	if err := os.WriteFile(path, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := runCLI(t, nil, "-b", "unix:"+path, "--python", realPython(t), "--chdir", appsDir(t), "basic")
	if code != 1 || !strings.Contains(errOut, path) {
		t.Errorf("gonicorn -b unix:%s (a regular file): exit %d, stderr %q; want 1 and a message naming the path", path, code, errOut)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "keep me" {
		t.Errorf("%s after the failed bind: %q, %v; want it untouched", path, b, err)
	}
}
