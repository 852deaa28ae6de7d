package e2e

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// TestRejectedClientStillReadsTheError sends a request the server rejects in its head,
// followed at once by a large body the server never reads. Closing a socket with unread
// input makes Linux send a reset, which can destroy the error response before the client
// reads it. RFC 9112 §9.6: the server closes its write side first and keeps reading for a
// while ("lingering close"), so the client always gets the 400. Looped: the loss depends on
// timing.
func TestRejectedClientStillReadsTheError(t *testing.T) {
	s := start(t, "--python", python(t), "--chdir", appsDir(t), "echo")
	junk := bytes.Repeat([]byte("x"), 1<<20)
	for i := range 30 {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		// An HTTP/1.1 request without Host: 400 (RFC 9112 §3.2), then the body it announced.
		if _, err := c.Write([]byte("POST / HTTP/1.1\r\nContent-Length: 1048576\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		go c.Write(junk) // may fail once the server closed; the client reads regardless
		time.Sleep(20 * time.Millisecond)
		br := bufio.NewReader(c)
		r, err := readResponse(br, "POST")
		if err != nil || r.status != 400 {
			c.Close()
			t.Fatalf("round %d: got %+v, %v; want the 400", i, r, err)
		}
		if !strings.EqualFold(r.header("Connection"), "close") {
			t.Fatalf("round %d: Connection = %q; want close", i, r.header("Connection"))
		}
		// The server's end of the connection: a FIN (EOF here), not a reset. Over a real
		// network a reset that overtakes the response destroys it in the client's kernel.
		_, err = io.Copy(io.Discard, br)
		c.Close()
		if err != nil {
			t.Fatalf("round %d: after the 400 the connection ended with %v; want a clean close (EOF)", i, err)
		}
	}
}
