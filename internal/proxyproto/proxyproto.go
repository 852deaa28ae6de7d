// Package proxyproto parses the PROXY protocol header (versions 1 and 2) that a layer-4
// proxy or load balancer (HAProxy, AWS NLB, ...) sends before the client's bytes, to tell the
// server the client's real address. It is pure code: the caller reads the bytes, decides
// whether the peer may send a header at all, and applies the result.
//
// The reference is the PROXY protocol specification, haproxy.org/download/2.9/doc/proxy-protocol.txt
// ("spec §2.1" is the human-readable header, "spec §2.2" the binary one). Parsing is strict:
// anything the specification does not allow is an error, because a header that a proxy did
// not write correctly cannot be trusted to name the client.
package proxyproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"strconv"
)

// MaxV1 is the longest version 1 header, CRLF included (spec §2.1: 107 bytes).
const MaxV1 = 107

// MaxV2 is the longest version 2 header: the 16-byte fixed part and up to 65535 bytes of
// addresses and TLVs (spec §2.2). Callers buffer at most this many bytes for a header.
const MaxV2 = 16 + 65535

// v2Sig is the 12-byte signature that starts a version 2 header (spec §2.2).
var v2Sig = []byte("\r\n\r\n\x00\r\nQUIT\n")

var v1Prefix = []byte("PROXY ")

// Header is a parsed PROXY header.
type Header struct {
	Version int // 1 or 2
	// Local reports that the header names no client: a v2 LOCAL command (a proxy's own
	// health check), a v2 PROXY command with the UNSPEC family, or v1 "UNKNOWN". The
	// connection's own addresses stay in effect (spec §2.1, §2.2).
	Local bool
	// Source is the client's address and port, Dest the address and port it connected to;
	// zero when Local. IPv4 addresses are 4-byte addresses; a TCP6 header may carry an
	// IPv4-mapped IPv6 address, which is kept as it is.
	Source, Dest netip.AddrPort
}

// ErrNeedMore means the bytes so far are a valid beginning of a header: read more.
var ErrNeedMore = errors.New("proxyproto: need more data")

// ErrNoHeader means the bytes do not start with a PROXY header of either version (they can
// still be an HTTP request).
var ErrNoHeader = errors.New("proxyproto: no PROXY header")

// Error is a malformed header; Reason says what was wrong (never the bytes themselves).
type Error struct{ Reason string }

func (e *Error) Error() string { return "proxyproto: invalid header: " + e.Reason }

func bad(reason string) error { return &Error{Reason: reason} }

// Detect reports which version of header b starts with: 1, 2, 0 when b cannot be the start
// of a header (ErrNoHeader), or ErrNeedMore when b is too short to tell.
func Detect(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, ErrNeedMore
	}
	if n := min(len(b), len(v1Prefix)); bytes.Equal(b[:n], v1Prefix[:n]) {
		if n < len(v1Prefix) {
			return 0, ErrNeedMore
		}
		return 1, nil
	}
	if n := min(len(b), len(v2Sig)); bytes.Equal(b[:n], v2Sig[:n]) {
		if n < len(v2Sig) {
			return 0, ErrNeedMore
		}
		return 2, nil
	}
	return 0, ErrNoHeader
}

// Parse parses the PROXY header at the start of b into h and returns its length. It returns
// ErrNeedMore when b holds only part of a header, ErrNoHeader when b does not start with
// one, and an *Error for a malformed header. The bytes after the header are not looked at.
func Parse(b []byte, h *Header) (int, error) {
	v, err := Detect(b)
	if err != nil {
		return 0, err
	}
	*h = Header{Version: v}
	if v == 1 {
		return parseV1(b, h)
	}
	return parseV2(b, h)
}

// parseV1 parses "PROXY TCP4 SRC DST SPORT DPORT\r\n" (spec §2.1): single spaces, CRLF,
// at most 107 bytes; "PROXY UNKNOWN" may be followed by anything up to the CRLF.
func parseV1(b []byte, h *Header) (int, error) {
	end := bytes.IndexByte(b[:min(len(b), MaxV1)], '\n')
	if end < 0 {
		if len(b) >= MaxV1 {
			return 0, bad("v1 line longer than 107 bytes")
		}
		if bytes.IndexByte(b, '\r') >= 0 && b[len(b)-1] != '\r' {
			return 0, bad("v1 line with a CR not followed by LF")
		}
		return 0, ErrNeedMore
	}
	if end == 0 || b[end-1] != '\r' {
		return 0, bad("v1 line not ended by CRLF")
	}
	line := b[len(v1Prefix) : end-1]
	if bytes.IndexByte(line, '\r') >= 0 {
		return 0, bad("v1 line with a stray CR")
	}
	n := end + 1
	if bytes.HasPrefix(line, []byte("UNKNOWN")) && (len(line) == 7 || line[7] == ' ') {
		// Spec §2.1: the receiver must ignore anything after UNKNOWN up to the CRLF.
		h.Local = true
		return n, nil
	}
	f := bytes.Split(line, []byte(" "))
	if len(f) != 5 {
		return 0, bad("v1 line does not have 5 fields after PROXY")
	}
	var want4 bool
	switch string(f[0]) {
	case "TCP4":
		want4 = true
	case "TCP6":
	default:
		return 0, bad("v1 protocol is not TCP4, TCP6 or UNKNOWN")
	}
	src, err := parseV1Addr(f[1], want4)
	if err != nil {
		return 0, err
	}
	dst, err := parseV1Addr(f[2], want4)
	if err != nil {
		return 0, err
	}
	sport, err := parseV1Port(f[3])
	if err != nil {
		return 0, err
	}
	dport, err := parseV1Port(f[4])
	if err != nil {
		return 0, err
	}
	h.Source = netip.AddrPortFrom(src, sport)
	h.Dest = netip.AddrPortFrom(dst, dport)
	return n, nil
}

func parseV1Addr(s []byte, want4 bool) (netip.Addr, error) {
	a, err := netip.ParseAddr(string(s)) // strict: no leading zeros in IPv4, no empty parts
	switch {
	case err != nil:
		return a, bad("v1 address is not an IP address")
	case a.Zone() != "":
		return a, bad("v1 address with a zone")
	case want4 && !a.Is4():
		return a, bad("TCP4 with an address that is not IPv4")
	case !want4 && !a.Is6():
		return a, bad("TCP6 with an address that is not IPv6")
	}
	return a, nil
}

// parseV1Port parses a port: 1 to 5 digits, no sign, no leading zero (spec §2.1), 0..65535.
func parseV1Port(s []byte) (uint16, error) {
	if len(s) == 0 || len(s) > 5 || (s[0] == '0' && len(s) > 1) {
		return 0, bad("v1 port is not a number from 0 to 65535")
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, bad("v1 port is not a number from 0 to 65535")
		}
	}
	p, err := strconv.ParseUint(string(s), 10, 16)
	if err != nil {
		return 0, bad("v1 port is not a number from 0 to 65535")
	}
	return uint16(p), nil
}

// Version 2 commands and families (spec §2.2).
const (
	cmdLocal = 0x0
	cmdProxy = 0x1

	famUnspec = 0x00
	famTCP4   = 0x11
	famTCP6   = 0x21
)

// parseV2 parses the binary header (spec §2.2): signature, version 2 and a command, the
// family, a length, then the addresses and TLVs.
func parseV2(b []byte, h *Header) (int, error) {
	if len(b) < 16 {
		if len(b) > 12 && b[12]>>4 != 2 {
			return 0, bad("v2 header with a version other than 2")
		}
		return 0, ErrNeedMore
	}
	verCmd, fam := b[12], b[13]
	size := int(binary.BigEndian.Uint16(b[14:16]))
	if verCmd>>4 != 2 {
		return 0, bad("v2 header with a version other than 2")
	}
	cmd := verCmd & 0xf
	if cmd != cmdLocal && cmd != cmdProxy {
		return 0, bad("v2 command is neither LOCAL nor PROXY")
	}
	var addrLen int
	switch fam {
	case famUnspec:
	case famTCP4:
		addrLen = 12
	case famTCP6:
		addrLen = 36
	default:
		if cmd == cmdProxy {
			// UDP and unix-socket families cannot describe an HTTP client over TCP.
			return 0, bad("v2 family is not TCP4, TCP6 or UNSPEC")
		}
	}
	if size < addrLen {
		return 0, bad("v2 length shorter than its addresses")
	}
	n := 16 + size
	if len(b) < n {
		return 0, ErrNeedMore
	}
	payload := b[16:n]
	if cmd == cmdLocal || fam == famUnspec {
		// Spec §2.2: LOCAL is the proxy's own connection, and with UNSPEC the receiver uses
		// the real connection endpoints; what follows is ignored.
		h.Local = true
		return n, nil
	}
	switch fam {
	case famTCP4:
		h.Source = netip.AddrPortFrom(netip.AddrFrom4([4]byte(payload[0:4])), binary.BigEndian.Uint16(payload[8:10]))
		h.Dest = netip.AddrPortFrom(netip.AddrFrom4([4]byte(payload[4:8])), binary.BigEndian.Uint16(payload[10:12]))
	case famTCP6:
		h.Source = netip.AddrPortFrom(netip.AddrFrom16([16]byte(payload[0:16])), binary.BigEndian.Uint16(payload[32:34]))
		h.Dest = netip.AddrPortFrom(netip.AddrFrom16([16]byte(payload[16:32])), binary.BigEndian.Uint16(payload[34:36]))
	}
	// The rest is TLVs (spec §2.2.7): type, 2-byte length, value. Their contents are not
	// used, but they must fill the rest exactly.
	for tlv := payload[addrLen:]; len(tlv) > 0; {
		if len(tlv) < 3 {
			return 0, bad("v2 TLV truncated")
		}
		l := 3 + int(binary.BigEndian.Uint16(tlv[1:3]))
		if l > len(tlv) {
			return 0, bad("v2 TLV longer than the header")
		}
		tlv = tlv[l:]
	}
	return n, nil
}
