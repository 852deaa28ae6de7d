package e2e

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The front's limits on clients (docs/limits.md): --max-connections, --header-timeout,
// --body-timeout, --keep-alive, and a graceful stop with idle keep-alive connections.

// keepAliveConn opens a connection, serves one GET / on it and returns it with its reader,
// left idle in keep-alive.
func keepAliveConn(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	br := bufio.NewReader(c)
	if r, err := readResponse(br, "GET"); err != nil || r.status != 200 || r.closed {
		c.Close()
		t.Fatalf("GET / = %+v, %v; want 200 keep-alive", r, err)
	}
	return c, br
}

// waitClosed reads from c until the server closes it and returns what it sent.
func waitClosed(t *testing.T, c net.Conn, within time.Duration) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(within))
	out, err := io.ReadAll(c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("connection still open after %v (read %q)", within, corpusClip(out))
	}
	return string(out)
}

func TestFrontLimits(t *testing.T) {
	base := []string{"--python", realPython(t), "--chdir", appsDir(t)}
	with := func(extra ...string) *server {
		return startNoWait(t, append(append(append([]string{}, base...), extra...), "basic")...)
	}
	maxConns := with("--max-connections", "2")
	timeouts := with("--header-timeout", "1", "--body-timeout", "1", "--keep-alive", "1")
	for _, s := range []*server{maxConns, timeouts} {
		s.waitReady()
	}

	// At --max-connections the server stops accepting: a new connection completes its
	// handshake in the listen backlog and is served once another connection closes.
	t.Run("max-connections", func(t *testing.T) {
		c1, _ := keepAliveConn(t, maxConns.addr)
		defer c1.Close()
		c2, _ := keepAliveConn(t, maxConns.addr)
		defer c2.Close()
		c3, err := net.Dial("tcp", maxConns.addr)
		if err != nil {
			t.Fatalf("third connection: %v; want it to wait in the backlog", err)
		}
		defer c3.Close()
		io.WriteString(c3, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
		c3.SetReadDeadline(time.Now().Add(time.Second))
		if n, err := c3.Read(make([]byte, 1)); n > 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("third connection answered (%d bytes, %v) while two were open; want it kept waiting", n, err)
		}
		c1.Close()
		c3.SetReadDeadline(time.Now().Add(10 * time.Second))
		if r, err := readResponse(bufio.NewReader(c3), "GET"); err != nil || r.status != 200 {
			t.Fatalf("third connection after one closed: %+v, %v; want 200", r, err)
		}
		if !maxConns.log.waitFor("max connections reached", time.Second) {
			t.Errorf("no \"max connections reached\" warning in the log")
		}
	})

	// RFC 9110 §15.5.9: a head not complete within --header-timeout is answered 408 and
	// the connection closed.
	t.Run("header-timeout", func(t *testing.T) {
		c, err := net.Dial("tcp", timeouts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: h\r\n")
		if out := waitClosed(t, c, 10*time.Second); !strings.HasPrefix(out, "HTTP/1.1 408 ") || !strings.Contains(out, "Connection: close\r\n") {
			t.Errorf("slow head answered %q; want 408 with Connection: close", corpusClip([]byte(out)))
		}
	})
	// A head trickled a byte at a time still has only --header-timeout in all: progress
	// does not extend it (the slowloris defence).
	t.Run("header-timeout, trickled", func(t *testing.T) {
		c, err := net.Dial("tcp", timeouts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// Read between the bytes, so that the 408 is taken before a later write makes
		// the closed socket answer with a reset.
		io.WriteString(c, "GET / HTTP/1.1\r\n")
		var out []byte
		buf := make([]byte, 4096)
		for i, start := 0, time.Now(); time.Since(start) < 10*time.Second; i++ {
			if _, err := io.WriteString(c, "X-A: b\r\n"[i%8:i%8+1]); err != nil {
				break
			}
			c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			n, err := c.Read(buf)
			out = append(out, buf[:n]...)
			if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
		}
		if !strings.HasPrefix(string(out), "HTTP/1.1 408 ") {
			t.Errorf("trickled head answered %q; want 408", corpusClip(out))
		}
	})
	// A body that pauses longer than --body-timeout: 408, the app never called.
	t.Run("body-timeout", func(t *testing.T) {
		c, err := net.Dial("tcp", timeouts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nab")
		if out := waitClosed(t, c, 10*time.Second); !strings.HasPrefix(out, "HTTP/1.1 408 ") || !strings.Contains(out, "Connection: close\r\n") {
			t.Errorf("stalled body answered %q; want 408 with Connection: close", corpusClip([]byte(out)))
		}
	})
	// An idle keep-alive connection is closed after --keep-alive, without a response (no
	// request was started: RFC 9112 §9.5).
	t.Run("keep-alive", func(t *testing.T) {
		c, _ := keepAliveConn(t, timeouts.addr)
		defer c.Close()
		if out := waitClosed(t, c, 10*time.Second); out != "" {
			t.Errorf("idle keep-alive connection got %q; want a close without a response", corpusClip([]byte(out)))
		}
	})
}

// A graceful stop closes idle keep-alive connections at once (without a response) and
// exits without waiting for --keep-alive or --graceful-timeout.
func TestGracefulStopClosesIdleKeepAlive(t *testing.T) {
	s := start(t, "--python", realPython(t), "--chdir", appsDir(t), "--keep-alive", "60", "--graceful-timeout", "60", "basic")
	var conns []net.Conn
	for range 3 {
		c, _ := keepAliveConn(t, s.addr)
		defer c.Close()
		conns = append(conns, c)
	}
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGTERM)
	for i, c := range conns {
		if out := waitClosed(t, c, 10*time.Second); out != "" {
			t.Errorf("idle connection %d got %q at the stop; want a clean close", i, corpusClip([]byte(out)))
		}
	}
	if exited, err := s.waitExit(10 * time.Second); !exited || err != nil {
		t.Errorf("master exit after SIGTERM with idle connections: exited %v, %v; want status 0 well before --graceful-timeout", exited, err)
	}
}
