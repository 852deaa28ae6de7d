package e2e

// End-to-end tests of PEP 3333 as a client sees it, against test/apps/pep.py: native
// strings, wsgi.input, write(), exc_info, close(), wsgi.file_wrapper, streaming, HTTP
// framing, and slow clients that must not hold up a worker.

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// pepStart starts gonicorn serving module from test/apps with extra flags.
func pepStart(t *testing.T, module string, flags ...string) *server {
	t.Helper()
	args := append([]string{"--python", python(t), "--chdir", appsDir(t)}, flags...)
	return start(t, append(args, module)...)
}

// pepDial connects to s; the connection is closed at cleanup and fails after 10 s.
func pepDial(t *testing.T, s *server) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// appGate is an event a test app waits on (?gate=PORT): the app connects to a loopback
// listener and blocks reading one byte, which open writes. Cleanup closes everything, so an
// app never stays blocked after a failed test.
type appGate struct {
	t  *testing.T
	ln *net.TCPListener
	c  net.Conn // the app's connection, once arrived
}

func newAppGate(t *testing.T) *appGate {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	g := &appGate{t: t, ln: ln}
	t.Cleanup(func() {
		ln.Close()
		if g.c != nil {
			g.c.Close()
		}
	})
	return g
}

// query is the query parameter that names the gate.
func (g *appGate) query() string {
	return "gate=" + strconv.Itoa(g.ln.Addr().(*net.TCPAddr).Port)
}

// arrived waits until the app reached the gate.
func (g *appGate) arrived() {
	g.t.Helper()
	if g.c != nil {
		return
	}
	g.ln.SetDeadline(time.Now().Add(10 * time.Second))
	c, err := g.ln.Accept()
	if err != nil {
		g.t.Fatalf("the app did not reach its gate: %v", err)
	}
	g.c = c
}

// open lets the app pass the gate.
func (g *appGate) open() {
	g.t.Helper()
	g.arrived()
	if _, err := g.c.Write([]byte("x")); err != nil {
		g.t.Fatalf("opening the gate: %v", err)
	}
}

// waitForFile waits until path exists (a marker an app writes).
func waitForFile(path string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		if _, err := os.Stat(path); err == nil {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// readHead reads a response's status line and header fields, and nothing of its body.
func readHead(br *bufio.Reader) (*response, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("reading status line: %w", err)
	}
	r := &response{headers: map[string][]string{}}
	if _, err := fmt.Sscanf(line, "%s %d", &r.proto, &r.status); err != nil {
		return nil, fmt.Errorf("bad status line %q", line)
	}
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("reading headers: %w", err)
		}
		l = strings.TrimSuffix(l, "\r\n")
		if l == "" {
			return r, nil
		}
		k, v, _ := strings.Cut(l, ":")
		k = strings.ToLower(k)
		r.headers[k] = append(r.headers[k], strings.TrimSpace(v))
	}
}

// readChunk reads one chunk of a chunked body and returns its data.
func readChunk(br *bufio.Reader) (string, error) {
	l, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(l), 16, 64)
	if err != nil {
		return "", fmt.Errorf("bad chunk size line %q", l)
	}
	b := make([]byte, n+2)
	if _, err := io.ReadFull(br, b); err != nil {
		return "", err
	}
	if string(b[n:]) != "\r\n" {
		return "", fmt.Errorf("chunk not followed by CRLF: %q", b[n:])
	}
	return string(b[:n]), nil
}

// jsonBody decodes a JSON response body.
func jsonBody(t *testing.T, r *response) map[string]any {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("status = %d; want 200; body %q", r.status, r.body)
	}
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("decoding %q: %v", r.body, err)
	}
	return m
}

// TestPEP3333NativeStrings checks that the environ carries the wire's bytes as latin-1
// native strings, undecoded where PEP 3333 and CGI say so.
func TestPEP3333NativeStrings(t *testing.T) {
	s := pepStart(t, "pep")

	c := pepDial(t, s)
	io.WriteString(c, "GET /caf%C3%A9?x=%C3%A9&y=a+b HTTP/1.1\r\nHost: example.org:8081\r\n"+
		"X-Latin: caf\xc3\xa9 \xff\r\nX-Multi: one\r\nX-Other: o\r\nx-multi: two\r\n\r\n")
	r, err := readResponse(bufio.NewReader(c), "GET")
	if err != nil {
		t.Fatal(err)
	}
	env := jsonBody(t, r)
	local := c.LocalAddr().(*net.TCPAddr)
	want := map[string]any{
		// RFC 3986 §2.1: PATH_INFO is percent-decoded; PEP 3333: each byte one code point.
		"PATH_INFO": "/caf\u00c3\u00a9",
		"RAW_URI":   "/caf%C3%A9?x=%C3%A9&y=a+b",
		// CGI (RFC 3875 §4.1.7): QUERY_STRING is not decoded.
		"QUERY_STRING": "x=%C3%A9&y=a+b",
		// RFC 9110 §5.5: obs-text bytes in a field value arrive as latin-1 characters.
		"HTTP_X_LATIN": "caf\u00c3\u00a9 \u00ff",
		// RFC 9110 §5.3: repeated fields are joined with ", ", whatever the name's case.
		"HTTP_X_MULTI": "one, two",
		"SERVER_NAME":  "example.org",
		"SERVER_PORT":  "8081",
		"REMOTE_ADDR":  "127.0.0.1",
		"REMOTE_PORT":  strconv.Itoa(local.Port),
		"SCRIPT_NAME":  "",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("environ[%q] = %#v; want %#v", k, env[k], v)
		}
	}

	// Without a Host header (HTTP/1.0), SERVER_NAME/PORT are the listening socket's.
	env = jsonBody(t, s.do("GET /env HTTP/1.0\r\n\r\n"))
	host, port, _ := net.SplitHostPort(s.addr)
	if env["SERVER_NAME"] != host || env["SERVER_PORT"] != port {
		t.Errorf("without Host: SERVER_NAME, SERVER_PORT = %v, %v; want %s, %s", env["SERVER_NAME"], env["SERVER_PORT"], host, port)
	}
	if env["SERVER_PROTOCOL"] != "HTTP/1.0" {
		t.Errorf("SERVER_PROTOCOL = %v; want HTTP/1.0", env["SERVER_PROTOCOL"])
	}
}

// TestPEP3333ScriptName checks the mount point, from --root-path and from -e SCRIPT_NAME:
// the prefix moves from PATH_INFO to SCRIPT_NAME.
func TestPEP3333ScriptName(t *testing.T) {
	for _, flag := range [][]string{{"--root-path", "/app"}, {"-e", "SCRIPT_NAME=/app"}} {
		t.Run(strings.Join(flag, " "), func(t *testing.T) {
			s := pepStart(t, "pep", flag...)
			for _, tc := range []struct{ target, script, path string }{
				{"/app/env", "/app", "/env"},
				{"/app/caf%C3%A9", "/app", "/caf\u00c3\u00a9"},
				{"/app", "/app", ""},
			} {
				env := jsonBody(t, s.get(tc.target))
				if env["SCRIPT_NAME"] != tc.script || env["PATH_INFO"] != tc.path || env["RAW_URI"] != tc.target {
					t.Errorf("GET %s: SCRIPT_NAME, PATH_INFO, RAW_URI = %q, %q, %q; want %q, %q, %q",
						tc.target, env["SCRIPT_NAME"], env["PATH_INFO"], env["RAW_URI"], tc.script, tc.path, tc.target)
				}
			}
		})
	}
}

// lineBody returns a body of numbered lines that ends with a line without a newline, and
// its number of full lines.
func lineBody(size int) ([]byte, int) {
	var b bytes.Buffer
	n := 0
	for b.Len() < size {
		fmt.Fprintf(&b, "line %07d\n", n)
		n++
	}
	b.WriteString("tail without newline")
	return b.Bytes(), n
}

// chunked encodes body with Transfer-Encoding: chunked in pieces of at most size bytes.
func chunked(body []byte, size int) []byte {
	var b bytes.Buffer
	for len(body) > 0 {
		n := min(size, len(body))
		fmt.Fprintf(&b, "%x\r\n", n)
		b.Write(body[:n])
		b.WriteString("\r\n")
		body = body[n:]
	}
	b.WriteString("0\r\n\r\n")
	return b.Bytes()
}

// TestPEP3333Input runs every wsgi.input method over a small body (inline in the request
// frame), a big one (passed as a file descriptor) and chunked bodies of both sizes (which
// arrive de-chunked, with CONTENT_LENGTH).
func TestPEP3333Input(t *testing.T) {
	s := pepStart(t, "pep")
	small, smallLines := lineBody(100)
	big, bigLines := lineBody(5 << 20)
	bigChunked, bigChunkedLines := lineBody(2 << 20)
	bodies := []struct {
		name    string
		body    []byte
		lines   int
		chunked bool
	}{
		{"small", small, smallLines, false},
		{"big", big, bigLines, false},
		{"chunked-small", small, smallLines, true},
		{"chunked-big", bigChunked, bigChunkedLines, true},
	}
	eof := []any{"b''", "b''", "b''", "b''", "[]", "[]"}
	for _, b := range bodies {
		sum := sha256.Sum256(b.body)
		for _, mode := range []string{"readall", "chunks", "mixed", "iter"} {
			t.Run(b.name+"/"+mode, func(t *testing.T) {
				head := "POST /input?mode=" + mode + " HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\n"
				var req []byte
				if b.chunked {
					req = append([]byte(head+"Transfer-Encoding: chunked\r\n\r\n"), chunked(b.body, 100000)...)
				} else {
					req = append([]byte(head+"Content-Length: "+strconv.Itoa(len(b.body))+"\r\n\r\n"), b.body...)
				}
				res := jsonBody(t, s.do(string(req)))
				if res["sha256"] != hex.EncodeToString(sum[:]) || res["n"] != float64(len(b.body)) {
					t.Errorf("read %v bytes, sha256 %v; want %d, %x", res["n"], res["sha256"], len(b.body), sum)
				}
				if res["content_length"] != strconv.Itoa(len(b.body)) || res["terminated"] != true || res["transfer_encoding"] != nil {
					t.Errorf("CONTENT_LENGTH, wsgi.input_terminated, HTTP_TRANSFER_ENCODING = %v, %v, %v; want %d, true, none",
						res["content_length"], res["terminated"], res["transfer_encoding"], len(b.body))
				}
				if got := fmt.Sprint(res["eof"]); got != fmt.Sprint(eof) {
					t.Errorf("at the end, read(1), read(n), readline(), readline(5), readlines(), list() = %s; want %s", got, fmt.Sprint(eof))
				}
				var want []any
				switch mode {
				case "mixed": // readline(), readline(3), read(5), len(readlines())
					want = []any{"line 0000000\n", "lin", "e 000", float64(b.lines)}
				case "iter": // lines, all but the last end with \n
					want = []any{float64(b.lines + 1), true}
				}
				if want != nil && fmt.Sprintf("%q", res["parts"]) != fmt.Sprintf("%q", want) {
					t.Errorf("parts = %q; want %q", res["parts"], want)
				}
			})
		}
	}
}

// TestPEP3333Write checks the write() callable, alone and followed by a returned iterable.
func TestPEP3333Write(t *testing.T) {
	s := pepStart(t, "pep")
	for _, tc := range []struct{ mode, want string }{
		{"plain", "written-1 written-2 "},
		{"iter", "written-1 written-2 yielded-1 yielded-2"},
	} {
		r := s.get("/write?mode=" + tc.mode)
		if r.status != 200 || string(r.body) != tc.want {
			t.Errorf("GET /write?mode=%s = %d %q; want 200 %q", tc.mode, r.status, r.body, tc.want)
		}
	}
}

// TestPEP3333ExcInfo checks start_response with exc_info (PEP 3333, "The start_response()
// Callable") and a second call without it.
func TestPEP3333ExcInfo(t *testing.T) {
	s := pepStart(t, "pep")

	// Before anything was sent, the error handler's status and headers replace the first.
	r := s.get("/exc-before")
	if r.status != 500 || r.header("X-Error-Page") != "1" || string(r.body) != "error page" {
		t.Errorf("GET /exc-before = %d X-Error-Page %q %q; want 500 1 %q", r.status, r.header("X-Error-Page"), r.body, "error page")
	}

	// A second call without exc_info is an error.
	if r := s.get("/second-start"); r.status != 500 {
		t.Errorf("GET /second-start = %d %q; want 500", r.status, r.body)
	}
	if !s.log.waitFor("start_response called a second time", 5*time.Second) {
		t.Errorf("no traceback for the second start_response in the log")
	}

	// After a block reached the client, start_response(exc_info) re-raises: the response
	// can only be cut short, without the last chunk.
	g := newAppGate(t)
	c := pepDial(t, s)
	io.WriteString(c, "GET /exc-after?"+g.query()+" HTTP/1.1\r\nHost: t\r\n\r\n")
	br := bufio.NewReader(c)
	assertTruncatedAfterBlock1(t, br, g)
	if !s.log.waitFor("ValueError: pep-exc-after", 5*time.Second) {
		t.Errorf("the re-raised exception is not in the log")
	}
}

// assertTruncatedAfterBlock1 reads a chunked 200 with the block "block1", opens the gate the
// app waits on before failing, and checks that the connection then closes without the last
// chunk.
func assertTruncatedAfterBlock1(t *testing.T, br *bufio.Reader, g *appGate) {
	t.Helper()
	head, err := readHead(br)
	if err != nil {
		t.Fatal(err)
	}
	if head.status != 200 || head.header("Transfer-Encoding") != "chunked" {
		t.Fatalf("status %d, Transfer-Encoding %q; want 200 chunked", head.status, head.header("Transfer-Encoding"))
	}
	if chunk, err := readChunk(br); err != nil || chunk != "block1" {
		t.Fatalf("first chunk = %q, %v; want block1", chunk, err)
	}
	g.open()
	rest, err := io.ReadAll(br)
	if err != nil {
		t.Fatalf("after block1: %v (read %q); want the connection closed", err, rest)
	}
	if len(rest) != 0 {
		t.Errorf("after block1 the client got %q; want nothing (no terminating chunk)", rest)
	}
}

// TestPEP3333Close checks that close() of the app's iterable is called after success, after
// an exception during iteration, and when the client goes away mid-stream.
func TestPEP3333Close(t *testing.T) {
	s := pepStart(t, "pep")
	dir := t.TempDir()
	marker := func(name string) (string, string) {
		p := filepath.Join(dir, name)
		return p, "marker=" + url.QueryEscape(p)
	}

	p, q := marker("ok")
	if r := s.get("/close?mode=ok&" + q); r.status != 200 || string(r.body) != "block1 block2 " {
		t.Errorf("GET /close?mode=ok = %d %q; want 200 %q", r.status, r.body, "block1 block2 ")
	}
	if !waitForFile(p, 5*time.Second) {
		t.Errorf("close() not called after a successful response")
	}

	p, q = marker("raise")
	if r := s.get("/close?mode=raise&" + q); r.status != 500 {
		t.Errorf("GET /close?mode=raise = %d; want 500", r.status)
	}
	if !waitForFile(p, 5*time.Second) {
		t.Errorf("close() not called after the iterable raised")
	}

	// The app streams 64 KiB blocks forever; the client reads some and hangs up.
	p, q = marker("forever")
	c := pepDial(t, s)
	io.WriteString(c, "GET /close?mode=forever&"+q+" HTTP/1.1\r\nHost: t\r\n\r\n")
	if _, err := io.ReadFull(c, make([]byte, 256<<10)); err != nil {
		t.Fatalf("reading the stream: %v", err)
	}
	c.Close()
	if !waitForFile(p, 10*time.Second) {
		t.Fatalf("close() not called within 10 s of the client hanging up")
	}
	// The worker is free again.
	if r := s.get("/env"); r.status != 200 {
		t.Errorf("GET /env after the cancelled stream = %d", r.status)
	}
}

// TestPEP3333Errors checks that wsgi.errors goes to the error log, tagged with the worker's
// pid.
func TestPEP3333Errors(t *testing.T) {
	s := pepStart(t, "pep")
	res := jsonBody(t, s.get("/errors?msg=pep-wsgi-errors-marker"))
	want := fmt.Sprintf("[%d] [INFO] pep-wsgi-errors-marker", int(res["pid"].(float64)))
	if !s.log.waitFor(want, 5*time.Second) {
		t.Errorf("error log has no line %q", want)
	}
}

// TestPEP3333FileWrapper checks wsgi.file_wrapper over a real file (passed to the master and
// sent with sendfile) and over a BytesIO (no fileno: iterated).
func TestPEP3333FileWrapper(t *testing.T) {
	s := pepStart(t, "pep")
	data := make([]byte, 3<<20+123)
	rand.Read(data)
	path := filepath.Join(t.TempDir(), "data.bin")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	file := "/file?path=" + url.QueryEscape(path)
	for _, tc := range []struct {
		name, query string
		want        []byte
	}{
		{"whole file", "", data},
		{"Content-Length of the whole file", "&cl=" + strconv.Itoa(len(data)), data},
		{"Content-Length shorter than the file", "&cl=1000", data[:1000]},
		{"from an offset", "&offset=1000", data[1000:]},
		{"offset and Content-Length", "&offset=1000&cl=5000", data[1000:6000]},
	} {
		r := s.get(file + tc.query)
		if r.status != 200 || !bytes.Equal(r.body, tc.want) {
			t.Errorf("%s: status %d, %d bytes; want 200, %d bytes (equal: %v)", tc.name, r.status, len(r.body), len(tc.want), bytes.Equal(r.body, tc.want))
		}
		if strings.Contains(tc.query, "cl=") && r.header("Content-Length") != strconv.Itoa(len(tc.want)) {
			t.Errorf("%s: Content-Length = %q; want %d", tc.name, r.header("Content-Length"), len(tc.want))
		}
	}
	// The same file, twice on one connection: the framing of the first is exact.
	c := pepDial(t, s)
	br := bufio.NewReader(c)
	for i := range 2 {
		io.WriteString(c, "GET "+file+"&cl=1000 HTTP/1.1\r\nHost: t\r\n\r\n")
		r, err := readResponse(br, "GET")
		if err != nil || !bytes.Equal(r.body, data[:1000]) {
			t.Fatalf("request %d on one connection: %v, %d bytes", i+1, err, len(r.body))
		}
	}

	var want bytes.Buffer
	for i := range 10000 {
		fmt.Fprintf(&want, "bytesio %05d\n", i)
	}
	if r := s.get("/bytesio"); r.status != 200 || !bytes.Equal(r.body, want.Bytes()) {
		t.Errorf("GET /bytesio = %d, %d bytes; want 200, %d bytes", r.status, len(r.body), want.Len())
	}
}

// TestPEP3333Flags checks the constant wsgi.* keys, and that wsgi.multithread and
// wsgi.multiprocess follow --threads and -w.
func TestPEP3333Flags(t *testing.T) {
	for _, tc := range []struct {
		flags        []string
		thread, proc bool
	}{
		{[]string{"-w", "1", "--threads", "1"}, false, false},
		{[]string{"-w", "2", "--threads", "4"}, true, true},
	} {
		t.Run(strings.Join(tc.flags, " "), func(t *testing.T) {
			s := pepStart(t, "pep", tc.flags...)
			env := jsonBody(t, s.get("/env"))
			want := map[string]any{
				"wsgi.multithread": tc.thread, "wsgi.multiprocess": tc.proc,
				"wsgi.run_once": false, "wsgi.version_is_tuple": true,
				"wsgi.file_wrapper": true, "wsgi.input_terminated": true,
				"wsgi.url_scheme": "http",
			}
			for k, v := range want {
				if env[k] != v {
					t.Errorf("environ[%q] = %#v; want %#v", k, env[k], v)
				}
			}
			if fmt.Sprint(env["wsgi.version"]) != "[1 0]" {
				t.Errorf("wsgi.version = %v; want (1, 0)", env["wsgi.version"])
			}
		})
	}
}

// TestPEP3333Streaming checks that a yielded block reaches the client before the app computes
// the next (PEP 3333, "Buffering and Streaming"): the app yields block 1 and waits for the
// test, which lets it go on only after it received block 1.
func TestPEP3333Streaming(t *testing.T) {
	s := pepStart(t, "pep")

	t.Run("HTTP/1.1 chunked", func(t *testing.T) {
		g := newAppGate(t)
		c := pepDial(t, s)
		io.WriteString(c, "GET /stream?"+g.query()+" HTTP/1.1\r\nHost: t\r\n\r\n")
		br := bufio.NewReader(c)
		head, err := readHead(br)
		if err != nil {
			t.Fatal(err)
		}
		// RFC 9112 §6.1: a body of unknown length on HTTP/1.1 is chunked.
		if head.status != 200 || head.header("Transfer-Encoding") != "chunked" || head.header("Content-Length") != "" {
			t.Fatalf("status %d, Transfer-Encoding %q, Content-Length %q; want 200, chunked, none",
				head.status, head.header("Transfer-Encoding"), head.header("Content-Length"))
		}
		if chunk, err := readChunk(br); err != nil || chunk != "block1" {
			t.Fatalf("first chunk = %q, %v; want block1", chunk, err)
		}
		g.open()
		if chunk, err := readChunk(br); err != nil || chunk != "block2" {
			t.Fatalf("second chunk = %q, %v; want block2", chunk, err)
		}
		if last, err := br.ReadString('\n'); err != nil || last != "0\r\n" {
			t.Fatalf("last chunk = %q, %v; want 0", last, err)
		}
	})

	t.Run("HTTP/1.0 close-delimited", func(t *testing.T) {
		g := newAppGate(t)
		c := pepDial(t, s)
		io.WriteString(c, "GET /stream?"+g.query()+" HTTP/1.0\r\n\r\n")
		br := bufio.NewReader(c)
		head, err := readHead(br)
		if err != nil {
			t.Fatal(err)
		}
		// RFC 9112 §6.3 (rule 8): without a length, the body ends when the connection does.
		if head.status != 200 || head.header("Transfer-Encoding") != "" || head.header("Content-Length") != "" {
			t.Fatalf("status %d, Transfer-Encoding %q, Content-Length %q; want 200, none, none",
				head.status, head.header("Transfer-Encoding"), head.header("Content-Length"))
		}
		block := make([]byte, 6)
		if _, err := io.ReadFull(br, block); err != nil || string(block) != "block1" {
			t.Fatalf("first block = %q, %v; want block1", block, err)
		}
		g.open()
		rest, err := io.ReadAll(br)
		if err != nil || string(rest) != "block2" {
			t.Fatalf("rest = %q, %v; want block2 then the close", rest, err)
		}
	})
}

// TestPEP3333Framing checks HTTP/1.x message framing around the app.
func TestPEP3333Framing(t *testing.T) {
	s := pepStart(t, "pep")

	t.Run("keep-alive", func(t *testing.T) {
		c := pepDial(t, s)
		br := bufio.NewReader(c)
		for i := range 2 {
			io.WriteString(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nreq-"+strconv.Itoa(i))
			r, err := readResponse(br, "POST")
			if err != nil || r.status != 200 || string(r.body) != "req-"+strconv.Itoa(i) || r.closed {
				t.Fatalf("request %d: %v; want 200 %q, connection kept", i, err, "req-"+strconv.Itoa(i))
			}
		}
	})

	t.Run("pipelining", func(t *testing.T) {
		// RFC 9112 §9.3.2: pipelined requests are answered in order.
		c := pepDial(t, s)
		var req string
		for i := range 3 {
			req += "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\npipe" + strconv.Itoa(i)
		}
		io.WriteString(c, req)
		br := bufio.NewReader(c)
		for i := range 3 {
			r, err := readResponse(br, "POST")
			if err != nil || string(r.body) != "pipe"+strconv.Itoa(i) {
				t.Fatalf("response %d: %v %q; want %q", i, err, r.body, "pipe"+strconv.Itoa(i))
			}
		}
	})

	t.Run("HTTP/1.0 closes by default", func(t *testing.T) {
		// RFC 9112 §9.3: HTTP/1.0 without keep-alive closes after the response.
		c := pepDial(t, s)
		io.WriteString(c, "POST /echo HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi")
		out, err := io.ReadAll(c)
		if err != nil {
			t.Fatalf("reading until close: %v", err)
		}
		if !strings.HasPrefix(string(out), "HTTP/1.0 200 ") || !strings.HasSuffix(string(out), "\r\n\r\nhi") {
			t.Errorf("HTTP/1.0 response = %q; want an HTTP/1.0 200 with body hi, then the close", out)
		}
	})

	t.Run("HTTP/1.0 keep-alive", func(t *testing.T) {
		c := pepDial(t, s)
		br := bufio.NewReader(c)
		for i := range 2 {
			io.WriteString(c, "POST /echo HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nk"+strconv.Itoa(i))
			r, err := readResponse(br, "POST")
			if err != nil || r.status != 200 || string(r.body) != "k"+strconv.Itoa(i) {
				t.Fatalf("request %d: %v; want 200 %q", i, err, "k"+strconv.Itoa(i))
			}
			if !strings.EqualFold(r.header("Connection"), "keep-alive") || r.header("Content-Length") != "2" {
				t.Fatalf("request %d: Connection %q, Content-Length %q; want keep-alive, 2", i, r.header("Connection"), r.header("Content-Length"))
			}
		}
	})

	t.Run("Expect: 100-continue", func(t *testing.T) {
		// RFC 9110 §10.1.1: the client waits for 100 (Continue) before sending the body.
		c := pepDial(t, s)
		io.WriteString(c, "POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 7\r\n\r\n")
		br := bufio.NewReader(c)
		interim, err := readHead(br)
		if err != nil || interim.status != 100 || interim.proto != "HTTP/1.1" {
			t.Fatalf("interim response = %+v, %v; want HTTP/1.1 100 Continue", interim, err)
		}
		io.WriteString(c, "payload")
		r, err := readResponse(br, "POST")
		if err != nil || r.status != 200 || string(r.body) != "payload" {
			t.Fatalf("final response: %v %+v; want 200 payload", err, r)
		}
	})

	t.Run("HEAD", func(t *testing.T) {
		// RFC 9110 §9.3.2: HEAD gets GET's header fields and no body. The GET after it on
		// the same connection would be garbled if a body byte leaked.
		c := pepDial(t, s)
		br := bufio.NewReader(c)
		io.WriteString(c, "GET /cl HTTP/1.1\r\nHost: t\r\n\r\nHEAD /cl HTTP/1.1\r\nHost: t\r\n\r\nGET /cl HTTP/1.1\r\nHost: t\r\n\r\n")
		get, err := readResponse(br, "GET")
		if err != nil || string(get.body) != "hello world!" {
			t.Fatalf("GET /cl: %v %q", err, get.body)
		}
		head, err := readResponse(br, "HEAD")
		if err != nil || head.status != 200 {
			t.Fatalf("HEAD /cl: %v", err)
		}
		// Each request has its own date and request id.
		for _, h := range []string{"date", "x-request-id"} {
			delete(get.headers, h)
			delete(head.headers, h)
		}
		if fmt.Sprint(get.headers) != fmt.Sprint(head.headers) {
			t.Errorf("HEAD headers = %v; want GET's %v", head.headers, get.headers)
		}
		if r, err := readResponse(br, "GET"); err != nil || r.status != 200 || string(r.body) != "hello world!" {
			t.Fatalf("GET after HEAD: %v; want 200 hello world!", err)
		}
	})

	t.Run("204 and 304", func(t *testing.T) {
		// RFC 9110 §15.3.5, §15.4.5: no body, and so no Transfer-Encoding either.
		c := pepDial(t, s)
		br := bufio.NewReader(c)
		for _, code := range []string{"204", "304"} {
			io.WriteString(c, "GET /status?code="+code+" HTTP/1.1\r\nHost: t\r\n\r\n")
			r, err := readResponse(br, "GET")
			if err != nil || strconv.Itoa(r.status) != code || r.header("X-Status") != code {
				t.Fatalf("GET /status?code=%s: %v status %d", code, err, r.status)
			}
			if r.header("Transfer-Encoding") != "" || (r.header("Content-Length") != "" && r.header("Content-Length") != "0") {
				t.Errorf("%s: Transfer-Encoding %q, Content-Length %q; want neither", code, r.header("Transfer-Encoding"), r.header("Content-Length"))
			}
		}
		io.WriteString(c, "GET /cl HTTP/1.1\r\nHost: t\r\n\r\n")
		if r, err := readResponse(br, "GET"); err != nil || string(r.body) != "hello world!" {
			t.Fatalf("GET after 204 and 304: %v; want hello world!", err)
		}
	})

	t.Run("Content-Length from the app", func(t *testing.T) {
		r := s.get("/cl")
		if r.header("Content-Length") != "12" || r.header("Transfer-Encoding") != "" || string(r.body) != "hello world!" {
			t.Errorf("GET /cl: Content-Length %q, Transfer-Encoding %q, body %q; want 12, none, hello world!",
				r.header("Content-Length"), r.header("Transfer-Encoding"), r.body)
		}
	})
}

// quickRequests makes n requests one after the other while a slow client holds a
// connection; it fails the test unless all complete within 10 s.
func quickRequests(t *testing.T, s *server, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for i := range n {
		c := pepDial(t, s)
		c.SetDeadline(deadline)
		io.WriteString(c, "GET /env HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
		r, err := readResponse(bufio.NewReader(c), "GET")
		c.Close()
		if err != nil || r.status != 200 {
			t.Fatalf("request %d of %d while a slow client is connected: %v", i+1, n, err)
		}
	}
}

// TestSlowClient checks that, with one worker, a client reading a 10 MiB response slowly
// does not hold up other requests: the master buffers the response, the worker is free.
func TestSlowClient(t *testing.T) {
	s := pepStart(t, "pep", "-w", "1")
	const size = 10 << 20
	c := pepDial(t, s)
	c.(*net.TCPConn).SetReadBuffer(4096)
	c.SetDeadline(time.Time{})
	io.WriteString(c, "GET /big?n="+strconv.Itoa(size)+" HTTP/1.1\r\nHost: t\r\n\r\n")

	// The slow reader takes 2 KiB every 20 ms (about 100 KiB/s) until told to stop.
	var (
		read    int // guarded by mu
		readErr error
		mu      sync.Mutex
	)
	started := make(chan struct{}) // closed when the first bytes arrived
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for total := 0; ; {
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			n, err := c.Read(buf)
			if total == 0 && n > 0 {
				close(started)
			}
			total += n
			mu.Lock()
			read, readErr = total, err
			mu.Unlock()
			if err != nil {
				return
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	// The response started: the worker was handed the big request.
	select {
	case <-started:
	case <-done:
		t.Fatalf("the big response failed: %v", readErr)
	}

	quickRequests(t, s, 20)

	close(stop)
	<-done
	mu.Lock()
	defer mu.Unlock()
	if readErr != nil {
		t.Errorf("the slow client's connection failed: %v", readErr)
	}
	if read >= size {
		t.Errorf("the slow client read all %d bytes before the other requests completed; the test proves nothing", read)
	}
}

// TestSlowUploader checks that, with one worker, a client that sends half of its body and
// pauses does not hold up other requests: the master reads the whole body first.
func TestSlowUploader(t *testing.T) {
	s := pepStart(t, "pep", "-w", "1")
	body, _ := lineBody(2 << 20)
	sum := sha256.Sum256(body)
	c := pepDial(t, s)
	io.WriteString(c, "POST /input?mode=chunks HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n")
	half := len(body) / 2
	if _, err := c.Write(body[:half]); err != nil {
		t.Fatal(err)
	}

	quickRequests(t, s, 20)

	if _, err := c.Write(body[half:]); err != nil {
		t.Fatalf("sending the rest of the body: %v", err)
	}
	r, err := readResponse(bufio.NewReader(c), "POST")
	if err != nil {
		t.Fatal(err)
	}
	res := jsonBody(t, r)
	if res["sha256"] != hex.EncodeToString(sum[:]) {
		t.Errorf("the slow upload arrived with sha256 %v; want %x", res["sha256"], sum)
	}
}
