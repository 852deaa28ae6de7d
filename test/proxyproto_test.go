package e2e

import (
	"bufio"
	bin "encoding/binary"
	"encoding/json"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// The PROXY protocol (--proxy-protocol, --proxy-allow-from; docs/proxy.md), end to end: the
// test client plays a layer-4 proxy on 127.0.0.1, which the default --proxy-allow-from
// allows. The app is test/apps/basic.py, whose /environ route answers with the environ.

// ppV2 builds a v2 header (PROXY command) for TCP4 or TCP6 source and destination.
func ppV2(src, dst string) string {
	s, d := net.ParseIP(strings.Split(src, "|")[0]), net.ParseIP(strings.Split(dst, "|")[0])
	sport, dport := uint16(1111), uint16(443)
	b := []byte("\r\n\r\n\x00\r\nQUIT\n\x21")
	var addrs []byte
	if s4, d4 := s.To4(), d.To4(); s4 != nil && d4 != nil {
		b = append(b, 0x11)
		addrs = append(append(addrs, s4...), d4...)
	} else {
		b = append(b, 0x21)
		addrs = append(append(addrs, s.To16()...), d.To16()...)
	}
	addrs = bin.BigEndian.AppendUint16(addrs, sport)
	addrs = bin.BigEndian.AppendUint16(addrs, dport)
	b = bin.BigEndian.AppendUint16(b, uint16(len(addrs)))
	return string(append(b, addrs...))
}

// ppLocal is a v2 LOCAL header: the proxy's own connection, e.g. a health check.
const ppLocal = "\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00"

// ppEnviron sends prefix then GET /environ with headers, twice on one keep-alive connection,
// and returns the two environs the app saw.
func ppEnviron(t *testing.T, s *server, prefix, headers string) [2]map[string]any {
	t.Helper()
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	req := "GET /environ HTTP/1.1\r\nHost: h\r\n" + headers + "\r\n"
	if _, err := io.WriteString(c, prefix+req+req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var envs [2]map[string]any
	for i := range envs {
		r, err := readResponse(br, "GET")
		if err != nil || r.status != 200 {
			t.Fatalf("request %d after %q: %v, %+v", i+1, prefix, err, r)
		}
		if err := json.Unmarshal(r.body, &envs[i]); err != nil {
			t.Fatalf("environ JSON %q: %v", r.body, err)
		}
	}
	return envs
}

// ppClosed sends data and checks that the server closes the connection without answering.
func ppClosed(t *testing.T, s *server, what, data string) {
	t.Helper()
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, data)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	out, err := io.ReadAll(c)
	if len(out) > 0 || (err != nil && !isConnReset(err)) {
		t.Errorf("%s: the server answered %q (%v); want the connection closed without a response", what, corpusClip(out), err)
	}
}

func TestProxyProtocol(t *testing.T) {
	base := []string{"--python", realPython(t), "--chdir", appsDir(t)}
	with := func(extra ...string) *server {
		return startNoWait(t, append(append(append([]string{}, base...), extra...), "basic")...)
	}
	v1 := with("--proxy-protocol", "v1")
	v2 := with("--proxy-protocol", "v2")
	auto := with("--proxy-protocol", "auto", "--header-timeout", "1")
	// 127.0.0.1 may not send a PROXY header to these.
	v1Untrusted := with("--proxy-protocol", "v1", "--proxy-allow-from", "10.0.0.1")
	autoUntrusted := with("--proxy-protocol", "auto", "--proxy-allow-from", "10.0.0.1")
	for _, s := range []*server{v1, v2, auto, v1Untrusted, autoUntrusted} {
		s.waitReady()
	}

	const reqLine = "GET /environ HTTP/1.1\r\nHost: h\r\n\r\n"
	tests := []struct {
		name           string
		s              *server
		prefix, header string
		want           map[string]any
	}{
		// The header's source is the client: REMOTE_ADDR and REMOTE_PORT, for every request
		// of the connection.
		{"v1 tcp4", v1, "PROXY TCP4 203.0.113.7 192.0.2.1 4711 443\r\n", "", map[string]any{"REMOTE_ADDR": "203.0.113.7", "REMOTE_PORT": "4711"}},
		{"v1 tcp6", v1, "PROXY TCP6 2001:db8::17 2001:db8::1 4711 443\r\n", "", map[string]any{"REMOTE_ADDR": "2001:db8::17", "REMOTE_PORT": "4711"}},
		{"v1 unknown", v1, "PROXY UNKNOWN\r\n", "", map[string]any{"REMOTE_ADDR": "127.0.0.1"}},
		{"v2 tcp4", v2, ppV2("198.51.100.9", "192.0.2.1"), "", map[string]any{"REMOTE_ADDR": "198.51.100.9", "REMOTE_PORT": "1111"}},
		{"v2 tcp6", v2, ppV2("2001:db8::9", "2001:db8::1"), "", map[string]any{"REMOTE_ADDR": "2001:db8::9", "REMOTE_PORT": "1111"}},
		// LOCAL: the proxy's own connection keeps the peer's address.
		{"v2 local", v2, ppLocal, "", map[string]any{"REMOTE_ADDR": "127.0.0.1"}},
		{"auto v1", auto, "PROXY TCP4 203.0.113.7 192.0.2.1 4711 443\r\n", "", map[string]any{"REMOTE_ADDR": "203.0.113.7"}},
		{"auto v2", auto, ppV2("198.51.100.9", "192.0.2.1"), "", map[string]any{"REMOTE_ADDR": "198.51.100.9"}},
		{"auto without header", auto, "", "", map[string]any{"REMOTE_ADDR": "127.0.0.1"}},
		// Forwarded headers are trusted against the PROXY client, not the layer-4 proxy:
		// 203.0.113.7 is not in --forwarded-allow-ips, so its X-Forwarded-For is its own claim.
		{"v1, X-Forwarded-For from an untrusted client", v1, "PROXY TCP4 203.0.113.7 192.0.2.1 4711 443\r\n",
			"X-Forwarded-For: 10.6.6.6\r\nX-Forwarded-Proto: https\r\n", map[string]any{"REMOTE_ADDR": "203.0.113.7", "wsgi.url_scheme": "http"}},
		// A client that is a trusted proxy (127.0.0.1 behind the layer-4 proxy) is believed.
		{"v1, X-Forwarded-For from a trusted client", v1, "PROXY TCP4 127.0.0.1 192.0.2.1 4711 443\r\n",
			"X-Forwarded-For: 198.51.100.17\r\nX-Forwarded-Proto: https\r\n", map[string]any{"REMOTE_ADDR": "198.51.100.17", "wsgi.url_scheme": "https"}},
		// auto from a peer not allowed to send a header: plain HTTP, the peer's address.
		{"auto, untrusted, plain HTTP", autoUntrusted, "", "", map[string]any{"REMOTE_ADDR": "127.0.0.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i, env := range ppEnviron(t, tt.s, tt.prefix, tt.header) {
				checkEnviron(t, tt.name+", request "+itoa(i+1), env, tt.want)
			}
		})
	}

	closed := []struct {
		name string
		s    *server
		data string
	}{
		{"v1 without header", v1, reqLine},
		{"v1 given v2", v1, ppV2("198.51.100.9", "192.0.2.1") + reqLine},
		{"v2 given v1", v2, "PROXY TCP4 203.0.113.7 192.0.2.1 4711 443\r\n" + reqLine},
		{"v1 malformed", v1, "PROXY TCP4 not-an-ip 192.168.0.11 56324 443\r\n" + reqLine}, // corpus invalid/pp_03
		{"v1 bad ports", v1, "PROXY TCP4 192.168.0.1 192.168.0.11 65iii 100000\r\n" + reqLine},
		{"v1 bare LF", v1, "PROXY TCP4 203.0.113.7 192.0.2.1 4711 443\n" + reqLine},
		{"v1 too long", v1, "PROXY UNKNOWN " + strings.Repeat("x", 200) + "\r\n" + reqLine},
		{"v2 udp", v2, "\r\n\r\n\x00\r\nQUIT\n\x21\x12\x00\x0c" + strings.Repeat("\x01", 12) + reqLine},
		{"auto malformed", auto, "PROXY TCP4 1.2.3.4\r\n" + reqLine},
		// Peers not in --proxy-allow-from: in v1/v2 mode nothing is served at all; in auto
		// mode a header is refused.
		{"v1, untrusted peer with header", v1Untrusted, "PROXY TCP4 203.0.113.7 192.0.2.1 4711 443\r\n" + reqLine},
		{"v1, untrusted peer, plain HTTP", v1Untrusted, reqLine},
		{"auto, untrusted peer with v1 header", autoUntrusted, "PROXY TCP4 203.0.113.7 192.0.2.1 4711 443\r\n" + reqLine},
		{"auto, untrusted peer with v2 header", autoUntrusted, ppV2("198.51.100.9", "192.0.2.1") + reqLine},
	}
	for _, tt := range closed {
		t.Run(tt.name, func(t *testing.T) { ppClosed(t, tt.s, tt.name, tt.data) })
	}

	// A header that never completes is closed at --header-timeout (1 s here), unanswered.
	t.Run("auto, incomplete header", func(t *testing.T) {
		start := time.Now()
		ppClosed(t, auto, "incomplete header", "PROXY TCP4 203.0.113.7")
		if d := time.Since(start); d > 8*time.Second {
			t.Errorf("closed after %v; want about 1 s (--header-timeout)", d)
		}
	})
	// A second PROXY line later in the connection is an HTTP request like any other: 400.
	t.Run("v1, header after the first request", func(t *testing.T) {
		c, err := net.Dial("tcp", v1.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		io.WriteString(c, "PROXY TCP4 203.0.113.7 192.0.2.1 4711 443\r\n"+reqLine+"PROXY TCP4 198.51.100.1 192.0.2.1 1 2\r\n"+reqLine)
		br := bufio.NewReader(c)
		if r, err := readResponse(br, "GET"); err != nil || r.status != 200 {
			t.Fatalf("first request: %v %+v", err, r)
		}
		if r, err := readResponse(br, "GET"); err != nil || r.status != 400 || !r.closed {
			t.Errorf("second PROXY line: %v %+v; want 400 and close", err, r)
		}
	})
}
