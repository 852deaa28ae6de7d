package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// TestFramingRejected sends requests whose body cannot be delimited safely, or that RFC
// 9112 otherwise makes a server refuse in the head, each followed by a second request that
// a lenient server would read out of the first one's body (request smuggling). The client
// must get one error response with Connection: close, then the close; the app must see
// neither request. The parser's unit tests (internal/http1 TestParseHeadFraming) check the
// same rules row by row; this test checks that the server acts on them.
func TestFramingRejected(t *testing.T) {
	s := start(t, "--python", realPython(t), "--chdir", appsDir(t), "echo")

	// smuggled is the request a lenient server would find in the first one's body.
	const smuggled = "GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n"
	cl := "Content-Length: " + itoa(len(smuggled)) + "\r\n"
	tests := []struct {
		name   string
		raw    string
		status int
	}{
		// RFC 9112 §6.3: Transfer-Encoding whose final coding is not chunked: 400 and close;
		// never framed by Content-Length (corpus valid/009: identity with Content-Length).
		{"identity with Content-Length", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n" + cl + "\r\n" + smuggled, 400},
		{"Content-Length then identity", "POST / HTTP/1.1\r\nHost: h\r\n" + cl + "Transfer-Encoding: identity\r\n\r\n" + smuggled, 400},
		{"identity, no length", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n" + smuggled, 400},
		{"IDENTITY with Content-Length", "POST / HTTP/1.1\r\nHost: h\r\ntransfer-encoding: IDENTITY\r\n" + cl + "\r\n" + smuggled, 400},
		{"gzip with Content-Length", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n" + cl + "\r\n" + smuggled, 400},
		{"chunked, identity", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n" + smuggled, 400},
		{"chunked then identity on two lines", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n" + smuggled, 400},
		{"unknown coding alone", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n" + cl + "\r\n" + smuggled, 400},
		// RFC 9112 §6.1: chunked at most once; an empty value is no coding list.
		{"chunked, chunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n0\r\n\r\n" + smuggled, 400},
		{"empty Transfer-Encoding with Content-Length", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n" + cl + "\r\n" + smuggled, 400},
		// RFC 9112 §6.1: chunked last but a coding we do not know: 501, still closed.
		{"unknown coding under chunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: br, chunked\r\n\r\n0\r\n\r\n" + smuggled, 501},
		// RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 is faulty framing, even with a
		// Content-Length: 400 and close.
		{"HTTP/1.0 chunked", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n0\r\n\r\n" + smuggled, 400},
		{"HTTP/1.0 identity with Content-Length", "POST / HTTP/1.0\r\nTransfer-Encoding: identity\r\nConnection: keep-alive\r\n" + cl + "\r\n" + smuggled, 400},
		// RFC 9112 §3.2: an HTTP/1.1 request without Host (corpus valid/004 and others).
		{"HTTP/1.1 without Host", "GET / HTTP/1.1\r\n\r\n" + smuggled, 400},
		{"HTTP/1.1 absolute-form without Host", "GET http://h/ HTTP/1.1\r\n\r\n" + smuggled, 400},
		{"HTTP/1.1 POST without Host", "POST / HTTP/1.1\r\n" + cl + "\r\n" + smuggled, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := exchange(t, s.addr, tt.raw)
			br := bufio.NewReader(bytes.NewReader(out))
			r, err := readResponse(br, "POST")
			switch {
			case err != nil:
				t.Fatalf("response: %v (bytes %q); want %d", err, corpusClip(out), tt.status)
			case r.header("X-Echo") == "1":
				t.Fatalf("the app saw the request (%s); want %d from the server", corpusClip(r.body), tt.status)
			case r.status != tt.status || !strings.EqualFold(r.header("Connection"), "close"):
				t.Errorf("status %d, Connection %q; want %d, close", r.status, r.header("Connection"), tt.status)
			}
			if rest, _ := io.ReadAll(br); len(rest) > 0 {
				t.Errorf("after the %d the server sent %q; want the connection closed", r.status, corpusClip(rest))
			}
		})
	}

	// The same server serves what the rules allow: HTTP/1.0 needs no Host, an empty Host is
	// a Host (RFC 9112 §3.2), and chunked as the final coding frames the body.
	allowed := []struct{ name, raw, body string }{
		{"HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n", ""},
		{"empty Host", "GET / HTTP/1.1\r\nHost:\r\nConnection: close\r\n\r\n", ""},
		{"identity, chunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity, chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n", "abc"},
		{"Chunked split over two lines", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\ntransfer-encoding: Chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n", "abc"},
	}
	for _, tt := range allowed {
		t.Run(tt.name, func(t *testing.T) {
			out := exchange(t, s.addr, tt.raw)
			r, err := readResponse(bufio.NewReader(bytes.NewReader(out)), "GET")
			if err != nil || r.status != 200 || r.header("X-Echo") != "1" {
				t.Fatalf("response %+v, %v (bytes %q); want an echo", r, err, corpusClip(out))
			}
			var e corpusEcho
			if err := json.Unmarshal(r.body, &e); err != nil || string(e.Body) != tt.body {
				t.Errorf("echo %q (%v); want body %q", corpusClip(r.body), err, tt.body)
			}
		})
	}

	// A request without Host pipelined behind a good one: the first is served, the second
	// gets 400, and nothing after it is read.
	t.Run("pipelined without Host", func(t *testing.T) {
		out := exchange(t, s.addr, "GET /first HTTP/1.1\r\nHost: h\r\n\r\nGET /second HTTP/1.1\r\n\r\n"+smuggled)
		br := bufio.NewReader(bytes.NewReader(out))
		first, err := readResponse(br, "GET")
		if err != nil || first.header("X-Echo") != "1" {
			t.Fatalf("first response %+v, %v; want an echo", first, err)
		}
		second, err := readResponse(br, "GET")
		if err != nil || second.status != 400 || second.header("X-Echo") == "1" {
			t.Fatalf("second response %+v, %v; want 400 from the server", second, err)
		}
		if rest, _ := io.ReadAll(br); len(rest) > 0 {
			t.Errorf("after the 400 the server sent %q; want the connection closed", corpusClip(rest))
		}
	})
}

// exchange sends raw on a new connection and returns everything the server sends until it
// closes the connection. The client never half-closes: the close must be the server's. A
// reset counts as the close: the server closes with the rest of raw unread.
func exchange(t *testing.T, addr, raw string) []byte {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatalf("sending: %v", err)
	}
	out, err := io.ReadAll(c)
	if err != nil && !isConnReset(err) {
		t.Fatalf("reading: %v (read %q); want the server to close the connection", err, corpusClip(out))
	}
	return out
}
