package server

import (
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/gonicorn/gonicorn/internal/http1"
)

var idRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// TestIDSource checks the generated ids: 32 hex digits, one prefix per source, distinct
// across goroutines and sources.
func TestIDSource(t *testing.T) {
	a, b := newIDSource(), newIDSource()
	if a.prefix == b.prefix {
		t.Errorf("two sources share the prefix %s; want a random one each", a.prefix)
	}
	const goroutines, each = 8, 2000
	ids := make(chan string, goroutines*each+1)
	var wg sync.WaitGroup
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for range each {
				buf = a.append(buf[:0])
				ids <- string(buf)
			}
		}()
	}
	wg.Wait()
	ids <- string(b.append(nil))
	close(ids)
	seen := make(map[string]bool)
	for id := range ids {
		if !idRE.MatchString(id) {
			t.Fatalf("id %q; want 32 lower-case hex digits", id)
		}
		if seen[id] {
			t.Fatalf("id %s generated twice", id)
		}
		seen[id] = true
	}
	// Consecutive ids do not count up in the open: the counter is mixed.
	x, y := string(a.append(nil)), string(a.append(nil))
	if x[16:29] == y[16:29] {
		t.Errorf("consecutive ids %s and %s differ only at the end; want the counter mixed", x, y)
	}
}

func TestMix64IsOneToOne(t *testing.T) {
	seen := make(map[uint64]uint64)
	for _, start := range []uint64{0, 1 << 63, ^uint64(0) - 5000} {
		for i := uint64(0); i < 5000; i++ {
			z := mix64(start + i)
			if prev, ok := seen[z]; ok {
				t.Fatalf("mix64(%d) = mix64(%d) = %x", start+i, prev, z)
			}
			seen[z] = start + i
		}
	}
}

func TestValidRequestID(t *testing.T) {
	tests := []struct {
		v    string
		want bool
	}{
		{"abc", true},
		{"f47ac10b-58cc-4372-a567-0e02b2c3d479", true},
		{"Root=1-67891233-abcdef012345678912345678;Parent=53995c3f42cd8ad8", true}, // AWS
		{`a"b\c`, true}, // escaped by the logs
		{strings.Repeat("a", maxRequestIDLen), true},
		{strings.Repeat("a", maxRequestIDLen+1), false},
		{"", false},
		{"a b", false},
		{"a\tb", false},
		{"a\x00b", false},
		{"a\x7fb", false},
		{"caf\xc3\xa9", false},
	}
	for _, tt := range tests {
		if got := validRequestID([]byte(tt.v)); got != tt.want {
			t.Errorf("validRequestID(%q) = %v; want %v", tt.v, got, tt.want)
		}
	}
}

// TestRequestIDEnviron checks that the app sees the request's id under the header's key and
// never a client's value instead, however the client spells the header.
func TestRequestIDEnviron(t *testing.T) {
	tests := []struct {
		header string // --request-id-header
		raw    string
		key    string // the environ key of the id
		gone   []string
	}{
		{"X-Request-ID", "GET / HTTP/1.1\r\nHost: h\r\nX-Request-Id: forged\r\n\r\n", "HTTP_X_REQUEST_ID", nil},
		{"X-Request-ID", "GET / HTTP/1.1\r\nHost: h\r\nx-request-id: a\r\nX-REQUEST-ID: b\r\n\r\n", "HTTP_X_REQUEST_ID", nil},
		{"X-Request-ID", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP_X_REQUEST_ID", nil},
		// --header-map dangerous passes X_Request_ID, which CGI maps to the same key.
		{"X-Request-ID", "GET / HTTP/1.1\r\nHost: h\r\nX_Request_ID: forged\r\n\r\n", "HTTP_X_REQUEST_ID", nil},
		{"X-Correlation-ID", "GET / HTTP/1.1\r\nHost: h\r\nX-Correlation-Id: forged\r\nX-Request-Id: kept\r\n\r\n", "HTTP_X_CORRELATION_ID", nil},
	}
	for _, tt := range tests {
		cn := testConn(Config{Software: "gonicorn/test", RequestIDHeader: tt.header,
			Limits: http1.Limits{HeaderMap: http1.HeaderMapDangerous}})
		cn.srv.ids, cn.srv.idEnviron = newIDSource(), environKey(tt.header)
		cn.reqID = []byte("the-id")
		buf := []byte(tt.raw)
		if _, err := http1.ParseHead(buf, &cn.srv.cfg.Limits, &cn.req); err != nil {
			t.Fatalf("ParseHead(%q) = %v", tt.raw, err)
		}
		env, err := decodeEnviron(cn.appendEnviron(nil, &cn.req, -1))
		if err != nil {
			t.Fatalf("appendEnviron(%q): %v", tt.raw, err)
		}
		if env[tt.key] != "the-id" {
			t.Errorf("--request-id-header %s, %q: environ[%s] = %q; want the request's id", tt.header, tt.raw, tt.key, env[tt.key])
		}
		if tt.header == "X-Correlation-ID" && env["HTTP_X_REQUEST_ID"] != "kept" {
			t.Errorf("--request-id-header %s: HTTP_X_REQUEST_ID = %q; want the client's, untouched", tt.header, env["HTTP_X_REQUEST_ID"])
		}
	}
	// With request ids off, the header is a header like any other.
	cn := testConn(Config{Software: "gonicorn/test"})
	env := environ(t, cn, "GET / HTTP/1.1\r\nHost: h\r\nX-Request-Id: client\r\n\r\n", -1)
	if env["HTTP_X_REQUEST_ID"] != "client" {
		t.Errorf("ids off: HTTP_X_REQUEST_ID = %q; want the client's", env["HTTP_X_REQUEST_ID"])
	}
}

func TestEnvironKey(t *testing.T) {
	for in, want := range map[string]string{"X-Request-ID": "HTTP_X_REQUEST_ID", "x-correlation-id": "HTTP_X_CORRELATION_ID", "Trace_Id": "HTTP_TRACE_ID"} {
		if got := environKey(in); got != want {
			t.Errorf("environKey(%q) = %q; want %q", in, got, want)
		}
	}
}

// TestReqLog checks that the lines about a request end with its id, after their own
// attributes, and that a request without an id logs as before.
func TestReqLog(t *testing.T) {
	var buf strings.Builder
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))
	cn := testConn(Config{})
	cn.srv.log = log
	cn.reqLog().Error("no id", "k", 1)
	cn.reqID = []byte("rid-1")
	cn.reqLog().With("w", 2).Error("with id", "k", 1)
	want := "level=ERROR msg=\"no id\" k=1\nlevel=ERROR msg=\"with id\" w=2 k=1 request_id=rid-1\n"
	if buf.String() != want {
		t.Errorf("reqLog lines = %q; want %q", buf.String(), want)
	}
}

// TestRequestIDAllocs pins that a request id costs no allocation per request: taking or
// generating it, and writing it into the environ.
func TestRequestIDAllocs(t *testing.T) {
	for _, trusted := range []bool{false, true} {
		cn := testConn(Config{Software: "gonicorn/test", RequestIDHeader: "X-Request-ID"})
		cn.srv.ids, cn.srv.idEnviron = newIDSource(), environKey("X-Request-ID")
		cn.trustedPeer = trusted
		raw := []byte("GET /p HTTP/1.1\r\nHost: h\r\nX-Request-ID: lb-1\r\nUser-Agent: x\r\n\r\n")
		if _, err := http1.ParseHead(raw, nil, &cn.req); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 0, 4096)
		allocs := testing.AllocsPerRun(100, func() {
			cn.takeRequestID()
			buf = cn.appendEnviron(buf[:0], &cn.req, -1)
		})
		if allocs != 0 {
			t.Errorf("trusted=%v: a request id costs %v allocations per request; want 0", trusted, allocs)
		}
	}
}
