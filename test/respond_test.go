package e2e

// End-to-end tests of the response path (test/apps/respond.py): framing that depends on what
// the app returned and never on timing, the committed status of a response whose app fails
// after its first block, wsgi.file_wrapper framing, statuses and Content-Length values an
// app may not send, the server's own error responses, and an access-log line for every
// response.

import (
	"bufio"
	"bytes"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// respondStart starts gonicorn serving test/apps/respond.py with extra flags.
func respondStart(t *testing.T, flags ...string) *server {
	t.Helper()
	return pepStart(t, "respond", flags...)
}

// hello is the request whose answer ends each pipeline below: "hello", and the connection
// closes after it.
const hello = "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"

// pipelined sends req followed by hello in one write, reads the answer to req (for method),
// then the hello, and checks that nothing else comes: no stray bytes of the first answer's
// framing precede or follow the second. It returns the answer to req.
func pipelined(t *testing.T, s *server, method, req string) *response {
	t.Helper()
	c := pepDial(t, s)
	io.WriteString(c, req+hello)
	br := bufio.NewReader(c)
	r, err := readResponse(br, method)
	if err != nil {
		t.Fatalf("%s: %v", firstLine(req), err)
	}
	if r.closed {
		t.Fatalf("%s: the connection was closed; want it kept for the next request", firstLine(req))
	}
	h, err := readResponse(br, "GET")
	if err != nil || h.status != 200 || string(h.body) != "hello" {
		t.Fatalf("%s: the pipelined request after it got %+v, %v; want 200 hello", firstLine(req), h, err)
	}
	if rest, err := io.ReadAll(br); len(rest) != 0 || err != nil {
		t.Fatalf("%s: after both answers: %q, %v; want the connection closed", firstLine(req), rest, err)
	}
	return r
}

// refusedWith500 sends req followed by hello in one write and checks that req gets a 500
// that closes the connection, with nothing after it: the request behind it is not answered
// (a server error closes the connection), and no part of what the app sent leaks out.
func refusedWith500(t *testing.T, s *server, what, req string) {
	t.Helper()
	c := pepDial(t, s)
	io.WriteString(c, req+hello)
	br := bufio.NewReader(c)
	r, err := readResponse(br, "GET")
	if err != nil || r.status != 500 || !r.closed {
		t.Errorf("%s: the client got %+v, %v; want a 500 with Connection: close", what, r, err)
		return
	}
	if rest, err := io.ReadAll(br); len(rest) != 0 || err != nil {
		t.Errorf("%s: after the 500: %q, %v; want the connection closed", what, rest, err)
	}
}

// TestFileWrapperFraming checks every framing of a wsgi.file_wrapper response (sent with
// sendfile): an empty file, an offset at or past the end, an offset in the middle, with and
// without Content-Length (chunked), GET and HEAD, each followed by a pipelined request that
// must be answered as is.
func TestFileWrapperFraming(t *testing.T) {
	s := respondStart(t)
	dir := t.TempDir()
	data := make([]byte, 100_000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	full, empty := filepath.Join(dir, "full"), filepath.Join(dir, "empty")
	if err := os.WriteFile(full, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, query string
		want              []byte
	}{
		{"empty file", empty, "", nil},
		{"empty file, Content-Length 0", empty, "&cl=0", nil},
		{"offset at the end", full, "&offset=100000", nil},
		{"offset past the end", full, "&offset=200000", nil},
		{"offset at the end, Content-Length 0", full, "&offset=100000&cl=0", nil},
		{"whole file", full, "", data},
		{"offset in the middle", full, "&offset=40000", data[40000:]},
		{"offset in the middle, Content-Length", full, "&offset=40000&cl=1000", data[40000:41000]},
		{"Content-Length of the whole file", full, "&cl=100000", data},
	} {
		target := "/file?path=" + url.QueryEscape(tc.path) + tc.query
		hasCL := strings.Contains(tc.query, "cl=")
		for _, method := range []string{"GET", "HEAD"} {
			r := pipelined(t, s, method, method+" "+target+" HTTP/1.1\r\nHost: t\r\n\r\n")
			if r.status != 200 || !bytes.Equal(r.body, tc.want) && method == "GET" {
				t.Errorf("%s %s: %d, %d bytes; want 200, %d bytes", method, tc.name, r.status, len(r.body), len(tc.want))
			}
			te, cl := r.header("Transfer-Encoding"), r.header("Content-Length")
			switch {
			case hasCL && (cl != strconv.Itoa(len(tc.want)) || te != ""):
				t.Errorf("%s %s: Content-Length %q, Transfer-Encoding %q; want Content-Length %d", method, tc.name, cl, te, len(tc.want))
			case !hasCL && method == "GET" && (te != "chunked" || cl != ""):
				t.Errorf("%s %s: Transfer-Encoding %q, Content-Length %q; want chunked", method, tc.name, te, cl)
			case !hasCL && method == "HEAD" && (te != "" || cl != ""):
				t.Errorf("%s %s: Transfer-Encoding %q, Content-Length %q; want neither", method, tc.name, te, cl)
			}
		}
	}
	// HTTP/1.0 without Content-Length: the end of the body is the end of the connection.
	for _, tc := range []struct {
		query string
		want  []byte
	}{{"", data}, {"&offset=100000", nil}} {
		target := "/file?path=" + url.QueryEscape(full) + tc.query
		raw := s.raw("GET "+target+" HTTP/1.0\r\n\r\n", 5*time.Second)
		head, body, _ := strings.Cut(raw, "\r\n\r\n")
		if !strings.HasPrefix(head, "HTTP/1.0 200 ") || !strings.Contains(head, "Connection: close") || body != string(tc.want) {
			t.Errorf("HTTP/1.0 GET %s: head %q, %d body bytes; want 200, Connection: close, %d bytes", tc.query, head, len(body), len(tc.want))
		}
	}
}

// TestCommittedStatus checks that once the app produced a body block (write() or a yielded
// block) its status is what the client gets, whatever the timing: the status, the bytes
// produced, then the connection closes without a clean end (no last-chunk; short of the
// Content-Length). Never a fresh 500. It loops, so that a race between the worker's error
// and the master's flush would show.
func TestCommittedStatus(t *testing.T) {
	s := respondStart(t)
	const rounds = 300
	for _, tc := range []struct {
		target, proto string
		wantHead      []string // in the head
		wantBody      string   // all bytes after the head, until the close
	}{
		{"/write-raise", "HTTP/1.1", []string{"Transfer-Encoding: chunked"}, "7\r\npartial\r\n"},
		{"/yield-raise", "HTTP/1.1", []string{"Transfer-Encoding: chunked"}, "7\r\npartial\r\n"},
		{"/write-raise?cl=100", "HTTP/1.1", []string{"Content-Length: 100"}, "partial"},
		{"/yield-raise", "HTTP/1.0", []string{"Connection: close"}, "partial"},
	} {
		for i := range rounds {
			c := pepDial(t, s)
			io.WriteString(c, "GET "+tc.target+" "+tc.proto+"\r\nHost: t\r\n\r\n")
			raw, err := io.ReadAll(c)
			c.Close()
			if err != nil {
				t.Fatalf("GET %s %s round %d: %v after %q", tc.target, tc.proto, i, err, raw)
			}
			head, body, _ := strings.Cut(string(raw), "\r\n\r\n")
			ok := strings.HasPrefix(head, tc.proto+" 200 OK\r\n") && body == tc.wantBody
			for _, h := range tc.wantHead {
				ok = ok && strings.Contains(head+"\r\n", "\r\n"+h+"\r\n")
			}
			if !ok {
				t.Fatalf("GET %s %s round %d got:\n%s\nwant a 200 with %q, then %q and the connection closed", tc.target, tc.proto, i, raw, tc.wantHead, tc.wantBody)
			}
		}
	}
	if !s.waitForLogCount("RuntimeError: respond-yield-raise", 2*rounds, 10*time.Second) {
		t.Errorf("%d tracebacks of respond-yield-raise in the log; want %d", s.logCount("RuntimeError: respond-yield-raise"), 2*rounds)
	}
}

// TestAppStatusAndLengthRefused checks what an app may not send: a final status outside 200
// to 599 (a 1xx is interim, 101 would switch protocols; RFC 9110 §15), or a Content-Length
// that is not plain digits (RFC 9110 §8.6). Each is a logged 500, and the request pipelined
// behind it is not mistaken for a part of it.
func TestAppStatusAndLengthRefused(t *testing.T) {
	s := respondStart(t)
	for _, status := range []string{"100 Continue", "101 Switching Protocols", "103 Early Hints", "199 Odd", "600 Odd", "999 Odd"} {
		refusedWith500(t, s, "status "+status, "GET /status?s="+url.QueryEscape(status)+" HTTP/1.1\r\nHost: t\r\n\r\n")
		if !s.log.waitFor(`invalid status from application: not a final status (200 to 599) status="\"`+status+`\""`, 5*time.Second) {
			t.Errorf("status %q: no error log line naming it", status)
		}
	}
	for _, v := range []string{"+4", " 4", "4 ", "4,4", "-4", "0x4", "", "4.0", "99999999999999999999"} {
		refusedWith500(t, s, "Content-Length "+strconv.Quote(v), "GET /cl?v="+url.QueryEscape(v)+" HTTP/1.1\r\nHost: t\r\n\r\n")
	}
	if r := pipelined(t, s, "GET", "GET /cl?v=4 HTTP/1.1\r\nHost: t\r\n\r\n"); r.status != 200 || string(r.body) != "body" {
		t.Errorf("Content-Length 4: %d %q; want 200 body", r.status, r.body)
	}
}

// TestFramingFollowsApp checks that the framing depends on what the app returned, never on
// timing: a list gets a Content-Length (however big), a generator chunked encoding (however
// small). It loops, so that a framing chosen by what happened to be buffered would show.
func TestFramingFollowsApp(t *testing.T) {
	s := respondStart(t)
	c := pepDial(t, s)
	c.SetDeadline(time.Now().Add(60 * time.Second))
	br := bufio.NewReader(c)
	for i := range 300 {
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: t\r\n\r\nGET /gen HTTP/1.1\r\nHost: t\r\n\r\n")
		for _, want := range []string{"content-length", "chunked"} {
			r, err := readResponse(br, "GET")
			if err != nil || string(r.body) != "hello" {
				t.Fatalf("round %d: %+v, %v", i, r, err)
			}
			got := "content-length"
			if r.header("Transfer-Encoding") == "chunked" {
				got = "chunked"
			}
			if got != want {
				t.Fatalf("round %d: framed with %s; want %s (the list gets a Content-Length, the generator chunked)", i, got, want)
			}
		}
	}
	for _, n := range []int{0, 1, 5 << 20} {
		r := s.get("/biglist?n=" + strconv.Itoa(n))
		if r.status != 200 || len(r.body) != n || r.header("Content-Length") != strconv.Itoa(n) {
			t.Errorf("a list of %d bytes: %d, %d bytes, Content-Length %q; want it framed with Content-Length %d", n, r.status, len(r.body), r.header("Content-Length"), n)
		}
	}
}

// TestKeepAliveAnnouncedOnlyWhenKept checks that an HTTP/1.0 keep-alive response that says
// keep-alive keeps the connection: a list body shorter than its Content-Length is known
// before the head goes out, so the head says close; a longer one is cut to its length and
// the connection stays. Both are logged.
func TestKeepAliveAnnouncedOnlyWhenKept(t *testing.T) {
	s := respondStart(t)
	const ka = " HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"

	r := pipelined(t, s, "GET", "GET /list-long"+ka)
	if r.header("Connection") != "keep-alive" || string(r.body) != "01234" {
		t.Errorf("GET /list-long: Connection %q, body %q; want keep-alive and 01234", r.header("Connection"), r.body)
	}

	c := pepDial(t, s)
	io.WriteString(c, "GET /list-short"+ka)
	br := bufio.NewReader(c)
	head, err := readHead(br)
	if err != nil || head.header("Connection") != "close" || head.header("Content-Length") != "10" {
		t.Fatalf("GET /list-short: %+v, %v; want Content-Length 10 and Connection: close", head, err)
	}
	if rest, err := io.ReadAll(br); string(rest) != "01234" || err != nil {
		t.Errorf("GET /list-short body %q, %v; want 01234, then the close", rest, err)
	}
	for _, path := range []string{"/list-long", "/list-short"} {
		if !s.log.waitFor(`response body length differs from its Content-Length request="GET `+path+`"`, 5*time.Second) {
			t.Errorf("no warning naming GET %s", path)
		}
	}
}

// TestErrorResponseVersion checks the server's own error responses: their version follows
// the request's once its request line was parsed as far as the version, and is HTTP/1.1
// before that; a response to HEAD has no body.
func TestErrorResponseVersion(t *testing.T) {
	s := respondStart(t, "--limit-request-body", "10", "--limit-request-line", "200")
	for _, tc := range []struct {
		name, req, want string
	}{
		{"bad header, 1.0", "GET / HTTP/1.0\r\nBad Header\r\n\r\n", "HTTP/1.0 400 "},
		{"bad header, 1.1", "GET / HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n", "HTTP/1.1 400 "},
		{"body too large, 1.0", "POST / HTTP/1.0\r\nContent-Length: 11\r\n\r\n", "HTTP/1.0 413 "},
		{"app status refused, 1.0", "GET /status?s=100+Continue HTTP/1.0\r\n\r\n", "HTTP/1.0 500 "},
		{"version not supported", "GET / HTTP/2.0\r\n\r\n", "HTTP/1.1 505 "},
		{"request line too long", "GET /" + strings.Repeat("a", 300) + " HTTP/1.0\r\n\r\n", "HTTP/1.1 414 "},
		{"not a request line", "NONSENSE\r\n\r\n", "HTTP/1.1 400 "},
	} {
		raw := s.raw(tc.req, 5*time.Second)
		if !strings.HasPrefix(raw, tc.want) || !strings.Contains(raw, "\r\nConnection: close\r\n") {
			t.Errorf("%s: %q; want %q... with Connection: close", tc.name, firstLine(raw), tc.want)
		}
	}
	raw := s.raw("HEAD / HTTP/1.0\r\nBad Header\r\n\r\n", 5*time.Second)
	if head, body, _ := strings.Cut(raw, "\r\n\r\n"); !strings.HasPrefix(head, "HTTP/1.0 400 ") || body != "" || !strings.Contains(head, "Content-Length: 12") {
		t.Errorf("HEAD with a bad header: %q; want a 400 head with Content-Length 12 and no body", raw)
	}
}

// TestAccessLogEveryResponse checks that every response the server sends, its own error
// responses included, gets one access-log line with its status and the body bytes sent.
func TestAccessLogEveryResponse(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "access.log")
	s := respondStart(t, "--access-logfile", logPath, "--access-logformat", `%(s)s %(B)s "%(r)s"`,
		"--timeout", "1", "--limit-request-body", "10", "--limit-request-line", "200",
		"--limit-request-fields", "5", "--header-timeout", "1")
	for _, tc := range []struct {
		req  string
		line string // the access-log line
	}{
		{"GET /hang HTTP/1.1\r\nHost: t\r\n\r\n", `504 16 "GET /hang HTTP/1.1"`},
		{"POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\n", `413 18 "POST /big HTTP/1.1"`},
		{"NONSENSE\r\n\r\n", `400 12 "-"`},
		{"GET /" + strings.Repeat("a", 300) + " HTTP/1.1\r\n\r\n", `414 13 "-"`},
		{"GET /v HTTP/2.0\r\n\r\n", `505 27 "-"`},
		{"GET /fields HTTP/1.1\r\nHost: t\r\nA: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\nE: 1\r\n\r\n", `431 32 "GET /fields HTTP/1.1"`},
		{"GET /slow-head HTTP/1.1\r\nHost: t\r\n", `408 16 "GET /slow-head HTTP/1.1"`},
		{"GET /status?s=101+Switching+Protocols HTTP/1.0\r\n\r\n", `500 22 "GET /status?s=101+Switching+Protocols HTTP/1.0"`},
		{"HEAD /status?s=600+Odd HTTP/1.1\r\nHost: t\r\n\r\n", `500 0 "HEAD /status?s=600+Odd HTTP/1.1"`},
		{"GET /yield-raise HTTP/1.1\r\nHost: t\r\n\r\n", `200 7 "GET /yield-raise HTTP/1.1"`},
	} {
		raw := s.raw(tc.req, 10*time.Second)
		status := strings.Fields(tc.line)[0]
		if fields := strings.Fields(firstLine(raw)); len(fields) < 2 || fields[1] != status {
			t.Errorf("%q: the client got %q; want %s", firstLine(tc.req), firstLine(raw), status)
		}
		re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(tc.line) + `$`)
		deadline := time.Now().Add(5 * time.Second)
		for {
			b, _ := os.ReadFile(logPath)
			if n := len(re.FindAll(b, -1)); n == 1 {
				break
			} else if n > 1 || time.Now().After(deadline) {
				t.Errorf("%q: %d access-log lines %q; want one in:\n%s", firstLine(tc.req), n, tc.line, b)
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	b, _ := os.ReadFile(logPath)
	if n := strings.Count(string(b), "\n"); n != 10 {
		t.Errorf("%d access-log lines; want 10 (one per response):\n%s", n, b)
	}
}
