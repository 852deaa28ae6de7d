package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The response spool (--max-response-spool, --tmp-dir, --write-timeout; docs/limits.md), end
// to end: test/apps/spool.py streams a response and records how much of it the worker has
// handed to the master, and the master's spill file is looked at in /proc.

const (
	spoolBlock = 256 << 10 // test/apps/spool.py's block size
	spoolTotal = 64 << 20  // the streamed response: far more than the cap and every buffer
	spoolCap   = 4 << 20   // --max-response-spool in these tests
)

// TestResponseSpoolBackpressure: a client that reads nothing makes the master hold at most
// --max-response-spool bytes of a streamed response (in a file in --tmp-dir), and the worker
// waits instead of streaming the rest into the master. When the client reads, the whole
// response arrives intact, and the spill file, which 16 times its size passes through, never
// grows past the cap.
func TestResponseSpoolBackpressure(t *testing.T) {
	tmp := t.TempDir()
	s := start(t, "--python", python(t), "--chdir", appsDir(t), "--max-response-spool", strconv.Itoa(spoolCap),
		"--tmp-dir", tmp, "--timeout", "300", "spool")
	progress := filepath.Join(t.TempDir(), "progress")
	c := dialSmallBuffer(t, s.addr)
	fmt.Fprintf(c, "GET /stream?n=%d&progress=%s HTTP/1.1\r\nHost: h\r\n\r\n", spoolTotal, progress)

	// The client reads nothing: the worker gets as far as the spool, the socket buffers and
	// the worker link let it, and then waits.
	sent := waitStill(t, progress, time.Second)
	t.Logf("the worker handed %d bytes to the master before it waited", sent)
	if sent >= spoolTotal/2 {
		t.Fatalf("the worker handed %d of %d bytes to the master while the client read nothing; want it held back at about --max-response-spool %d plus socket buffers",
			sent, spoolTotal, spoolCap)
	}
	switch size := spillSize(s.cmd.Process.Pid, tmp); {
	case size > spoolCap:
		t.Errorf("the master's spill file holds %d bytes; want at most --max-response-spool %d", size, spoolCap)
	case size == 0:
		t.Errorf("the master has no spill file in --tmp-dir %s; want the response beyond 1 MiB spooled there", tmp)
	}

	// The client reads: everything arrives, in order, and the spill file stays within the cap.
	var maxSpill int64
	stop := make(chan struct{})
	var watch sync.WaitGroup
	watch.Add(1)
	go func() {
		defer watch.Done()
		for {
			maxSpill = max(maxSpill, spillSize(s.cmd.Process.Pid, tmp))
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	c.SetReadDeadline(time.Now().Add(120 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := checkSpoolBody(resp.Body)
	close(stop)
	watch.Wait()
	if err != nil || n != spoolTotal {
		t.Fatalf("read %d of %d bytes of the response: %v", n, spoolTotal, err)
	}
	if maxSpill > spoolCap {
		t.Errorf("the master's spill file grew to %d bytes; want at most --max-response-spool %d", maxSpill, spoolCap)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("--tmp-dir holds %d entries; want none (the spill file is unlinked)", len(ents))
	}
}

// TestResponseSpoolWriteTimeout: a client that reads nothing at all is disconnected after
// --write-timeout, the worker waiting behind the full spool is told to stop (the app's close()
// runs before it has streamed everything), and the worker serves the next request.
func TestResponseSpoolWriteTimeout(t *testing.T) {
	s := start(t, "--python", python(t), "--chdir", appsDir(t), "--max-response-spool", strconv.Itoa(spoolCap),
		"--write-timeout", "1", "--timeout", "300", "--workers", "1", "--threads", "1", "spool")
	progress := filepath.Join(t.TempDir(), "progress")
	c := dialSmallBuffer(t, s.addr)
	fmt.Fprintf(c, "GET /stream?n=%d&progress=%s HTTP/1.1\r\nHost: h\r\n\r\n", spoolTotal, progress)

	closed := waitFile(t, progress+".closed", 60*time.Second)
	if closed >= spoolTotal {
		t.Errorf("close() after all %d bytes; want the worker stopped early, when the client stalled", closed)
	}
	// The slot is free again: the one worker thread answers the next client.
	r := s.do(fmt.Sprintf("GET /stream?n=10&progress=%s HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", progress+"2"))
	if r.status != 200 || string(r.body) != "0 0 0 0 0 " {
		t.Errorf("next request = %d %q; want 200 \"0 0 0 0 0 \"", r.status, r.body)
	}
}

// dialSmallBuffer connects to addr with a 16 KiB receive buffer (set before connect, so the
// window stays small) and closes the connection at test cleanup.
func dialSmallBuffer(t *testing.T, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 16<<10)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readCount reads the number test/apps/spool.py wrote to path; -1 while there is none.
func readCount(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return -1
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// waitStill waits until the count in path exists and has not changed for quiet, and returns
// it. Proving that the worker stopped needs some time without progress; the test asserts
// nothing about how fast it got there.
func waitStill(t *testing.T, path string, quiet time.Duration) int64 {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	last, since := int64(-1), time.Now()
	for time.Now().Before(deadline) {
		n := readCount(path)
		if n != last {
			last, since = n, time.Now()
		} else if n >= 0 && time.Since(since) >= quiet {
			return n
		}
		if n >= spoolTotal {
			return n // the worker finished: no need to wait for quiet
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the worker's progress in %s never settled (last %d)", path, last)
	return 0
}

// waitFile waits for path to hold a count and returns it.
func waitFile(t *testing.T, path string, timeout time.Duration) int64 {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if n := readCount(path); n >= 0 {
			return n
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s not written within %v", path, timeout)
	return 0
}

// spillSize returns the size of the biggest (deleted) file in dir that process pid has open:
// the master's spill files are unlinked at once and seen only through /proc/PID/fd.
func spillSize(pid int, dir string) int64 {
	fds := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(fds)
	if err != nil {
		return 0
	}
	var size int64
	for _, e := range ents {
		p := filepath.Join(fds, e.Name())
		if l, err := os.Readlink(p); err != nil || !strings.HasPrefix(l, dir+"/") {
			continue
		}
		if st, err := os.Stat(p); err == nil {
			size = max(size, st.Size())
		}
	}
	return size
}

// checkSpoolBody reads a body of test/apps/spool.py's blocks and checks every byte.
func checkSpoolBody(r io.Reader) (int64, error) {
	var n int64
	buf := make([]byte, spoolBlock)
	for k := 0; ; k++ {
		m, err := io.ReadFull(r, buf)
		if m > 0 {
			unit := []byte(strconv.Itoa(k) + " ")
			want := bytes.Repeat(unit, m/len(unit)+1)[:m]
			if !bytes.Equal(buf[:m], want) {
				return n, fmt.Errorf("block %d (at offset %d) differs", k, n)
			}
			n += int64(m)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// TestTmpDirUnusable: a --tmp-dir that takes no file stops gonicorn at start, with a message
// naming the flag and the directory, before any worker starts.
func TestTmpDirUnusable(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	_, errOut, code := runCLI(t, nil, "--python", python(t), "--chdir", appsDir(t), "--bind", "127.0.0.1:0", "--tmp-dir", missing, "spool")
	if code != 1 || !strings.Contains(errOut, "--tmp-dir") || !strings.Contains(errOut, missing) {
		t.Errorf("gonicorn --tmp-dir %s: exit %d, stderr %q; want exit 1 and a message naming --tmp-dir and the directory", missing, code, errOut)
	}
	if strings.Contains(errOut, "Booting worker") {
		t.Errorf("workers were started before the --tmp-dir check: %q", errOut)
	}
}
