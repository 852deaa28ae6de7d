package proxyproto

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/gonicorn/gonicorn/internal/corpus"
)

// v2 builds a version 2 header: the signature, verCmd, fam, the length of payload, payload.
func v2(verCmd, fam byte, payload ...byte) string {
	b := append([]byte{}, v2Sig...)
	b = append(b, verCmd, fam, 0, 0)
	binary.BigEndian.PutUint16(b[14:], uint16(len(payload)))
	return string(append(b, payload...))
}

var (
	tcp4Addrs = []byte{192, 168, 1, 10, 192, 168, 1, 1, 0x30, 0x39, 0x01, 0xbb} // 192.168.1.10:12345 → 192.168.1.1:443
	tcp6Addrs = append(append(append(
		[]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2),
		0xd4, 0x31), 0x00, 0x50) // [2001:db8::1]:54321 → [2001:db8::2]:80
)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func TestParse(t *testing.T) {
	const req = "GET / HTTP/1.1\r\n\r\n"
	tests := []struct {
		name string
		in   string
		n    int // header length; 0 with err
		want Header
		err  string // "" = ok; "more", "none", or "bad"
	}{
		// Spec §2.1: the human-readable header.
		{"v1 tcp4", "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n" + req, 45, Header{Version: 1, Source: ap("192.0.2.1:56324"), Dest: ap("198.51.100.2:443")}, ""},
		{"v1 tcp6", "PROXY TCP6 2001:db8::1 ::1 1 65535\r\n", 36, Header{Version: 1, Source: ap("[2001:db8::1]:1"), Dest: ap("[::1]:65535")}, ""},
		{"v1 port 0", "PROXY TCP4 1.2.3.4 5.6.7.8 0 0\r\n", 32, Header{Version: 1, Source: ap("1.2.3.4:0"), Dest: ap("5.6.7.8:0")}, ""},
		{"v1 unknown", "PROXY UNKNOWN\r\n", 15, Header{Version: 1, Local: true}, ""},
		{"v1 unknown with rest", "PROXY UNKNOWN ffff::1 ::1 1 2\r\n", 31, Header{Version: 1, Local: true}, ""},
		{"v1 partial", "PROXY TCP4 1.2.3.4", 0, Header{}, "more"},
		{"v1 partial prefix", "PRO", 0, Header{}, "more"},
		{"v1 partial CR", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r", 0, Header{}, "more"},
		{"empty", "", 0, Header{}, "more"},
		{"http", req, 0, Header{}, "none"},
		{"lower-case proxy", "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", 0, Header{}, "none"},
		{"v1 bare LF", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", 0, Header{}, "bad"},
		{"v1 CR inside", "PROXY TCP4 1.2.3.4\r5.6.7.8 1 2\r\n", 0, Header{}, "bad"},
		{"v1 CR not followed by LF", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX", 0, Header{}, "bad"},
		{"v1 double space", "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", 0, Header{}, "bad"},
		{"v1 trailing space", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", 0, Header{}, "bad"},
		{"v1 too few fields", "PROXY TCP4 192.168.0.1 192.16...\r\n", 0, Header{}, "bad"},            // corpus invalid/pp_01
		{"v1 bad ports", "PROXY TCP4 192.168.0.1 192.168.0.11 65iii 100000\r\n", 0, Header{}, "bad"}, // invalid/pp_02
		{"v1 not an ip", "PROXY TCP4 not-an-ip 192.168.0.11 56324 443\r\n", 0, Header{}, "bad"},      // invalid/pp_03
		{"v1 port too big", "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", 0, Header{}, "bad"},
		{"v1 port leading zero", "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", 0, Header{}, "bad"},
		{"v1 port sign", "PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n", 0, Header{}, "bad"},
		{"v1 ipv4 leading zero", "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", 0, Header{}, "bad"},
		{"v1 tcp4 with v6", "PROXY TCP4 ::1 5.6.7.8 1 2\r\n", 0, Header{}, "bad"},
		{"v1 tcp6 with v4", "PROXY TCP6 1.2.3.4 ::1 1 2\r\n", 0, Header{}, "bad"},
		{"v1 zone", "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", 0, Header{}, "bad"},
		{"v1 udp", "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", 0, Header{}, "bad"},
		{"v1 unknown glued", "PROXY UNKNOWNX\r\n", 0, Header{}, "bad"},
		{"v1 too long", "PROXY UNKNOWN " + strings.Repeat("x", 100) + "\r\n", 0, Header{}, "bad"},
		{"v1 too long, no CRLF yet", "PROXY UNKNOWN " + strings.Repeat("x", 100), 0, Header{}, "bad"},

		// Spec §2.2: the binary header.
		{"v2 tcp4", v2(0x21, 0x11, tcp4Addrs...) + req, 28, Header{Version: 2, Source: ap("192.168.1.10:12345"), Dest: ap("192.168.1.1:443")}, ""},
		{"v2 tcp6", v2(0x21, 0x21, tcp6Addrs...), 52, Header{Version: 2, Source: ap("[2001:db8::1]:54321"), Dest: ap("[2001:db8::2]:80")}, ""},
		{"v2 tcp4 with TLVs", v2(0x21, 0x11, append(append([]byte{}, tcp4Addrs...), 0x04, 0, 2, 0, 0, 0x05, 0, 0)...), 36, Header{Version: 2, Source: ap("192.168.1.10:12345"), Dest: ap("192.168.1.1:443")}, ""},
		{"v2 local", v2(0x20, 0x00), 16, Header{Version: 2, Local: true}, ""},
		{"v2 local ignores family and payload", v2(0x20, 0x12, 1, 2, 3), 19, Header{Version: 2, Local: true}, ""},
		{"v2 proxy unspec", v2(0x21, 0x00, 9, 9), 18, Header{Version: 2, Local: true}, ""},
		{"v2 partial signature", v2(0x21, 0x11)[:8], 0, Header{}, "more"},
		{"v2 partial fixed part", v2(0x21, 0x11, tcp4Addrs...)[:14], 0, Header{}, "more"},
		{"v2 partial addresses", v2(0x21, 0x11, tcp4Addrs...)[:20], 0, Header{}, "more"},
		{"v2 version 1", v2(0x11, 0x11, tcp4Addrs...), 0, Header{}, "bad"},
		{"v2 version 1, early", v2(0x11, 0x11, tcp4Addrs...)[:13], 0, Header{}, "bad"},
		{"v2 command 2", v2(0x22, 0x11, tcp4Addrs...), 0, Header{}, "bad"},
		{"v2 udp4", v2(0x21, 0x12, tcp4Addrs...), 0, Header{}, "bad"},
		{"v2 unix", v2(0x21, 0x31, make([]byte, 216)...), 0, Header{}, "bad"},
		{"v2 short tcp4", v2(0x21, 0x11, tcp4Addrs[:11]...), 0, Header{}, "bad"},
		{"v2 short tcp6", v2(0x21, 0x21, tcp4Addrs...), 0, Header{}, "bad"},
		{"v2 truncated TLV", v2(0x21, 0x11, append(append([]byte{}, tcp4Addrs...), 0x04, 0)...), 0, Header{}, "bad"},
		{"v2 TLV too long", v2(0x21, 0x11, append(append([]byte{}, tcp4Addrs...), 0x04, 0, 5, 1)...), 0, Header{}, "bad"},
	}
	for _, tt := range tests {
		var h Header
		n, err := Parse([]byte(tt.in), &h)
		var pe *Error
		gotKind := ""
		switch {
		case err == nil:
		case err == ErrNeedMore:
			gotKind = "more"
		case err == ErrNoHeader:
			gotKind = "none"
		case errors.As(err, &pe):
			gotKind = "bad"
		default:
			t.Errorf("%s: Parse(%q) error %v of type %T", tt.name, tt.in, err, err)
			continue
		}
		if gotKind != tt.err || n != tt.n || (err == nil && h != tt.want) {
			t.Errorf("%s: Parse(%q) = %d, %+v, %v; want %d, %+v, %q", tt.name, tt.in, n, h, err, tt.n, tt.want, tt.err)
		}
	}
}

type corpusCase struct {
	Raw []byte         `json:"raw_b64"`
	Cfg map[string]any `json:"gunicorn_cfg"`
}

// corpusPP returns the raw bytes of the conformance corpus's PROXY-protocol cases
// (testdata/conformance/{valid,invalid}/pp_*.json), keyed by "valid/pp_01" and so on.
func corpusPP(t testing.TB) map[string][]byte {
	t.Helper()
	names, cases, err := corpus.Load[corpusCase]("../../testdata/conformance", "pp_*")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for i, c := range cases {
		out[names[i]] = c.Raw
	}
	return out
}

// TestCorpus replays the corpus's pp_* cases: the valid ones have a correct header (or, pp_03,
// none) followed by an HTTP request; the invalid ones a malformed v1 line.
func TestCorpus(t *testing.T) {
	want := map[string]struct {
		err  string
		src  string
		rest string // what follows the header
	}{
		"valid/pp_01":   {"", "192.168.0.1:56324", "GET /stuff/here?foo=bar HTTP/1.0\r\n"},
		"valid/pp_02":   {"", "192.168.0.1:56324", "GET /stuff/here?foo=bar HTTP/1.1\r\n"},
		"valid/pp_03":   {"none", "", "GET /no/proxy/header HTTP/1.1\r\n"},
		"valid/pp_04":   {"", "192.168.1.10:12345", "GET /proxy/v2/ipv4 HTTP/1.1\r\n"},
		"valid/pp_05":   {"", "[2001:db8::1]:54321", "GET /proxy/v2/ipv6 HTTP/1.1\r\n"},
		"invalid/pp_01": {"bad", "", ""},
		"invalid/pp_02": {"bad", "", ""},
		"invalid/pp_03": {"bad", "", ""},
	}
	cases := corpusPP(t)
	if len(cases) != len(want) {
		t.Errorf("corpus has %d pp_* cases; want %d", len(cases), len(want))
	}
	for name, raw := range cases {
		w, ok := want[name]
		if !ok {
			t.Errorf("%s: no expectation", name)
			continue
		}
		var h Header
		n, err := Parse(raw, &h)
		var pe *Error
		switch w.err {
		case "":
			if err != nil || h.Source.String() != w.src || !strings.HasPrefix(string(raw[n:]), w.rest) {
				t.Errorf("%s: Parse = %d, %+v, %v; want source %s then %q", name, n, h, err, w.src, w.rest)
			}
		case "none":
			if err != ErrNoHeader {
				t.Errorf("%s: Parse = %d, %v; want ErrNoHeader", name, n, err)
			}
		case "bad":
			if !errors.As(err, &pe) {
				t.Errorf("%s: Parse = %d, %+v, %v; want an *Error", name, n, h, err)
			}
		}
	}
}

// TestIncremental feeds every valid header one byte at a time: each proper prefix is
// ErrNeedMore (or, for the very first bytes, still undecided), never an error.
func TestIncremental(t *testing.T) {
	for _, in := range []string{
		"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n",
		"PROXY UNKNOWN\r\n",
		v2(0x21, 0x21, tcp6Addrs...),
		v2(0x20, 0x00),
	} {
		for i := range len(in) {
			var h Header
			if n, err := Parse([]byte(in[:i]), &h); err != ErrNeedMore {
				t.Errorf("Parse(%q) = %d, %v; want ErrNeedMore", in[:i], n, err)
			}
		}
	}
}

func ExampleParse() {
	var h Header
	b := []byte("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET / HTTP/1.1\r\n\r\n")
	n, err := Parse(b, &h)
	if err != nil {
		return
	}
	os.Stdout.WriteString(h.Source.String() + " " + strings.TrimSpace(string(b[n:n+16])) + "\n")
	// Output: 192.0.2.1:56324 GET / HTTP/1.1
}
