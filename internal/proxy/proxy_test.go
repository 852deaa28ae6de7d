package proxy

import (
	"net"
	"net/netip"
	"testing"

	"github.com/gonicorn/gonicorn/internal/http1"
)

func TestParseTrust(t *testing.T) {
	tests := []struct {
		in      string
		trusted []string // addresses that must be trusted
		not     []string // addresses that must not be
		err     bool
	}{
		// gunicorn's default: the loopback addresses only.
		{in: DefaultAllowIPs, trusted: []string{"127.0.0.1", "::1", "::ffff:127.0.0.1"}, not: []string{"127.0.0.2", "10.0.0.1", "::2"}},
		// "*" trusts every peer, anywhere in the list (gunicorn).
		{in: "10.0.0.1,*", trusted: []string{"192.0.2.1", "2001:db8::1"}},
		// CIDR networks, with whitespace around items; a network given unmasked is masked.
		{in: " 10.0.0.0/8 , 2001:db8::/32,192.168.1.7/24", trusted: []string{"10.255.0.1", "2001:db8:1::1", "192.168.1.200"}, not: []string{"11.0.0.1", "2001:db9::1", "192.168.2.1"}},
		// An IPv4-mapped entry matches the IPv4 peer (peers are matched unmapped).
		{in: "::ffff:10.0.0.1", trusted: []string{"10.0.0.1", "::ffff:10.0.0.1"}, not: []string{"10.0.0.2"}},
		{in: "::ffff:10.0.0.0/104", trusted: []string{"10.1.2.3"}, not: []string{"11.0.0.1"}},
		// Empty items are skipped; an empty list trusts nobody.
		{in: "", not: []string{"127.0.0.1"}},
		{in: ",,10.0.0.1,", trusted: []string{"10.0.0.1"}},
		// Garbage, host names, zones and bad masks stop gonicorn at start.
		{in: "localhost", err: true},
		{in: "10.0.0.1/33", err: true},
		{in: "fe80::1%eth0", err: true},
		{in: "10.0.0.0/8/8", err: true},
		{in: "::ffff:10.0.0.0/90", err: true},
	}
	for _, tt := range tests {
		tr, err := ParseTrust(tt.in)
		if (err != nil) != tt.err {
			t.Errorf("ParseTrust(%q) error = %v; want error %v", tt.in, err, tt.err)
			continue
		}
		if err != nil {
			continue
		}
		for _, a := range tt.trusted {
			if !tr.Trusted(netip.MustParseAddr(a)) {
				t.Errorf("ParseTrust(%q).Trusted(%s) = false; want true", tt.in, a)
			}
		}
		for _, a := range tt.not {
			if tr.Trusted(netip.MustParseAddr(a)) {
				t.Errorf("ParseTrust(%q).Trusted(%s) = true; want false", tt.in, a)
			}
		}
	}
}

func TestTrustedPeer(t *testing.T) {
	tr, _ := ParseTrust("10.0.0.1")
	tests := []struct {
		peer net.Addr
		want bool
	}{
		{&net.TCPAddr{IP: net.ParseIP("10.0.0.1"), Port: 1}, true},
		{&net.TCPAddr{IP: net.ParseIP("10.0.0.2"), Port: 1}, false},
		// A unix socket peer has no address: trusted, as in gunicorn.
		{&net.UnixAddr{Name: "@", Net: "unix"}, true},
	}
	for _, tt := range tests {
		if got := tr.TrustedPeer(tt.peer); got != tt.want {
			t.Errorf("TrustedPeer(%v) = %v; want %v", tt.peer, got, tt.want)
		}
	}
	// A nil Trust (no --forwarded-allow-ips at all) trusts nobody.
	if (*Trust)(nil).TrustedPeer(&net.UnixAddr{}) {
		t.Errorf("nil Trust trusts a unix peer")
	}
}

// parseHeaders parses a header block with http1, as the server does.
func parseHeaders(t *testing.T, block string) []http1.Header {
	t.Helper()
	var req http1.Request
	// HTTP/1.0, so that the block needs no Host (RFC 9112 §3.2) besides its own fields.
	if _, err := http1.ParseHead([]byte("GET / HTTP/1.0\r\n"+block+"\r\n"), nil, &req); err != nil {
		t.Fatalf("ParseHead(%q) = %v", block, err)
	}
	return req.Headers
}

func TestResolve(t *testing.T) {
	// 10.0.0.0/8 are our proxies; everything else is the internet.
	tr, err := ParseTrust("10.0.0.0/8, 2001:db8::/32")
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		scheme, host, port, client, clientPort string // "-" = nil
		status                                 int    // 0: resolved
	}
	nothing := want{"", "-", "-", "-", "-", 0}
	tests := []struct {
		name    string
		headers string
		want    want
	}{
		{"no forwarded headers", "Host: h\r\n", nothing},

		// Scheme: gunicorn's secure_scheme_headers, X-Forwarded-Proto https, -Ssl on,
		// -Protocol ssl.
		{"X-Forwarded-Proto https", "X-Forwarded-Proto: https\r\n", want{"https", "-", "-", "-", "-", 0}},
		{"X-Forwarded-Proto http", "X-Forwarded-Proto: http\r\n", want{"http", "-", "-", "-", "-", 0}},
		// RFC 3986 §3.1: schemes are case-insensitive; RFC 6455: wss is https's twin.
		{"X-Forwarded-Proto case", "X-Forwarded-Proto: HTTPS\r\n", want{"https", "-", "-", "-", "-", 0}},
		{"X-Forwarded-Proto wss", "X-Forwarded-Proto: wss\r\n", want{"https", "-", "-", "-", "-", 0}},
		// A value we do not know says nothing (rather than http, as in gunicorn).
		{"X-Forwarded-Proto unknown", "X-Forwarded-Proto: gopher\r\n", nothing},
		{"X-Forwarded-Ssl on", "X-Forwarded-Ssl: on\r\n", want{"https", "-", "-", "-", "-", 0}},
		{"X-Forwarded-Ssl off", "X-Forwarded-Ssl: off\r\n", want{"http", "-", "-", "-", "-", 0}},
		{"X-Forwarded-Protocol ssl", "X-Forwarded-Protocol: ssl\r\n", want{"https", "-", "-", "-", "-", 0}},
		// Agreeing statements are fine.
		{"agreeing scheme headers", "X-Forwarded-Proto: https\r\nX-Forwarded-Ssl: on\r\nForwarded: proto=https\r\n", want{"https", "-", "-", "-", "-", 0}},
		// Contradicting ones are gunicorn's InvalidSchemeHeaders, 400 (corpus invalid/019).
		{"Proto https, Ssl off", "X-Forwarded-Proto: https\r\nX-Forwarded-Ssl: off\r\n", want{status: 400}},
		{"Ssl on, Proto http", "X-Forwarded-Ssl: on\r\nX-Forwarded-Proto: http\r\n", want{status: 400}},
		{"Proto list disagrees", "X-Forwarded-Proto: https, http\r\n", want{status: 400}},
		{"Proto lines disagree", "X-Forwarded-Proto: https\r\nX-Forwarded-Proto: http\r\n", want{status: 400}},
		{"Forwarded proto vs X-Forwarded-Proto", "Forwarded: proto=http\r\nX-Forwarded-Proto: https\r\n", want{status: 400}},

		// X-Forwarded-For: the rightmost hop that is not one of our proxies.
		{"XFF one hop", "X-Forwarded-For: 192.0.2.1\r\n", want{"", "-", "-", "192.0.2.1", "-", 0}},
		{"XFF skips trusted hops", "X-Forwarded-For: 192.0.2.1, 198.51.100.2, 10.1.1.1, 10.2.2.2\r\n", want{"", "-", "-", "198.51.100.2", "-", 0}},
		// The leftmost entries are whatever the client wrote: never believed past an untrusted hop.
		{"XFF spoofed prefix", "X-Forwarded-For: 10.9.9.9, 203.0.113.5\r\n", want{"", "-", "-", "203.0.113.5", "-", 0}},
		// All hops trusted: the leftmost is the client.
		{"XFF all trusted", "X-Forwarded-For: 10.0.0.5, 10.0.0.6\r\n", want{"", "-", "-", "10.0.0.5", "-", 0}},
		// RFC 9110 §5.3: repeated lines are one list, in order.
		{"XFF two lines", "X-Forwarded-For: 192.0.2.1\r\nX-Forwarded-For: 198.51.100.2, 10.0.0.1\r\n", want{"", "-", "-", "198.51.100.2", "-", 0}},
		{"XFF two lines, second all trusted", "X-Forwarded-For: 192.0.2.1\r\nX-Forwarded-For: 10.0.0.1\r\n", want{"", "-", "-", "192.0.2.1", "-", 0}},
		// RFC 9110 §5.6.1: empty elements are ignored.
		{"XFF empty elements", "X-Forwarded-For: , 192.0.2.1,,10.0.0.1 ,\r\n", want{"", "-", "-", "192.0.2.1", "-", 0}},
		// IPv6 bare or bracketed, normalised; IPv4-mapped written as IPv4; ports.
		{"XFF IPv6", "X-Forwarded-For: 2001:DB9::1\r\n", want{"", "-", "-", "2001:db9::1", "-", 0}},
		{"XFF IPv6 trusted then v4-mapped", "X-Forwarded-For: ::ffff:192.0.2.9, 2001:db8::7\r\n", want{"", "-", "-", "192.0.2.9", "-", 0}},
		{"XFF bracketed IPv6 with port", "X-Forwarded-For: [2001:db9::1]:4711\r\n", want{"", "-", "-", "2001:db9::1", "4711", 0}},
		{"XFF IPv4 with port", "X-Forwarded-For: 192.0.2.1:4711\r\n", want{"", "-", "-", "192.0.2.1", "4711", 0}},
		// RFC 7239 §6: "unknown" and obfuscated nodes are untrusted hops, passed on as named.
		{"XFF unknown", "X-Forwarded-For: 192.0.2.1, unknown, 10.0.0.1\r\n", want{"", "-", "-", "unknown", "-", 0}},
		{"XFF obfuscated", "X-Forwarded-For: _hidden\r\n", want{"", "-", "-", "_hidden", "-", 0}},
		// Garbage from a trusted proxy is a misconfiguration: 400, never a guess.
		{"XFF host name", "X-Forwarded-For: example.com\r\n", want{status: 400}},
		{"XFF zone", "X-Forwarded-For: fe80::1%eth0\r\n", want{status: 400}},
		{"XFF bad port", "X-Forwarded-For: 192.0.2.1:99999\r\n", want{status: 400}},
		{"XFF v4 in brackets", "X-Forwarded-For: [192.0.2.1]\r\n", want{status: 400}},
		// Entries left of the client are not looked at.
		{"XFF garbage left of the client", "X-Forwarded-For: garbage, 192.0.2.1\r\n", want{"", "-", "-", "192.0.2.1", "-", 0}},

		// X-Forwarded-Host and -Port: the rightmost element, validated like Host (RFC 9110 §7.2).
		{"X-Forwarded-Host", "Host: internal:8000\r\nX-Forwarded-Host: example.com\r\n", want{"", "example.com", "-", "-", "-", 0}},
		{"X-Forwarded-Host with port", "X-Forwarded-Host: example.com:8443\r\n", want{"", "example.com:8443", "-", "-", "-", 0}},
		{"X-Forwarded-Host list", "X-Forwarded-Host: a.example, b.example\r\n", want{"", "b.example", "-", "-", "-", 0}},
		{"X-Forwarded-Host IPv6", "X-Forwarded-Host: [2001:db8::1]:8080\r\n", want{"", "[2001:db8::1]:8080", "-", "-", "-", 0}},
		{"X-Forwarded-Host invalid", "X-Forwarded-Host: a b\r\n", want{status: 400}},
		{"X-Forwarded-Host bad port", "X-Forwarded-Host: h:x\r\n", want{status: 400}},
		{"X-Forwarded-Host empty", "X-Forwarded-Host:\r\n", want{status: 400}},
		{"X-Forwarded-Port", "X-Forwarded-Port: 443\r\n", want{"", "-", "443", "-", "-", 0}},
		{"X-Forwarded-Port list", "X-Forwarded-Port: 80, 8443\r\n", want{"", "-", "8443", "-", "-", 0}},
		{"X-Forwarded-Port zero", "X-Forwarded-Port: 0\r\n", want{status: 400}},
		{"X-Forwarded-Port too big", "X-Forwarded-Port: 65536\r\n", want{status: 400}},
		{"X-Forwarded-Port not a number", "X-Forwarded-Port: https\r\n", want{status: 400}},

		// RFC 7239 Forwarded: elements read from the right, skipping our proxies (§5.2).
		{"Forwarded one element", "Forwarded: for=192.0.2.60;proto=https;host=example.com\r\n", want{"https", "example.com", "-", "192.0.2.60", "-", 0}},
		// RFC 7239 §4: names case-insensitive, OWS around ';' and ',', any order.
		{"Forwarded case and spaces", "Forwarded: Proto=https ; FOR=192.0.2.60\r\n", want{"https", "-", "-", "192.0.2.60", "-", 0}},
		{"Forwarded chain", "Forwarded: for=192.0.2.43;proto=https;host=a.example, for=198.51.100.17;proto=http;host=b.internal, for=10.0.0.3;proto=https;host=c.internal\r\n",
			want{"http", "b.internal", "-", "198.51.100.17", "-", 0}},
		{"Forwarded all trusted", "Forwarded: for=10.0.0.2;host=a.example, for=10.0.0.3;host=b.example\r\n", want{"", "a.example", "-", "10.0.0.2", "-", 0}},
		// RFC 7239 §6: IPv6 quoted and bracketed, with a port; obfuscated nodes.
		{"Forwarded IPv6", "Forwarded: for=\"[2001:db9:cafe::17]:4711\"\r\n", want{"", "-", "-", "2001:db9:cafe::17", "4711", 0}},
		{"Forwarded quoted host", "Forwarded: host=\"example.com:8443\"\r\n", want{"", "example.com:8443", "-", "-", "-", 0}},
		{"Forwarded obfuscated", "Forwarded: for=\"_hidden:_port\"\r\n", want{"", "-", "-", "_hidden", "-", 0}},
		// §4: ':' is not a token character, so a node with a port must be quoted.
		{"Forwarded unquoted port", "Forwarded: for=192.0.2.1:4711\r\n", want{status: 400}},
		{"Forwarded unknown", "Forwarded: for=unknown\r\n", want{"", "-", "-", "unknown", "-", 0}},
		// An element without for= is where the chain stops; X-Forwarded-For then names the client.
		{"Forwarded without for, XFF", "Forwarded: proto=https\r\nX-Forwarded-For: 192.0.2.1\r\n", want{"https", "-", "-", "192.0.2.1", "-", 0}},
		// Forwarded wins over X-Forwarded-For and -Host when it names them.
		{"Forwarded over X-Forwarded-*", "Forwarded: for=192.0.2.1;host=a.example\r\nX-Forwarded-For: 198.51.100.2\r\nX-Forwarded-Host: b.example\r\n", want{"", "a.example", "-", "192.0.2.1", "-", 0}},
		// RFC 9110 §5.3: Forwarded lines form one list.
		{"Forwarded two lines", "Forwarded: for=192.0.2.1\r\nForwarded: for=10.0.0.1\r\n", want{"", "-", "-", "192.0.2.1", "-", 0}},
		// Unknown parameters (extensions, §5.5) and by= are skipped; empty elements too.
		{"Forwarded extension", "Forwarded: by=10.0.0.1;secret=x;for=192.0.2.1,,\r\n", want{"", "-", "-", "192.0.2.1", "-", 0}},
		// §4: a parameter at most once per element.
		{"Forwarded duplicate parameter", "Forwarded: for=192.0.2.1;for=192.0.2.2\r\n", want{status: 400}},
		{"Forwarded no value", "Forwarded: for=\r\n", want{status: 400}},
		{"Forwarded no equals", "Forwarded: for\r\n", want{status: 400}},
		{"Forwarded unterminated quote", "Forwarded: for=\"[2001:db8::1]\r\n", want{status: 400}},
		{"Forwarded space around =", "Forwarded: for = 192.0.2.1\r\n", want{status: 400}},
		{"Forwarded junk after value", "Forwarded: for=192.0.2.1 x\r\n", want{status: 400}},
		{"Forwarded escaped quote", "Forwarded: host=\"a\\\"b\"\r\n", want{status: 400}},
		{"Forwarded bad node", "Forwarded: for=example.com\r\n", want{status: 400}},
		// §6: IPv6 must be in brackets with a port (a bare one with >1 ':' is accepted, as in XFF).
		{"Forwarded bare IPv6", "Forwarded: for=\"2001:db9::1\"\r\n", want{"", "-", "-", "2001:db9::1", "-", 0}},
		{"Forwarded bad host", "Forwarded: host=\"a b\"\r\n", want{status: 400}},
		// A bad node of an element we walk past is still a fault.
		{"Forwarded bad node left of a trusted hop", "Forwarded: for=x.y, for=10.0.0.1\r\n", want{status: 400}},
	}
	var f Forwarded
	for _, tt := range tests {
		hs := parseHeaders(t, tt.headers)
		err := tr.Resolve(hs, AllHeaders, &f)
		str := func(b []byte) string {
			if b == nil {
				return "-"
			}
			return string(b)
		}
		var got want
		if err != nil {
			he, ok := err.(*http1.Error)
			if !ok {
				t.Errorf("%s: Resolve(%q) = %v (%T); want *http1.Error", tt.name, tt.headers, err, err)
				continue
			}
			got.status = he.Status
		} else {
			got = want{f.Scheme, str(f.Host), str(f.Port), str(f.Client), str(f.ClientPort), 0}
		}
		if got != tt.want {
			t.Errorf("%s: Resolve(%q) = %+v; want %+v", tt.name, tt.headers, got, tt.want)
		}
	}
}

// TestResolveDefaultTrust checks the default trust: only the loopback proxy is believed.
func TestResolveDefaultTrust(t *testing.T) {
	tr, _ := ParseTrust(DefaultAllowIPs)
	var f Forwarded
	hs := parseHeaders(t, "X-Forwarded-For: 127.0.0.1, 10.0.0.1, 127.0.0.1\r\n")
	if err := tr.Resolve(hs, AllHeaders, &f); err != nil || string(f.Client) != "10.0.0.1" {
		t.Errorf("Resolve = %q, %v; want 10.0.0.1", f.Client, err)
	}
}

// TestResolveAllocs checks that resolving a busy set of forwarded headers allocates nothing
// once the Forwarded's buffers have grown: it runs for every request from a proxy.
func TestResolveAllocs(t *testing.T) {
	tr, _ := ParseTrust("10.0.0.0/8,2001:db8::/32")
	hs := parseHeaders(t, "Host: internal\r\nX-Forwarded-For: 192.0.2.1, 2001:db9::1, 10.0.0.1\r\n"+
		"X-Forwarded-Proto: https\r\nX-Forwarded-Host: example.com\r\nX-Forwarded-Port: 443\r\n"+
		"Forwarded: for=\"[2001:db9::2]:4711\";proto=https, for=10.0.0.1;host=example.com\r\n")
	var f Forwarded
	allocs := testing.AllocsPerRun(100, func() {
		if err := tr.Resolve(hs, AllHeaders, &f); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Resolve allocates %.1f times per request; want 0", allocs)
	}
	if string(f.Client) != "2001:db9::2" || string(f.ClientPort) != "4711" {
		t.Errorf("Resolve client = %q port %q; want 2001:db9::2 port 4711", f.Client, f.ClientPort)
	}
}

func BenchmarkResolve(b *testing.B) {
	tr, _ := ParseTrust(DefaultAllowIPs)
	var req http1.Request
	http1.ParseHead([]byte("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 192.0.2.1\r\nX-Forwarded-Proto: https\r\n\r\n"), nil, &req)
	var f Forwarded
	b.ReportAllocs()
	for b.Loop() {
		tr.Resolve(req.Headers, AllHeaders, &f)
	}
}

func TestParseHeaders(t *testing.T) {
	tests := []struct {
		in   string
		want Headers
		err  bool
	}{
		// The default: the client address and gunicorn's three scheme headers.
		{in: DefaultHeaders, want: xForwardedFor | xForwardedProto | xForwardedSsl | xForwardedProtocol},
		// Names are case-insensitive (RFC 9110 §5.1); commas and spaces separate them.
		{in: "X-Forwarded-Host, x-forwarded-PORT forwarded", want: xForwardedHost | xForwardedPort | forwarded},
		{in: "", want: 0},
		{in: " , ,", want: 0},
		{in: "x-forwarded-for,x-forwarded-for", want: xForwardedFor},
		// A header gonicorn does not read is a mistake worth stopping for.
		{in: "x-real-ip", err: true},
		{in: "x_forwarded_for", err: true},
	}
	for _, tt := range tests {
		got, err := ParseHeaders(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseHeaders(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
	if h, _ := ParseHeaders(AllHeaders.String()); h != AllHeaders {
		t.Errorf("ParseHeaders(AllHeaders.String()) = %v; want %v", h, AllHeaders)
	}
}

// TestResolveAllowedHeaders checks that a header outside --forwarded-allow-headers changes
// nothing and is not even checked: a proxy that does not set it passes the client's copy.
func TestResolveAllowedHeaders(t *testing.T) {
	tr, _ := ParseTrust(DefaultAllowIPs)
	def, err := ParseHeaders(DefaultHeaders)
	if err != nil {
		t.Fatal(err)
	}
	spoofed := "Host: site.example\r\nForwarded: for=6.6.6.6;proto=https;host=evil.example\r\n" +
		"X-Forwarded-Host: evil.example\r\nX-Forwarded-Port: 6666\r\n" +
		"X-Forwarded-For: 6.6.6.6, 203.0.113.9\r\nX-Forwarded-Proto: http\r\n"
	tests := []struct {
		name    string
		allow   Headers
		headers string
		scheme  string
		host    string // "-" = nil
		port    string
		client  string
		status  int
	}{
		// The default believes X-Forwarded-For and the scheme headers only.
		{"default", def, spoofed, "http", "-", "-", "203.0.113.9", 0},
		// Malformed values of headers not believed are not a 400: they are the client's.
		{"default, malformed host headers", def, "Forwarded: ;;bad\r\nX-Forwarded-Host: a b\r\nX-Forwarded-Port: 0\r\n", "", "-", "-", "-", 0},
		// Opted in, they count.
		{"host and port", def | xForwardedHost | xForwardedPort, spoofed, "http", "evil.example", "6666", "203.0.113.9", 0},
		{"forwarded", def | forwarded, spoofed, "", "", "", "", 400}, // proto=https vs X-Forwarded-Proto: http
		{"forwarded only", forwarded, spoofed, "https", "evil.example", "-", "6.6.6.6", 0},
		// No header believed: nothing changes.
		{"none", 0, spoofed + "X-Forwarded-Ssl: on\r\n", "", "-", "-", "-", 0},
		// Each scheme header separately.
		{"ssl not believed", xForwardedProto, "X-Forwarded-Proto: https\r\nX-Forwarded-Ssl: off\r\n", "https", "-", "-", "-", 0},
		{"protocol not believed", xForwardedSsl, "X-Forwarded-Ssl: on\r\nX-Forwarded-Protocol: http\r\n", "https", "-", "-", "-", 0},
	}
	var f Forwarded
	str := func(b []byte) string {
		if b == nil {
			return "-"
		}
		return string(b)
	}
	for _, tt := range tests {
		err := tr.Resolve(parseHeaders(t, tt.headers), tt.allow, &f)
		if tt.status != 0 {
			if he, ok := err.(*http1.Error); !ok || he.Status != tt.status {
				t.Errorf("%s: Resolve = %v; want status %d", tt.name, err, tt.status)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: Resolve = %v; want nil", tt.name, err)
			continue
		}
		if f.Scheme != tt.scheme || str(f.Host) != tt.host || str(f.Port) != tt.port || str(f.Client) != tt.client {
			t.Errorf("%s: Resolve = scheme %q host %s port %s client %s; want %q %s %s %s", tt.name,
				f.Scheme, str(f.Host), str(f.Port), str(f.Client), tt.scheme, tt.host, tt.port, tt.client)
		}
	}
}
