package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// Proxy headers (docs/proxy.md) and --header-map, end to end: the real binary, a real
// worker running test/apps/basic.py, whose /environ route answers with the environ as JSON.
// The test client connects from 127.0.0.1, which the default --forwarded-allow-ips trusts.

// proxyServers boots the configurations these tests need at once.
type proxyServers struct {
	trusted, untrusted, drop, refuse, dangerous *server
	all                                         *server // --forwarded-allow-headers with every header
}

// allForwardedHeaders is every header --forwarded-allow-headers takes.
const allForwardedHeaders = "x-forwarded-for,x-forwarded-proto,x-forwarded-ssl,x-forwarded-protocol,x-forwarded-host,x-forwarded-port,forwarded"

func startProxyServers(t *testing.T) *proxyServers {
	t.Helper()
	base := []string{"--python", realPython(t), "--chdir", appsDir(t)}
	with := func(extra ...string) *server {
		return startNoWait(t, append(append(append([]string{}, base...), extra...), "basic")...)
	}
	ps := &proxyServers{
		trusted:   with(),                                    // default: 127.0.0.1,::1 trusted
		untrusted: with("--forwarded-allow-ips", "10.0.0.1"), // 127.0.0.1 is not a proxy here
		drop:      with("--header-map", "drop"),
		refuse:    with("--header-map", "refuse"),
		dangerous: with("--header-map", "dangerous"),
		all:       with("--forwarded-allow-headers", allForwardedHeaders),
	}
	for _, s := range []*server{ps.trusted, ps.untrusted, ps.drop, ps.refuse, ps.dangerous, ps.all} {
		s.waitReady()
	}
	return ps
}

// environOf sends a GET /environ with the given header lines and returns the environ the
// app saw.
func environOf(t *testing.T, s *server, headers string) map[string]any {
	t.Helper()
	r := s.do("GET /environ HTTP/1.1\r\n" + headers + "Connection: close\r\n\r\n")
	if r.status != 200 {
		t.Fatalf("GET /environ with %q = %d %q; want 200", headers, r.status, r.body)
	}
	var env map[string]any
	if err := json.Unmarshal(r.body, &env); err != nil {
		t.Fatalf("environ JSON %q: %v", r.body, err)
	}
	return env
}

// checkEnviron compares keys of env with want; nil in want means the key must be absent.
func checkEnviron(t *testing.T, what string, env map[string]any, want map[string]any) {
	t.Helper()
	for k, w := range want {
		got, ok := env[k]
		switch {
		case w == nil && ok:
			t.Errorf("%s: environ[%s] = %q; want no such key", what, k, got)
		case w != nil && !ok:
			t.Errorf("%s: environ has no %s; want %q", what, k, w)
		case w != nil && got != w:
			t.Errorf("%s: environ[%s] = %q; want %q", what, k, got, w)
		}
	}
}

// rejected sends a request and checks that the server answered status itself (the app
// never saw it) and closed the connection.
func rejected(t *testing.T, s *server, req string, status int) {
	t.Helper()
	out := s.raw(req, 2*time.Second)
	if !strings.HasPrefix(out, "HTTP/1.1 "+itoa(status)+" ") {
		t.Errorf("%q answered %q; want %d", firstLine(req), corpusClip([]byte(out)), status)
	}
	if !strings.Contains(out, "Connection: close\r\n") {
		t.Errorf("%q answered without Connection: close: %q", firstLine(req), corpusClip([]byte(out)))
	}
	if strings.Contains(out, "wsgi.url_scheme") {
		t.Errorf("%q reached the app: %q", firstLine(req), corpusClip([]byte(out)))
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestProxyHeaders(t *testing.T) {
	ps := startProxyServers(t)

	tests := []struct {
		name    string
		s       *server
		headers string
		want    map[string]any
	}{
		// Nothing forwarded: the socket's view.
		{"trusted, plain", ps.trusted, "Host: example.com\r\n", map[string]any{
			"wsgi.url_scheme": "http", "SERVER_NAME": "example.com", "SERVER_PORT": "80",
			"REMOTE_ADDR": "127.0.0.1"}},
		// From a trusted peer X-Forwarded-Proto sets the scheme, and SERVER_PORT becomes
		// https's default, 443 (RFC 9110 §4.2.2).
		{"trusted, X-Forwarded-Proto", ps.trusted, "Host: example.com\r\nX-Forwarded-Proto: https\r\n", map[string]any{
			"wsgi.url_scheme": "https", "SERVER_NAME": "example.com", "SERVER_PORT": "443",
			"HTTP_HOST": "example.com", "HTTP_X_FORWARDED_PROTO": "https"}},
		// gunicorn's X-Forwarded-Ssl: on means https too.
		{"trusted, X-Forwarded-Ssl", ps.trusted, "Host: example.com\r\nX-Forwarded-Ssl: on\r\n", map[string]any{
			"wsgi.url_scheme": "https", "SERVER_PORT": "443"}},
		// X-Forwarded-For: the rightmost hop that is not a trusted proxy is the client; the
		// spoofable left part is never believed past it. No port: REMOTE_PORT is empty.
		{"trusted, X-Forwarded-For chain", ps.trusted, "Host: h\r\nX-Forwarded-For: 10.6.6.6, 203.0.113.7, 127.0.0.1\r\n", map[string]any{
			"REMOTE_ADDR": "203.0.113.7", "REMOTE_PORT": "", "HTTP_X_FORWARDED_FOR": "10.6.6.6, 203.0.113.7, 127.0.0.1"}},
		// By default a trusted proxy is believed for the client address and the scheme only:
		// X-Forwarded-Host, -Port and Forwarded are what a client sends through a proxy that
		// does not set or remove them, so they change nothing (and a bad one is no 400).
		{"trusted, default ignores host, port and Forwarded", ps.trusted, "Host: site.example\r\nX-Forwarded-Host: evil.example\r\nX-Forwarded-Port: 6666\r\nForwarded: for=6.6.6.6;host=evil.example;proto=https\r\n", map[string]any{
			"REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "site.example", "SERVER_NAME": "site.example", "SERVER_PORT": "80",
			"wsgi.url_scheme": "http", "HTTP_X_FORWARDED_HOST": "evil.example", "HTTP_FORWARDED": "for=6.6.6.6;host=evil.example;proto=https"}},
		{"trusted, default ignores a malformed Forwarded", ps.trusted, "Host: h\r\nForwarded: ;;=\r\nX-Forwarded-Port: 0\r\n", map[string]any{
			"REMOTE_ADDR": "127.0.0.1", "SERVER_PORT": "80"}},
		// X-Forwarded-Host and -Port, opted in: HTTP_HOST, SERVER_NAME and SERVER_PORT are
		// what the client asked the proxy for.
		{"trusted, X-Forwarded-Host and -Port", ps.all, "Host: 127.0.0.1:8000\r\nX-Forwarded-Host: example.com\r\nX-Forwarded-Port: 8443\r\nX-Forwarded-Proto: https\r\n", map[string]any{
			"HTTP_HOST": "example.com:8443", "SERVER_NAME": "example.com", "SERVER_PORT": "8443", "wsgi.url_scheme": "https"}},
		// RFC 7239 Forwarded: for (with a port), proto and host of the element the proxy added.
		{"trusted, Forwarded", ps.all, "Host: internal\r\nForwarded: for=\"[2001:db8:cafe::17]:4711\";proto=https;host=example.org\r\n", map[string]any{
			"REMOTE_ADDR": "2001:db8:cafe::17", "REMOTE_PORT": "4711", "wsgi.url_scheme": "https",
			"HTTP_HOST": "example.org", "SERVER_NAME": "example.org", "SERVER_PORT": "443",
			"HTTP_FORWARDED": "for=\"[2001:db8:cafe::17]:4711\";proto=https;host=example.org"}},
		// RFC 7239 §5.2: a chain is read from the right, past the trusted proxy.
		{"trusted, Forwarded chain", ps.all, "Host: h\r\nForwarded: for=192.0.2.43, for=198.51.100.17;proto=https, for=127.0.0.1;proto=http\r\n", map[string]any{
			"REMOTE_ADDR": "198.51.100.17", "wsgi.url_scheme": "https"}},

		// From an untrusted peer the same headers change nothing, and still reach the app.
		{"untrusted, X-Forwarded-*", ps.untrusted, "Host: example.com\r\nX-Forwarded-Proto: https\r\nX-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Host: evil.example\r\nX-Forwarded-Port: 1\r\n", map[string]any{
			"wsgi.url_scheme": "http", "SERVER_NAME": "example.com", "SERVER_PORT": "80",
			"HTTP_HOST": "example.com", "REMOTE_ADDR": "127.0.0.1",
			"HTTP_X_FORWARDED_PROTO": "https", "HTTP_X_FORWARDED_FOR": "203.0.113.7",
			"HTTP_X_FORWARDED_HOST": "evil.example", "HTTP_X_FORWARDED_PORT": "1"}},
		{"untrusted, Forwarded", ps.untrusted, "Host: example.com\r\nForwarded: for=203.0.113.7;proto=https\r\n", map[string]any{
			"wsgi.url_scheme": "http", "REMOTE_ADDR": "127.0.0.1", "HTTP_FORWARDED": "for=203.0.113.7;proto=https"}},
		// Contradicting scheme headers from an untrusted peer mean nothing to us: no 400.
		{"untrusted, contradicting", ps.untrusted, "Host: h\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Ssl: off\r\n", map[string]any{
			"wsgi.url_scheme": "http", "HTTP_X_FORWARDED_SSL": "off"}},

		// --header-map: names with '_' are CGI-ambiguous (X_Foo and X-Foo are both HTTP_X_FOO).
		// drop (the default, gunicorn's): silently dropped.
		{"header-map drop", ps.drop, "Host: h\r\nFoo_Bar: x\r\n", map[string]any{"HTTP_FOO_BAR": nil}},
		{"header-map default", ps.trusted, "Host: h\r\nFoo_Bar: x\r\n", map[string]any{"HTTP_FOO_BAR": nil}},
		// dangerous: passed on, and X-Foo with X_Foo is one key, joined.
		{"header-map dangerous", ps.dangerous, "Host: h\r\nFoo_Bar: x\r\nFoo-Bar: y\r\n", map[string]any{"HTTP_FOO_BAR": "x, y"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkEnviron(t, tt.name, environOf(t, tt.s, tt.headers), tt.want)
		})
	}

	// Contradicting scheme headers from a trusted proxy: gunicorn's InvalidSchemeHeaders,
	// 400 (corpus invalid/019), the app never called.
	t.Run("trusted, contradicting scheme headers", func(t *testing.T) {
		rejected(t, ps.trusted, "GET /environ HTTP/1.1\r\nHost: h\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Ssl: off\r\n\r\n", 400)
	})
	// A malformed forwarded value from a trusted proxy is not guessed at: 400.
	t.Run("trusted, malformed X-Forwarded-For", func(t *testing.T) {
		rejected(t, ps.trusted, "GET /environ HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: not-an-address\r\n\r\n", 400)
	})
	// --header-map refuse: 400 for any name with '_' (corpus invalid/040).
	t.Run("header-map refuse", func(t *testing.T) {
		rejected(t, ps.refuse, "GET /environ HTTP/1.1\r\nHost: h\r\nFoo_Bar: x\r\n\r\n", 400)
		checkEnviron(t, "header-map refuse, no '_'", environOf(t, ps.refuse, "Host: h\r\nFoo-Bar: x\r\n"), map[string]any{"HTTP_FOO_BAR": "x"})
	})
}
