package proxy

import (
	"bytes"
	"testing"

	"github.com/gonicorn/gonicorn/internal/http1"
)

// FuzzResolve feeds arbitrary header blocks from a trusted peer: Resolve must never panic,
// must fail only with a 400 *http1.Error, and on success must return a known scheme, a host
// that is valid, a port in range and a client that is an address or a node name.
//
//	go test ./internal/proxy -run '^$' -fuzz FuzzResolve -fuzztime 2m
func FuzzResolve(f *testing.F) {
	for _, s := range []string{
		"X-Forwarded-For: 192.0.2.1, 10.0.0.1\r\nX-Forwarded-Proto: https\r\n",
		"Forwarded: for=\"[2001:db8::1]:4711\";proto=https;host=example.com, for=10.0.0.1\r\n",
		"X-Forwarded-Host: example.com:8443\r\nX-Forwarded-Port: 443\r\nX-Forwarded-Ssl: on\r\n",
		"Forwarded: for=_hidden;by=x;ext=\"a,b;c\"\r\nX-Forwarded-For: unknown\r\n",
	} {
		f.Add(s)
	}
	tr, _ := ParseTrust("10.0.0.0/8,2001:db8::/32")
	f.Fuzz(func(t *testing.T, block string) {
		var req http1.Request
		// HTTP/1.0, so that the block needs no Host (RFC 9112 §3.2) besides its own fields.
		if _, err := http1.ParseHead([]byte("GET / HTTP/1.0\r\n"+block+"\r\n"), nil, &req); err != nil {
			return
		}
		var fw Forwarded
		err := tr.Resolve(req.Headers, AllHeaders, &fw)
		if err != nil {
			if he, ok := err.(*http1.Error); !ok || he.Status != 400 {
				t.Fatalf("Resolve error %v (%T); want a 400 *http1.Error", err, err)
			}
			return
		}
		if fw.Scheme != "" && fw.Scheme != "http" && fw.Scheme != "https" {
			t.Fatalf("Scheme = %q", fw.Scheme)
		}
		if fw.Host != nil && !http1.ValidHost(fw.Host) {
			t.Fatalf("Host = %q, not a valid host", fw.Host)
		}
		for _, p := range [][]byte{fw.Port, fw.ClientPort} {
			if p != nil && !validPort(p) {
				t.Fatalf("port %q out of range", p)
			}
		}
		if fw.Client != nil {
			if a, name, _, ok := parseNode(fw.Client); !ok || !a.IsValid() && !bytes.Equal(name, fw.Client) {
				t.Fatalf("Client = %q, not an address or node name", fw.Client)
			}
		}
	})
}
