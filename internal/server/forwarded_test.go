package server

import (
	"testing"

	"github.com/gonicorn/gonicorn/internal/http1"
	"github.com/gonicorn/gonicorn/internal/proxy"
)

// TestAppendEnvironForwarded checks what forwarded headers change in the environ, from a
// trusted peer (testConn's 10.0.0.7) and from an untrusted one. docs/proxy.md is the spec.
func TestAppendEnvironForwarded(t *testing.T) {
	trust, err := proxy.ParseTrust("10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		trusted bool
		raw     string
		status  int // 0: want the environ below
		want    map[string]string
	}{
		// No forwarded headers: the socket's view, as before.
		{"plain", true, "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", 0, map[string]string{
			"wsgi.url_scheme": "http", "SERVER_NAME": "example.com", "SERVER_PORT": "80",
			"REMOTE_ADDR": "10.0.0.7", "REMOTE_PORT": "54321", "HTTP_HOST": "example.com"}},
		// X-Forwarded-Proto: https → the scheme, and its default port 443 (RFC 9110 §4.2.2).
		{"proto https", true, "GET / HTTP/1.1\r\nHost: example.com\r\nX-Forwarded-Proto: https\r\n\r\n", 0, map[string]string{
			"wsgi.url_scheme": "https", "SERVER_NAME": "example.com", "SERVER_PORT": "443",
			"HTTP_HOST": "example.com", "HTTP_X_FORWARDED_PROTO": "https"}},
		// The Host's own port still wins over the default.
		{"proto https, Host with port", true, "GET / HTTP/1.1\r\nHost: example.com:8443\r\nX-Forwarded-Proto: https\r\n\r\n", 0, map[string]string{
			"SERVER_PORT": "8443", "HTTP_HOST": "example.com:8443"}},
		// Without Host, the proxy's scheme default replaces our socket's port.
		{"proto https, no Host", true, "GET / HTTP/1.0\r\nX-Forwarded-Proto: https\r\n\r\n", 0, map[string]string{
			"SERVER_NAME": "127.0.0.1", "SERVER_PORT": "443", "HTTP_HOST": absent}},
		// X-Forwarded-For: the rightmost untrusted hop; no port, so REMOTE_PORT is empty.
		{"XFF", true, "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 192.0.2.1, 198.51.100.2, 10.0.0.9\r\n\r\n", 0, map[string]string{
			"REMOTE_ADDR": "198.51.100.2", "REMOTE_PORT": "", "HTTP_X_FORWARDED_FOR": "192.0.2.1, 198.51.100.2, 10.0.0.9"}},
		// X-Forwarded-Host replaces HTTP_HOST and SERVER_NAME; the internal Host is gone.
		{"X-Forwarded-Host", true, "GET / HTTP/1.1\r\nHost: internal:8000\r\nX-Forwarded-Host: example.com\r\nX-Forwarded-Proto: https\r\n\r\n", 0, map[string]string{
			"HTTP_HOST": "example.com", "SERVER_NAME": "example.com", "SERVER_PORT": "443"}},
		// ...also when the request had no Host.
		{"X-Forwarded-Host, no Host", true, "GET / HTTP/1.0\r\nX-Forwarded-Host: example.com:8080\r\n\r\n", 0, map[string]string{
			"HTTP_HOST": "example.com:8080", "SERVER_NAME": "example.com", "SERVER_PORT": "8080"}},
		// X-Forwarded-Port: SERVER_PORT, and HTTP_HOST carries it unless it is the default.
		{"X-Forwarded-Port", true, "GET / HTTP/1.1\r\nHost: example.com:8000\r\nX-Forwarded-Port: 8443\r\nX-Forwarded-Proto: https\r\n\r\n", 0, map[string]string{
			"HTTP_HOST": "example.com:8443", "SERVER_NAME": "example.com", "SERVER_PORT": "8443"}},
		{"X-Forwarded-Port default", true, "GET / HTTP/1.1\r\nHost: example.com:8000\r\nX-Forwarded-Port: 443\r\nX-Forwarded-Proto: https\r\n\r\n", 0, map[string]string{
			"HTTP_HOST": "example.com", "SERVER_PORT": "443"}},
		// Forwarded (RFC 7239): for, proto and host of the chosen element.
		{"Forwarded", true, "GET / HTTP/1.1\r\nHost: internal\r\nForwarded: for=\"[2001:db8::1]:4711\";proto=https;host=example.com\r\n\r\n", 0, map[string]string{
			"REMOTE_ADDR": "2001:db8::1", "REMOTE_PORT": "4711", "wsgi.url_scheme": "https",
			"HTTP_HOST": "example.com", "SERVER_NAME": "example.com", "SERVER_PORT": "443"}},
		// Contradicting scheme headers: 400 (gunicorn InvalidSchemeHeaders, corpus invalid/019).
		{"contradicting", true, "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Ssl: off\r\n\r\n", 400, nil},
		// From an untrusted peer nothing changes, but the headers reach the app.
		{"untrusted", false, "GET / HTTP/1.1\r\nHost: example.com\r\nX-Forwarded-Proto: https\r\nX-Forwarded-For: 192.0.2.1\r\nX-Forwarded-Host: evil.example\r\nX-Forwarded-Port: 1\r\n\r\n", 0, map[string]string{
			"wsgi.url_scheme": "http", "SERVER_NAME": "example.com", "SERVER_PORT": "80",
			"REMOTE_ADDR": "10.0.0.7", "REMOTE_PORT": "54321", "HTTP_HOST": "example.com",
			"HTTP_X_FORWARDED_PROTO": "https", "HTTP_X_FORWARDED_FOR": "192.0.2.1", "HTTP_X_FORWARDED_HOST": "evil.example"}},
		// ...and contradicting headers are no fault: they mean nothing to us.
		{"untrusted contradicting", false, "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Ssl: off\r\n\r\n", 0, map[string]string{
			"wsgi.url_scheme": "http"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cn := testConn(Config{Trust: trust, ForwardedHeaders: proxy.AllHeaders})
			cn.trustedPeer = tt.trusted
			if _, err := http1.ParseHead([]byte(tt.raw), nil, &cn.req); err != nil {
				t.Fatalf("ParseHead(%q) = %v", tt.raw, err)
			}
			if herr := cn.resolveForwarded(); herr != nil || tt.status != 0 {
				if herr == nil || herr.Status != tt.status {
					t.Fatalf("resolveForwarded(%q) = %v; want status %d", tt.raw, herr, tt.status)
				}
				return
			}
			env, err := decodeEnviron(cn.appendEnviron(nil, &cn.req, -1))
			if err != nil {
				t.Fatalf("appendEnviron(%q): %v", tt.raw, err)
			}
			checkEnv(t, tt.raw, env, tt.want)
		})
	}
}

// TestAppendEnvironHeaderMapDangerous checks that with --header-map dangerous X-Foo and
// X_Foo, which CGI maps to the same key, are written once, joined (decodeEnviron refuses a
// key written twice), and that Content_Length is an ordinary HTTP_ key (corpus
// valid/040_compat).
func TestAppendEnvironHeaderMapDangerous(t *testing.T) {
	raw := "POST / HTTP/1.0\r\nX-Foo: 1\r\nTransfer_Encoding: tricked\r\nX_Foo: 2\r\nContent-Length: 7\r\nContent_Length: -1E23\r\nx-foo: 3\r\n\r\n"
	cn := testConn(Config{})
	if _, err := http1.ParseHead([]byte(raw), &http1.Limits{HeaderMap: http1.HeaderMapDangerous}, &cn.req); err != nil {
		t.Fatal(err)
	}
	env, err := decodeEnviron(cn.appendEnviron(nil, &cn.req, 7))
	if err != nil {
		t.Fatalf("appendEnviron(%q): %v", raw, err)
	}
	checkEnv(t, raw, env, map[string]string{
		"HTTP_X_FOO": "1, 2, 3", "HTTP_TRANSFER_ENCODING": "tricked",
		"CONTENT_LENGTH": "7", "HTTP_CONTENT_LENGTH": "-1E23"})
}

func checkEnv(t *testing.T, raw string, env, want map[string]string) {
	t.Helper()
	for k, w := range want {
		got, ok := env[k]
		switch {
		case w == absent && ok:
			t.Errorf("appendEnviron(%q)[%s] = %q; want no such key", raw, k, got)
		case w != absent && !ok:
			t.Errorf("appendEnviron(%q)[%s] missing; want %q", raw, k, w)
		case w != absent && got != w:
			t.Errorf("appendEnviron(%q)[%s] = %q; want %q", raw, k, got, w)
		}
	}
}
