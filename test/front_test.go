package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
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

// dial opens a TCP connection to addr, closed when the test ends.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitOpenConns waits until the server whose --metrics-bind is metrics reports n open
// client connections.
func waitOpenConns(t *testing.T, metrics string, n int) {
	t.Helper()
	waitMetric(t, metrics, "gonicorn_client_connections", func(v float64) bool { return v == float64(n) })
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
	maxConnsMetrics := freePort(t)
	maxConns := with("--max-connections", "2", "--metrics-bind", maxConnsMetrics)
	timeouts := with("--header-timeout", "1", "--body-timeout", "1", "--keep-alive", "1")
	for _, s := range []*server{maxConns, timeouts} {
		s.waitReady()
	}

	// At --max-connections, with no connection idle in keep-alive, the server stops
	// accepting: a new connection completes its handshake in the listen backlog and is served
	// once another connection closes. A connection that has not sent its first request, or
	// is sending one, is never closed for room.
	t.Run("max-connections, none idle", func(t *testing.T) {
		c1 := dial(t, maxConns.addr)
		io.WriteString(c1, "GET / HTTP/1.1\r\n") // reading its head: busy
		c2 := dial(t, maxConns.addr)             // no request yet
		waitOpenConns(t, maxConnsMetrics, 2)
		c3 := dial(t, maxConns.addr)
		io.WriteString(c3, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
		c3.SetReadDeadline(time.Now().Add(time.Second))
		if n, err := c3.Read(make([]byte, 1)); n > 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("third connection answered (%d bytes, %v) while two busy ones were open; want it kept waiting", n, err)
		}
		io.WriteString(c1, "Host: h\r\n\r\n")
		if r, err := readResponse(bufio.NewReader(c1), "GET"); err != nil || r.status != 200 {
			t.Fatalf("busy connection finishing its head: %+v, %v; want 200 (never closed for room)", r, err)
		}
		c1.Close()
		c3.SetReadDeadline(time.Now().Add(10 * time.Second))
		if r, err := readResponse(bufio.NewReader(c3), "GET"); err != nil || r.status != 200 {
			t.Fatalf("third connection after one closed: %+v, %v; want 200", r, err)
		}
		c3.Close()
		io.WriteString(c2, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
		if r, err := readResponse(bufio.NewReader(c2), "GET"); err != nil || r.status != 200 {
			t.Fatalf("connection that had not sent its first request: %+v, %v; want 200 (never closed for room)", r, err)
		}
		c2.Close()
		if !maxConns.log.waitFor("max connections reached", time.Second) {
			t.Errorf("no \"max connections reached\" warning in the log")
		}
		waitOpenConns(t, maxConnsMetrics, 0)
	})

	// At --max-connections a new client is admitted by closing the connection idle in
	// keep-alive the longest (as nginx does), not after that connection's --keep-alive.
	t.Run("max-connections, oldest idle closed", func(t *testing.T) {
		older, _ := keepAliveConn(t, maxConns.addr)
		defer older.Close()
		newer, newerR := keepAliveConn(t, maxConns.addr)
		defer newer.Close()
		c3 := dial(t, maxConns.addr)
		io.WriteString(c3, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
		c3.SetReadDeadline(time.Now().Add(10 * time.Second))
		if r, err := readResponse(bufio.NewReader(c3), "GET"); err != nil || r.status != 200 {
			t.Fatalf("new client at the limit with two idle connections: %+v, %v; want 200", r, err)
		}
		c3.Close()
		if out := waitClosed(t, older, 5*time.Second); out != "" {
			t.Errorf("the oldest idle connection got %q before its close; want a close only", out)
		}
		io.WriteString(newer, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
		if r, err := readResponse(newerR, "GET"); err != nil || r.status != 200 {
			t.Fatalf("the newer idle connection: %+v, %v; want it kept open and served", r, err)
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

// TestEvictionRacesNextRequest loops a keep-alive client sending requests at random moments
// against a stream of new clients at --max-connections 1, each of which closes the idle
// keep-alive connection to get in. A request that crosses the close may go unanswered (the
// client retries it on a new connection, RFC 9112 §9.3.1), but only if the server never read
// it: no request is run without its answer reaching the client, and none gets a 408 or a
// partial answer.
func TestEvictionRacesNextRequest(t *testing.T) {
	access := filepath.Join(t.TempDir(), "access.log")
	s := start(t, "--python", realPython(t), "--chdir", appsDir(t), "--max-connections", "1",
		"--access-logfile", access, "--access-logformat", "%(r)s %(s)s", "basic")
	done := make(chan struct{})
	newcomers := make(chan int)
	go func() { // new clients, one after the other, until the keep-alive client is done
		n := 0
		defer func() { newcomers <- n }()
		for {
			select {
			case <-done:
				return
			default:
			}
			c, err := net.Dial("tcp", s.addr)
			if err != nil {
				continue
			}
			c.SetDeadline(time.Now().Add(30 * time.Second))
			io.WriteString(c, "GET /newcomer HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
			if r, err := readResponse(bufio.NewReader(c), "GET"); err == nil && r.status == 200 {
				n++
			}
			c.Close()
		}
	}()

	const rounds = 400
	answered := map[int]bool{}
	var c net.Conn
	var br *bufio.Reader
	for i := 0; i < rounds; i++ {
		if c == nil {
			var err error
			if c, err = net.Dial("tcp", s.addr); err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(30 * time.Second))
			br = bufio.NewReader(c)
		}
		time.Sleep(time.Duration(i%4) * time.Millisecond) // idle for a moment, sometimes not at all
		// The head in two parts: a close for room that landed after the server began to
		// read it would cut the second part (a 408 or no answer to a request it has read).
		fmt.Fprintf(c, "GET /?id=%d HTTP/1.1\r\n", i)
		time.Sleep(time.Duration(i%3) * 100 * time.Microsecond)
		io.WriteString(c, "Host: h\r\n\r\n")
		if _, err := br.Peek(1); err != nil {
			c.Close() // closed for room before it read the request: retry on a new connection
			c = nil
			continue
		}
		r, err := readResponse(br, "GET")
		if err != nil || r.status != 200 {
			t.Fatalf("request %d: %+v, %v; want a whole 200 once the server began to answer", i, r, err)
		}
		answered[i] = true
	}
	if c != nil {
		c.Close()
	}
	close(done)
	log := checkEvictionRace(t, s, access, answered, rounds, <-newcomers, func(i int) string { return fmt.Sprintf("GET /?id=%d HTTP/1.1 ", i) })
	if strings.Contains(string(log), " 408") {
		t.Errorf("access log has a 408: an evicted connection's request timed out\n%s", log)
	}
}

// checkEvictionRace checks the end of a race between evictions and requests: some eviction
// raced a request (else the test proved nothing), and each request was run, as the access
// log shows with its request line (line), exactly when its client got its answer. It
// returns the access log.
func checkEvictionRace(t *testing.T, s *server, access string, answered map[int]bool, rounds, evictions int, line func(int) string) []byte {
	t.Helper()
	t.Logf("%d of %d requests answered, %d newcomers admitted", len(answered), rounds, evictions)
	if evictions == 0 || len(answered) == rounds {
		t.Fatalf("no eviction raced a request (%d newcomers, %d/%d answered); the test proves nothing", evictions, len(answered), rounds)
	}
	s.stop() // flushes the access log
	log, err := os.ReadFile(access)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < rounds; i++ {
		n := strings.Count(string(log), line(i))
		if answered[i] && n != 1 || !answered[i] && n != 0 {
			t.Errorf("request %d: answered=%v, in the access log %d times; want a request run only when answered", i, answered[i], n)
		}
	}
	return log
}
