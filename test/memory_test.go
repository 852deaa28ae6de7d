package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// vmRSS returns a process's resident set size in bytes (VmRSS in /proc/PID/status).
func vmRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestIdleConnMemory measures what an idle keep-alive connection costs the master: the
// growth of its VmRSS after idleConns connections each served one request and stayed open
// (docs/limits.md). The kernel's socket buffers are not in VmRSS. The figure is logged;
// the test fails above 9 KiB: about 7 KiB is measured when a waiting connection's goroutine
// has a 2 KiB stack (conn.awaitNext), 9 with a 4 KiB one and 13 when it kept the 8 KiB
// stack of the requests it served, a regression that the earlier limit of 32 KiB let
// through.
func TestIdleConnMemory(t *testing.T) {
	const idleConns = 2000
	raiseFDLimit(t, 2*idleConns+1000)
	s := start(t, "--python", realPython(t), "--chdir", appsDir(t), "basic")
	// Warm up: the first requests allocate the server's shared buffers and pools.
	for range 20 {
		s.get("/")
	}
	time.Sleep(500 * time.Millisecond)
	before := vmRSS(t, s.cmd.Process.Pid)
	conns := make([]net.Conn, 0, idleConns)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range idleConns {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		c.SetDeadline(time.Now().Add(30 * time.Second))
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
		if r, err := readResponse(bufio.NewReader(c), "GET"); err != nil || r.status != 200 {
			t.Fatalf("GET / = %+v, %v", r, err)
		}
	}
	time.Sleep(2 * time.Second) // let the runtime settle (GC, stack shrinking)
	after := vmRSS(t, s.cmd.Process.Pid)
	per := float64(after-before) / idleConns / 1024
	msg := fmt.Sprintf("master VmRSS %d KiB → %d KiB with %d idle keep-alive connections: %.1f KiB per connection",
		before>>10, after>>10, idleConns, per)
	t.Log(msg)
	if os.Getenv("GONICORN_PRINT_MEMORY") != "" {
		fmt.Println(msg)
	}
	if per > 9 {
		t.Errorf("%s; want about 7 KiB (an idle connection's goroutine with a 2 KiB stack)", msg)
	}
}
