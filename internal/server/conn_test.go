package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/gonicorn/gonicorn/internal/dispatch"
)

// TestContinueWriteFails checks that the interim 100 (Continue) response (RFC 9110 §10.1.1)
// is written under the write timeout and that its failure ends the request: a client that
// sent "Expect: 100-continue" and then takes nothing, or is gone, costs the connection no
// more than the write timeout, gets no response, and never reaches the worker pool.
//
// net.Pipe stands for the client's socket because its writes block until the other end
// reads: a client that reads nothing, without filling kernel buffers first.
func TestContinueWriteFails(t *testing.T) {
	const head = "POST /upload HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"
	tests := []struct {
		name      string
		afterHead func(client net.Conn) // what the client does once the head is sent
	}{
		{"client reads nothing", func(net.Conn) {}},
		{"client gone", func(c net.Conn) { c.Close() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A pool without workers that never gives up on a waiter: a request that got
			// past the body would wait in its queue until the test ends.
			pool := dispatch.NewPool(0, 1)
			defer pool.Close()
			s := New(Config{WriteTimeout: 50 * time.Millisecond, BodyTimeout: time.Hour, HeaderTimeout: time.Hour},
				pool, slog.New(slog.DiscardHandler))
			srvEnd, client := net.Pipe()
			defer srvEnd.Close()
			defer client.Close()
			go func() {
				if _, err := io.WriteString(client, head); err == nil {
					tt.afterHead(client)
				}
			}()

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			cn := s.newConn(srvEnd, nil)
			done := make(chan bool, 1)
			go func() { done <- cn.serveOne(ctx) }()
			select {
			case keep := <-done:
				if keep {
					t.Errorf("serveOne = true; want the connection closed")
				}
			case <-time.After(10 * time.Second):
				client.Close() // unblocks the write, so the goroutine ends
				<-done
				t.Fatalf("serveOne still blocked 10 s after the head, with a 50 ms write timeout; want it to give up on the 100 Continue")
			}
			if n := pool.Queued(); n != 0 {
				t.Errorf("%d requests waiting for a worker; want none", n)
			}
		})
	}
}
