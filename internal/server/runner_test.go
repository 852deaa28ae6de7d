package server

import (
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gonicorn/gonicorn/internal/dispatch"
)

// TestRunners serves more requests at once than maxIdleRunners, each answered by the server
// itself (a malformed head: 400), and checks that every one is answered, that at most
// maxIdleRunners runners wait afterwards, and that all of them end when the server stops.
func TestRunners(t *testing.T) {
	pool := dispatch.NewPool(0, 1)
	defer pool.Close()
	s := New(Config{WriteTimeout: time.Second, HeaderTimeout: time.Second}, pool, slog.New(slog.DiscardHandler))
	const conns = maxIdleRunners + 44
	var wg sync.WaitGroup
	for range conns {
		srvEnd, client := net.Pipe()
		cn := s.newConn(srvEnd, nil)
		cn.ctx, cn.done = t.Context(), make(chan bool, 1)
		wg.Add(2)
		go func() {
			defer wg.Done()
			defer client.Close()
			io.WriteString(client, "GET / HTTP/1.1\r\nHost: h\r\nBad\x01: x\r\n\r\n")
			b, _ := io.ReadAll(client)
			if len(b) < 12 || string(b[:12]) != "HTTP/1.1 400" {
				t.Errorf("answer %q; want a 400", b)
			}
		}()
		go func() {
			defer wg.Done()
			cn.awaitNext()
			if s.runOne(cn) {
				t.Errorf("runOne = true after a 400; want the connection closed")
			}
			cn.close()
		}()
	}
	wg.Wait()
	if n := s.idleRunners.Load(); n > maxIdleRunners {
		t.Errorf("%d runners wait; want at most %d", n, maxIdleRunners)
	}
	s.stopOnce.Do(func() { close(s.stopping) })
	deadline := time.Now().Add(10 * time.Second)
	for s.idleRunners.Load() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d runners still wait 10 s after the server stopped", s.idleRunners.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
