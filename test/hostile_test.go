package e2e

import (
	"bufio"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestSlowClients is the slow and hostile client scenario of docs/limits.md: with one
// worker (one slot), 1000 connections trickle request heads, 200 trickle request bodies and
// 200 read big responses slowly, all at once, and a normal client's 20 requests are still
// served while they are connected. Slow clients cost the master goroutines and buffers,
// never the worker: a head or body is read completely before a slot is taken, and a
// response is buffered so that the slot is free when the app is done.
func TestSlowClients(t *testing.T) {
	const (
		slowHeads   = 1000
		slowBodies  = 200
		slowReaders = 200
		bigResponse = 256 << 10
	)
	raiseFDLimit(t, 2*(slowHeads+slowBodies+slowReaders)+1000)
	s := start(t, "--python", realPython(t), "--chdir", appsDir(t), "-w", "1", "pep")

	dial := func(rcvbuf int) net.Conn {
		d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			if rcvbuf > 0 {
				rc.Control(func(fd uintptr) {
					syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
				})
			}
			return nil
		}}
		c, err := d.Dial("tcp", s.addr)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		return c
	}
	var heads, bodies, readers []net.Conn
	defer func() {
		for _, cs := range [][]net.Conn{heads, bodies, readers} {
			for _, c := range cs {
				c.Close()
			}
		}
	}()
	for range slowHeads {
		c := dial(0)
		io.WriteString(c, "GET /env HTTP/1.1\r\nHost: h\r\n")
		heads = append(heads, c)
	}
	for range slowBodies {
		c := dial(0)
		io.WriteString(c, "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000\r\n\r\n")
		bodies = append(bodies, c)
	}
	for range slowReaders {
		c := dial(4096)
		io.WriteString(c, "GET /big?n="+itoa(bigResponse)+" HTTP/1.1\r\nHost: h\r\n\r\n")
		readers = append(readers, c)
	}

	// The trickle: every 200 ms a byte more of each head and body, and 1 KiB read from each
	// slow reader, until the normal client is done.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var closedEarly []string
	var mu sync.Mutex
	wg.Go(func() {
		buf := make([]byte, 1024)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			for _, c := range heads {
				c.SetWriteDeadline(time.Now().Add(time.Second))
				if _, err := io.WriteString(c, "X-Slow: a\r\n"[i%11:i%11+1]); err != nil {
					mu.Lock()
					closedEarly = append(closedEarly, "head: "+err.Error())
					mu.Unlock()
				}
			}
			for _, c := range bodies {
				c.SetWriteDeadline(time.Now().Add(time.Second))
				if _, err := c.Write([]byte{'b'}); err != nil {
					mu.Lock()
					closedEarly = append(closedEarly, "body: "+err.Error())
					mu.Unlock()
				}
			}
			for _, c := range readers {
				c.SetReadDeadline(time.Now().Add(time.Millisecond))
				c.Read(buf)
			}
		}
	})

	// The normal client: 20 requests on one keep-alive connection, each must be answered.
	c := dial(0)
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	br := bufio.NewReader(c)
	for i := range 20 {
		io.WriteString(c, "GET /env?i="+itoa(i)+" HTTP/1.1\r\nHost: h\r\n\r\n")
		r, err := readResponse(br, "GET")
		if err != nil || r.status != 200 {
			t.Fatalf("normal request %d with %d slow clients connected: %+v, %v", i+1, slowHeads+slowBodies+slowReaders, r, err)
		}
	}
	close(stop)
	wg.Wait()
	if len(closedEarly) > 0 {
		t.Errorf("%d slow client writes failed before the normal client was done (want the slow clients still connected): first %s", len(closedEarly), closedEarly[0])
	}
}
