package server

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

func TestLooksLikeHTTP(t *testing.T) {
	for _, c := range []struct {
		in   string
		want bool
	}{
		{"GET /", true}, {"POST ", true}, {"HEAD ", true}, {"OPTIO", true}, {"PRI *", false},
		{"\x16\x03\x01\x02\x00", false}, // a TLS handshake record (RFC 8446 §5.1)
		{"\x80\x2e\x01\x00\x02", false}, // an SSL 2 compatible hello
		{"get /", false}, {"", false},
	} {
		if got := looksLikeHTTP([]byte(c.in)); got != c.want {
			t.Errorf("looksLikeHTTP(%q) = %v; want %v", c.in, got, c.want)
		}
	}
}

// A write under TLS fails only when the client takes nothing for the write timeout, as on a
// plain connection: crypto/tls makes a write timeout permanent, so tlsTransport renews the
// deadline while the reader makes progress. Over net.Pipe (writes through net.Conn) and over
// loopback TCP with small socket buffers (raw writes, package rawio).
func TestTLSTransportWriteStall(t *testing.T) {
	for _, tr := range []struct {
		name string
		pair func(t *testing.T) (w, r net.Conn)
		size int // bytes written: at the slow reader's pace, well past the 100 ms deadline
		step int // bytes the slow reader takes every 20 ms
	}{
		{"net.Pipe", func(*testing.T) (net.Conn, net.Conn) { return net.Pipe() }, 16 << 10, 1 << 10},
		{"TCP", func(t *testing.T) (net.Conn, net.Conn) { return tcpPair(t) }, 512 << 10, 16 << 10},
	} {
		for _, c := range []struct {
			name    string
			reader  func(r net.Conn, step int)
			wantErr bool
		}{
			{"slow but steady", func(r net.Conn, step int) {
				buf := make([]byte, step)
				for {
					time.Sleep(20 * time.Millisecond)
					if _, err := r.Read(buf); err != nil {
						return
					}
				}
			}, false},
			{"stalled", func(r net.Conn, step int) { io.ReadAll(io.LimitReader(r, int64(step))) }, true},
		} {
			a, b := tr.pair(t)
			go c.reader(b, tr.step)
			tt := &tlsTransport{Conn: a}
			if tr.name == "TCP" {
				_, tt = wrapTLS(a, nil)
				if tt.raw == nil {
					t.Fatal("the TCP transport has no raw conn")
				}
			}
			tt.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
			n, err := tt.Write(make([]byte, tr.size))
			if c.wantErr != (err != nil) || err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("%s, %s reader: Write = %d, %v; want error %v", tr.name, c.name, n, err, c.wantErr)
			}
			a.Close()
			b.Close()
		}
	}
}
