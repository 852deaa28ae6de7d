//go:build !race

package server

import (
	"io"
	"testing"

	"github.com/gonicorn/gonicorn/internal/tlsconf/tlstest"
)

// (Not with -race: the race detector's instrumentation allocates.)

// A response that the socket takes whole costs the inline path no allocation and no
// goroutine: nothing is owed, nothing pending. (The client reads the record's ciphertext
// off its socket, so that only the server's side is counted.)
func TestTLSInlineNoAlloc(t *testing.T) {
	ca := tlstest.NewCA(t, "test CA")
	srv, _, cli := tlsPair(t, ca)
	rc := cli.NetConn()
	w := newClientWriter(srv, 1<<20, testStall, t.TempDir())
	resp := pattern(300)
	buf := make([]byte, 1024)
	pending := false
	allocs := testing.AllocsPerRun(200, func() {
		w.Write(resp)
		pending = pending || w.Pending()
		// One record: a 5-byte header with the length of what follows (RFC 8446 §5.1).
		if _, err := io.ReadFull(rc, buf[:5]); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(rc, buf[:int(buf[3])<<8|int(buf[4])]); err != nil {
			t.Fatal(err)
		}
	})
	if pending {
		t.Error("a response the socket took whole left the writer draining")
	}
	if allocs > 0 {
		t.Errorf("allocations per inline TLS response = %v; want 0", allocs)
	}
}
