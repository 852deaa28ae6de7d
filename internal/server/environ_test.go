package server

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"testing"

	"github.com/gonicorn/gonicorn/internal/http1"
	"github.com/gonicorn/gonicorn/internal/proxy"
)

// decodeEnviron decodes the marshal dict that appendEnviron writes: '{', pairs of 'z' (1-byte
// length) or 'a' (4-byte length) strings, '0'. wire.Decode reads only the version 2 subset the
// worker writes ('u' strings), hence this decoder. Strings are returned as their raw bytes,
// which Python reads as latin-1. A key written twice is an error: Python would silently keep
// the last one.
func decodeEnviron(b []byte) (map[string]string, error) {
	if len(b) == 0 || b[0] != '{' {
		return nil, fmt.Errorf("does not start with '{'")
	}
	off := 1
	str := func() (string, error) {
		if off >= len(b) {
			return "", fmt.Errorf("truncated at %d", off)
		}
		code := b[off]
		off++
		var n int
		switch code {
		case 'z':
			if off+1 > len(b) {
				return "", fmt.Errorf("truncated length at %d", off)
			}
			n = int(b[off])
			off++
		case 'a':
			if off+4 > len(b) {
				return "", fmt.Errorf("truncated length at %d", off)
			}
			n = int(binary.LittleEndian.Uint32(b[off:]))
			off += 4
			if n < 256 {
				return "", fmt.Errorf("'a' string of %d bytes at %d; want 'z' below 256", n, off)
			}
		default:
			return "", fmt.Errorf("type code %q at %d; want 'z' or 'a'", code, off-1)
		}
		if off+n > len(b) {
			return "", fmt.Errorf("truncated string at %d", off)
		}
		s := string(b[off : off+n])
		off += n
		return s, nil
	}
	env := make(map[string]string)
	for {
		if off < len(b) && b[off] == '0' {
			off++
			break
		}
		k, err := str()
		if err != nil {
			return nil, fmt.Errorf("key: %v", err)
		}
		v, err := str()
		if err != nil {
			return nil, fmt.Errorf("value of %q: %v", k, err)
		}
		if _, dup := env[k]; dup {
			return nil, fmt.Errorf("key %q written twice", k)
		}
		env[k] = v
	}
	if off != len(b) {
		return nil, fmt.Errorf("%d bytes after the dict", len(b)-off)
	}
	return env, nil
}

// testConn returns a connection from 10.0.0.7:54321 to the listener at 127.0.0.1:8000.
func testConn(cfg Config) *conn {
	return &conn{
		srv:        &Server{cfg: cfg},
		remoteHost: "10.0.0.7", remotePort: "54321",
		localHost: "127.0.0.1", localPort: "8000",
	}
}

// environ parses the request head raw and returns the environ appendEnviron writes for it.
func environ(t *testing.T, cn *conn, raw string, bodyLen int64) map[string]string {
	t.Helper()
	buf := []byte(raw)
	if _, err := http1.ParseHead(buf, nil, &cn.req); err != nil {
		t.Fatalf("ParseHead(%q) = %v", raw, err)
	}
	b := cn.appendEnviron(nil, &cn.req, bodyLen)
	env, err := decodeEnviron(b)
	if err != nil {
		t.Fatalf("appendEnviron(%q) = %q: %v", raw, b, err)
	}
	return env
}

const absent = "\x00absent" // in a want map: the key must not be there

func TestAppendEnviron(t *testing.T) {
	long := strings.Repeat("v", 300) // written as an 'a' string
	tests := []struct {
		name    string
		root    string // Config.RootPath
		raw     string // the request head
		bodyLen int64  // -1: no body
		want    map[string]string
	}{
		// The CGI basics (PEP 3333, RFC 3875 §4.1).
		{"basics", "", "GET /p HTTP/1.1\r\nHost: example.com\r\n\r\n", -1, map[string]string{
			"REQUEST_METHOD": "GET", "SERVER_PROTOCOL": "HTTP/1.1", "SERVER_SOFTWARE": "gonicorn/test",
			"REMOTE_ADDR": "10.0.0.7", "REMOTE_PORT": "54321", "wsgi.url_scheme": "http",
			"SCRIPT_NAME": "", "PATH_INFO": "/p", "QUERY_STRING": "", "HTTP_HOST": "example.com",
			"CONTENT_LENGTH": absent, "CONTENT_TYPE": absent,
		}},
		{"HTTP/1.0", "", "GET / HTTP/1.0\r\n\r\n", -1, map[string]string{"SERVER_PROTOCOL": "HTTP/1.0"}},

		// SERVER_NAME/PORT from Host (docs/architecture.md: port 80 when it has none), else
		// from the listening socket.
		{"Host with port", "", "GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n", -1,
			map[string]string{"SERVER_NAME": "example.com", "SERVER_PORT": "8080"}},
		{"Host without port", "", "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", -1,
			map[string]string{"SERVER_NAME": "example.com", "SERVER_PORT": "80"}},
		{"Host IPv6 with port", "", "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", -1,
			map[string]string{"SERVER_NAME": "[::1]", "SERVER_PORT": "8080"}},
		{"Host IPv6 without port", "", "GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n", -1,
			map[string]string{"SERVER_NAME": "[::1]", "SERVER_PORT": "80"}},
		{"Host name case kept", "", "GET / HTTP/1.1\r\nhOsT: Example.COM\r\n\r\n", -1,
			map[string]string{"SERVER_NAME": "Example.COM", "HTTP_HOST": "Example.COM"}},
		{"no Host", "", "GET / HTTP/1.0\r\n\r\n", -1,
			map[string]string{"SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "HTTP_HOST": absent}},
		// PEP 3333: SERVER_NAME and SERVER_PORT "can never be empty strings". An empty Host
		// (RFC 9112 §3.2 allows one when the target has no authority) says nothing, as in
		// gunicorn; an empty port is the scheme's default (RFC 3986 §3.2.3).
		{"empty Host", "", "GET / HTTP/1.1\r\nHost:\r\n\r\n", -1,
			map[string]string{"SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "HTTP_HOST": ""}},
		{"Host with empty port", "", "GET / HTTP/1.1\r\nHost: example.com:\r\n\r\n", -1,
			map[string]string{"SERVER_NAME": "example.com", "SERVER_PORT": "80"}},

		// RFC 9110 §5.3: repeated fields are one list, joined with ", "; names compare
		// case-insensitively (RFC 9110 §5.1) and the first spelling names the key.
		{"repeated fields", "", "GET / HTTP/1.1\r\nHost: h\r\nAccept: a\r\nX-A: 1\r\naccept: b\r\nX-B: 2\r\nACCEPT: c\r\nx-a: 3\r\n\r\n", -1,
			map[string]string{"HTTP_ACCEPT": "a, b, c", "HTTP_X_A": "1, 3", "HTTP_X_B": "2"}},
		{"repeated empty field", "", "GET / HTTP/1.1\r\nHost: h\r\nX-E:\r\nX-E: v\r\n\r\n", -1,
			map[string]string{"HTTP_X_E": ", v"}},

		// RFC 3875 §4.1.2-3: the body's fields have CGI names and no HTTP_ twin; CONTENT_LENGTH
		// is the body the app will read.
		{"Content-Type and Content-Length", "", "POST / HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n", 5,
			map[string]string{"CONTENT_TYPE": "text/plain", "CONTENT_LENGTH": "5",
				"HTTP_CONTENT_TYPE": absent, "HTTP_CONTENT_LENGTH": absent}},
		{"Content-Length names compared without case", "", "POST / HTTP/1.1\r\nHost: h\r\ncontent-length: 0\r\nCONTENT-type: a/b\r\n\r\n", 0,
			map[string]string{"CONTENT_TYPE": "a/b", "CONTENT_LENGTH": "0", "HTTP_CONTENT_LENGTH": absent}},
		{"no body", "", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", -1, map[string]string{"CONTENT_LENGTH": absent}},
		// docs/architecture.md: a chunked body reaches the app de-chunked, described by
		// CONTENT_LENGTH alone (RFC 9112 §7.1.3).
		{"chunked", "", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", 11,
			map[string]string{"CONTENT_LENGTH": "11", "HTTP_TRANSFER_ENCODING": absent}},
		{"chunked, name in another case", "", "POST / HTTP/1.1\r\nHost: h\r\ntransfer-ENCODING: chunked\r\n\r\n", 0,
			map[string]string{"CONTENT_LENGTH": "0", "HTTP_TRANSFER_ENCODING": absent}},
		// A coding under chunked stays on the de-chunked body: the app is told, as in
		// gunicorn, by the field as received (both lines of a split field, joined).
		{"gzip, chunked", "", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 7,
			map[string]string{"CONTENT_LENGTH": "7", "HTTP_TRANSFER_ENCODING": "gzip, chunked"}},
		{"gzip then chunked on two lines", "", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", 7,
			map[string]string{"CONTENT_LENGTH": "7", "HTTP_TRANSFER_ENCODING": "gzip, chunked"}},
		// identity is no coding: under chunked the de-chunked body is plain, described by
		// CONTENT_LENGTH alone. (identity alone is refused: RFC 9112 §6.3, TestParseHeadFraming.)
		{"Transfer-Encoding identity", "", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity, chunked\r\n\r\n", 2,
			map[string]string{"CONTENT_LENGTH": "2", "HTTP_TRANSFER_ENCODING": absent}},

		// PATH_INFO is percent-decoded (RFC 3986 §2.1), bytes read as latin-1 (PEP 3333);
		// invalid escapes stay, '+' is not a space, %2F is '/', like unquote_to_bytes.
		{"PATH_INFO decoded", "", "GET /caf%C3%A9/a%20b%2Fc+d/%zz/%4 HTTP/1.1\r\nHost: h\r\n\r\n", -1,
			map[string]string{"PATH_INFO": "/caf\xc3\xa9/a b/c+d/%zz/%4", "RAW_URI": "/caf%C3%A9/a%20b%2Fc+d/%zz/%4"}},
		{"PATH_INFO latin-1 byte", "", "GET /%E9t%E9 HTTP/1.1\r\nHost: h\r\n\r\n", -1,
			map[string]string{"PATH_INFO": "/\xe9t\xe9"}},

		// SCRIPT_NAME is --root-path; a decoded path under it loses the prefix, at a
		// segment boundary only.
		{"root path stripped", "/app", "GET /app/x HTTP/1.1\r\nHost: h\r\n\r\n", -1,
			map[string]string{"SCRIPT_NAME": "/app", "PATH_INFO": "/x"}},
		{"root path exactly", "/app", "GET /app HTTP/1.1\r\nHost: h\r\n\r\n", -1,
			map[string]string{"SCRIPT_NAME": "/app", "PATH_INFO": ""}},
		{"root path with slash", "/app", "GET /app/ HTTP/1.1\r\nHost: h\r\n\r\n", -1,
			map[string]string{"SCRIPT_NAME": "/app", "PATH_INFO": "/"}},
		{"root path with query", "/app", "GET /app?q=1 HTTP/1.1\r\nHost: h\r\n\r\n", -1,
			map[string]string{"SCRIPT_NAME": "/app", "PATH_INFO": "", "QUERY_STRING": "q=1"}},
		{"root path not a segment", "/app", "GET /application HTTP/1.1\r\nHost: h\r\n\r\n", -1,
			map[string]string{"SCRIPT_NAME": "/app", "PATH_INFO": "/application"}},
		{"outside the root path", "/app", "GET /other/app HTTP/1.1\r\nHost: h\r\n\r\n", -1,
			map[string]string{"SCRIPT_NAME": "/app", "PATH_INFO": "/other/app"}},
		{"root path matched after decoding", "/app", "GET /%61pp/x HTTP/1.1\r\nHost: h\r\n\r\n", -1,
			map[string]string{"SCRIPT_NAME": "/app", "PATH_INFO": "/x", "RAW_URI": "/%61pp/x"}},
		{"nested root path", "/a/b", "GET /a/b/c HTTP/1.1\r\nHost: h\r\n\r\n", -1,
			map[string]string{"SCRIPT_NAME": "/a/b", "PATH_INFO": "/c"}},

		// QUERY_STRING is raw (RFC 3875 §4.1.7); RAW_URI and REQUEST_URI are the target as
		// received (RFC 9112 §3.2).
		{"query raw", "", "GET /p?a=%20b&c=d+e&f=%zz HTTP/1.1\r\nHost: h\r\n\r\n", -1,
			map[string]string{"QUERY_STRING": "a=%20b&c=d+e&f=%zz", "PATH_INFO": "/p",
				"RAW_URI": "/p?a=%20b&c=d+e&f=%zz", "REQUEST_URI": "/p?a=%20b&c=d+e&f=%zz"}},
		{"empty query", "", "GET /p? HTTP/1.1\r\nHost: h\r\n\r\n", -1,
			map[string]string{"QUERY_STRING": "", "RAW_URI": "/p?"}},
		// RFC 9112 §3.2.2: absolute-form; the path comes from the target.
		{"absolute-form", "", "GET http://example.com/p?q HTTP/1.1\r\nHost: example.com\r\n\r\n", -1,
			map[string]string{"PATH_INFO": "/p", "QUERY_STRING": "q",
				"RAW_URI": "http://example.com/p?q", "REQUEST_URI": "http://example.com/p?q"}},

		// RFC 3875 §4.1.18: HTTP_ + the name upper-cased with '-' as '_'. A name with '_' is
		// dropped by the parser (header_map=drop), so X_Foo cannot pose as X-Foo.
		{"header names", "", "GET / HTTP/1.1\r\nHost: h\r\nx-forwarded-for: 1.2.3.4\r\nX-Custom-Header: v\r\nDNT: 1\r\nX_Foo: spoof\r\n\r\n", -1,
			map[string]string{"HTTP_X_FORWARDED_FOR": "1.2.3.4", "HTTP_X_CUSTOM_HEADER": "v",
				"HTTP_DNT": "1", "HTTP_X_FOO": absent}},
		// RFC 9110 §5.5: obs-text in a value reaches the app as latin-1.
		{"latin-1 value", "", "GET / HTTP/1.1\r\nHost: h\r\nX-Name: caf\xe9\r\n\r\n", -1,
			map[string]string{"HTTP_X_NAME": "caf\xe9"}},
		{"long value", "", "GET / HTTP/1.1\r\nHost: h\r\nX-Long: " + long + "\r\nX-Long: " + long + "\r\n\r\n", -1,
			map[string]string{"HTTP_X_LONG": long + ", " + long}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cn := testConn(Config{RootPath: tt.root, Software: "gonicorn/test"})
			env := environ(t, cn, tt.raw, tt.bodyLen)
			for k, want := range tt.want {
				got, ok := env[k]
				switch {
				case want == absent && ok:
					t.Errorf("appendEnviron(%q)[%s] = %q; want no such key", tt.raw, k, got)
				case want != absent && !ok:
					t.Errorf("appendEnviron(%q)[%s] missing; want %q", tt.raw, k, want)
				case want != absent && got != want:
					t.Errorf("appendEnviron(%q)[%s] = %q; want %q", tt.raw, k, got, want)
				}
			}
		})
	}
}

// TestAppendEnvironReuse checks that the conn's scratch buffers carry nothing from one
// request to the next.
func TestAppendEnvironReuse(t *testing.T) {
	cn := testConn(Config{RootPath: "/app"})
	first := environ(t, cn, "GET /app/%41%42%43/long/path?x HTTP/1.1\r\nHost: h:1\r\nX-Aaaaaaaa: 1\r\nX-Aaaaaaaa: 2\r\n\r\n", -1)
	second := environ(t, cn, "GET /b HTTP/1.1\r\nHost: h\r\nX-B: 3\r\nX-B: 4\r\n\r\n", -1)
	want := map[string]string{"PATH_INFO": "/b", "HTTP_X_B": "3, 4", "SERVER_PORT": "80", "HTTP_X_AAAAAAAA": absent, "QUERY_STRING": ""}
	for k, w := range want {
		if got, ok := second[k]; w == absent && ok || w != absent && got != w {
			t.Errorf("second appendEnviron[%s] = %q; want %q", k, got, w)
		}
	}
	if got := first["PATH_INFO"]; got != "/ABC/long/path" {
		t.Errorf("first appendEnviron[PATH_INFO] = %q; want %q", got, "/ABC/long/path")
	}
}

// TestAppendEnvironPython loads the environ with the real marshal.loads, which the worker
// uses, and compares it with decodeEnviron's reading: every key and value a str, read as
// latin-1.
func TestAppendEnvironPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	cn := testConn(Config{RootPath: "/app", Software: "gonicorn/test"})
	raw := "POST /app/caf%C3%A9?q=%20 HTTP/1.1\r\nHost: [::1]:8080\r\nX-Name: caf\xe9\r\nX-Long: " +
		strings.Repeat("y", 400) + "\r\nAccept: a\r\naccept: b\r\nTransfer-Encoding: chunked\r\n\r\n"
	if _, err := http1.ParseHead([]byte(raw), nil, &cn.req); err != nil {
		t.Fatal(err)
	}
	b := cn.appendEnviron(nil, &cn.req, 42)
	want, err := decodeEnviron(b)
	if err != nil {
		t.Fatal(err)
	}
	const script = `
import json, marshal, sys
env = marshal.loads(sys.stdin.buffer.read())
assert type(env) is dict, type(env)
for k, v in env.items():
    assert type(k) is str and type(v) is str, (k, v)
print(json.dumps({k.encode("latin-1").hex(): v.encode("latin-1").hex() for k, v in env.items()}))
`
	cmd := exec.Command(py, "-c", script)
	cmd.Stdin = bytes.NewReader(b)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3 marshal.loads: %v\n%s", err, stderr.Bytes())
	}
	var hexEnv map[string]string
	if err := json.Unmarshal(out, &hexEnv); err != nil {
		t.Fatalf("python3 output %q: %v", out, err)
	}
	got := make(map[string]string)
	for k, v := range hexEnv {
		kb, err1 := hex.DecodeString(k)
		vb, err2 := hex.DecodeString(v)
		if err1 != nil || err2 != nil {
			t.Fatalf("python3 output %q: bad hex", out)
		}
		got[string(kb)] = string(vb)
	}
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if got[k] != want[k] {
			t.Errorf("marshal.loads(environ)[%q] = %q; want %q", k, got[k], want[k])
		}
	}
	if len(got) != len(want) {
		t.Errorf("marshal.loads(environ) has %d keys; want %d", len(got), len(want))
	}
	if got["PATH_INFO"] != "/caf\xc3\xa9" || got["HTTP_X_NAME"] != "caf\xe9" {
		t.Errorf("marshal.loads(environ): PATH_INFO %q, HTTP_X_NAME %q; want latin-1 %q, %q",
			got["PATH_INFO"], got["HTTP_X_NAME"], "/caf\xc3\xa9", "caf\xe9")
	}
}

// TestAppendEnvironForwarder checks a trusted proxy's forwarder headers (--forwarder-headers)
// from the parse to the environ, and that they do not outlive their request on the
// connection.
func TestAppendEnvironForwarder(t *testing.T) {
	trust, err := proxy.ParseTrust("*")
	if err != nil {
		t.Fatal(err)
	}
	fwd, err := proxy.ParseForwarder("SCRIPT_NAME,PATH_INFO,REMOTE_USER")
	if err != nil {
		t.Fatal(err)
	}
	cn := testConn(Config{RootPath: "/root", Trust: trust, Forwarder: fwd})
	cn.srv.trustedLimits.Forwarder = fwd.Keeps
	env := func(trusted bool, raw string) map[string]string {
		t.Helper()
		cn.trustedPeer = trusted
		if _, err := http1.ParseHead([]byte(raw), cn.limits(), &cn.req); err != nil {
			t.Fatalf("ParseHead(%q) = %v", raw, err)
		}
		if he := cn.resolveForwarded(); he != nil {
			t.Fatalf("resolveForwarded(%q) = %v", raw, he)
		}
		e, err := decodeEnviron(cn.appendEnviron(nil, &cn.req, -1))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	for _, tc := range []struct {
		name    string
		trusted bool
		raw     string
		want    map[string]string
	}{
		{"mount point, percent-decoded path", true, "GET /app/%41b HTTP/1.1\r\nHost: h\r\nSCRIPT_NAME: /app\r\nREMOTE_USER: bob\r\n\r\n",
			map[string]string{"SCRIPT_NAME": "/app", "PATH_INFO": "/Ab", "REMOTE_USER": "bob", "HTTP_SCRIPT_NAME": "/app"}},
		{"next request without them: the root path again", true, "GET /root/x HTTP/1.1\r\nHost: h\r\n\r\n",
			map[string]string{"SCRIPT_NAME": "/root", "PATH_INFO": "/x", "REMOTE_USER": absent, "HTTP_SCRIPT_NAME": absent}},
		{"PATH_INFO as sent", true, "GET /whatever HTTP/1.1\r\nHost: h\r\nPATH_INFO: /p%20q\r\n\r\n",
			map[string]string{"SCRIPT_NAME": "/root", "PATH_INFO": "/p%20q"}},
		{"untrusted: dropped", false, "GET /root/x HTTP/1.1\r\nHost: h\r\nSCRIPT_NAME: /app\r\nREMOTE_USER: bob\r\n\r\n",
			map[string]string{"SCRIPT_NAME": "/root", "PATH_INFO": "/x", "REMOTE_USER": absent, "HTTP_SCRIPT_NAME": absent, "HTTP_REMOTE_USER": absent}},
	} {
		got := env(tc.trusted, tc.raw)
		for k, w := range tc.want {
			if g, ok := got[k]; w == absent && ok || w != absent && g != w {
				t.Errorf("%s: environ[%s] = %q; want %q", tc.name, k, g, w)
			}
		}
	}
}
