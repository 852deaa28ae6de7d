// Package proxy decides what the forwarded headers of a request may change. It parses
// --forwarded-allow-ips into a Trust (which peers are proxies we believe) and
// --forwarded-allow-headers into Headers (which headers those proxies set), and, for a request
// from a trusted peer, reads the allowed ones of X-Forwarded-Proto, -Ssl, -Protocol, -For,
// -Host, -Port and RFC 7239 Forwarded into the scheme, host, port and client address the WSGI
// environ should carry. From any other peer those headers change nothing; package server does
// not even call Resolve. docs/proxy.md documents each header.
//
// It is pure code, and Resolve allocates nothing per request once a Forwarded's buffers
// have grown: every result is a slice of a header value or of the Forwarded's own buffer.
package proxy

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"unsafe"

	"github.com/gonicorn/gonicorn/internal/http1"
)

// DefaultAllowIPs is gunicorn's default for forwarded_allow_ips: the loopback addresses,
// where a proxy on the same host connects from.
const DefaultAllowIPs = "127.0.0.1,::1"

// Headers is a parsed --forwarded-allow-headers: the set of forwarded headers a trusted proxy
// is believed to set. A header outside the set is never read, whoever sent it, so a client
// can send it through a proxy that neither sets nor removes it and change nothing. The zero
// value believes no header.
type Headers uint8

// The forwarded headers, one bit each.
const (
	xForwardedFor Headers = 1 << iota
	xForwardedProto
	xForwardedSsl
	xForwardedProtocol
	xForwardedHost
	xForwardedPort
	forwarded
)

// AllHeaders believes every forwarded header gonicorn knows.
const AllHeaders = xForwardedFor | xForwardedProto | xForwardedSsl | xForwardedProtocol |
	xForwardedHost | xForwardedPort | forwarded

// DefaultHeaders is the default of --forwarded-allow-headers: the client address and
// gunicorn's secure_scheme_headers, which every common proxy sets (or, for the scheme
// headers it does not set, which a contradiction turns into a 400 rather than a spoof). The
// host and port headers and Forwarded are opt-in: most proxies pass a client's copy of them
// through unchanged unless told to set or clear them, and a believed one would let any
// client choose HTTP_HOST (password-reset links, cache keys) and REMOTE_ADDR.
const DefaultHeaders = "x-forwarded-for,x-forwarded-proto,x-forwarded-ssl,x-forwarded-protocol"

// headerNames spells each header as --forwarded-allow-headers takes it, in the order of the
// bits.
var headerNames = [...]string{"x-forwarded-for", "x-forwarded-proto", "x-forwarded-ssl",
	"x-forwarded-protocol", "x-forwarded-host", "x-forwarded-port", "forwarded"}

// ParseHeaders parses a list of header names separated by commas or spaces, case-insensitive
// ("X-Forwarded-For, x-forwarded-host"). Empty items are skipped, so "" believes none.
func ParseHeaders(s string) (Headers, error) {
	var h Headers
	for _, item := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		bit := Headers(0)
		for i, name := range headerNames {
			if strings.EqualFold(item, name) {
				bit = 1 << i
			}
		}
		if bit == 0 {
			return 0, fmt.Errorf("unknown header %q: want some of %s", item, strings.Join(headerNames[:], ", "))
		}
		h |= bit
	}
	return h, nil
}

// String returns the set as ParseHeaders takes it.
func (h Headers) String() string {
	var names []string
	for i, name := range headerNames {
		if h&(1<<i) != 0 {
			names = append(names, name)
		}
	}
	return strings.Join(names, ",")
}

// Trust is a parsed --forwarded-allow-ips: the peers whose forwarded headers are believed.
// A nil *Trust trusts no peer. It is immutable after ParseTrust and safe for concurrent use.
type Trust struct {
	all      bool           // "*" was given: every peer is trusted
	prefixes []netip.Prefix // trusted networks (a single address is a /32 or /128); IPv4 unmapped
}

// ParseTrust parses a comma-separated list of IP addresses and CIDR networks
// ("10.0.0.1, 192.168.0.0/16, ::1"); "*" anywhere in it trusts every peer, as in gunicorn.
// Empty items are skipped, so "" trusts nobody.
func ParseTrust(s string) (*Trust, error) {
	t := &Trust{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		switch {
		case item == "":
			continue
		case item == "*":
			t.all = true
			continue
		case strings.Contains(item, "%"):
			return nil, fmt.Errorf("invalid address %q: zones are not supported", item)
		case strings.Contains(item, "/"):
			p, err := netip.ParsePrefix(item)
			if err != nil {
				return nil, fmt.Errorf("invalid network %q: want an IP address, a CIDR network or *", item)
			}
			if p.Addr().Is4In6() {
				// ::ffff:10.0.0.0/104 is 10.0.0.0/8; peers are matched unmapped.
				if p.Bits() < 96 {
					return nil, fmt.Errorf("invalid network %q: an IPv4-mapped network needs at least 96 bits", item)
				}
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			t.prefixes = append(t.prefixes, p.Masked())
		default:
			a, err := netip.ParseAddr(item)
			if err != nil {
				return nil, fmt.Errorf("invalid address %q: want an IP address, a CIDR network or *", item)
			}
			a = a.Unmap()
			t.prefixes = append(t.prefixes, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	return t, nil
}

// Trusted reports whether a is the address of a trusted proxy.
func (t *Trust) Trusted(a netip.Addr) bool {
	if t == nil || !a.IsValid() {
		return false
	}
	if t.all {
		return true
	}
	a = a.Unmap()
	for _, p := range t.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// TrustedPeer reports whether the peer of a connection is a trusted proxy. A peer without an
// IP address (a unix socket) is trusted, as in gunicorn: only a local process can connect,
// and a proxy on the same host is the reason to listen on one.
func (t *Trust) TrustedPeer(a net.Addr) bool {
	if t == nil {
		return false
	}
	if ta, ok := a.(*net.TCPAddr); ok {
		return t.Trusted(ta.AddrPort().Addr())
	}
	return true
}

// Forwarded is what the forwarded headers of one request say. A nil (or "") field means
// the headers said nothing about it and the connection's own value stands. The slices point
// into the request's header values or into buffers of the Forwarded itself: they are valid
// until the next Resolve or Reset. The zero value is ready to use; reuse one per connection.
type Forwarded struct {
	Scheme     string // "https" or "http"; "" = no scheme header
	Host       []byte // uri-host [":" port] from Forwarded host= or X-Forwarded-Host, validated
	Port       []byte // from X-Forwarded-Port: 1 to 65535, digits only
	Client     []byte // REMOTE_ADDR: the rightmost untrusted hop of Forwarded for= or X-Forwarded-For
	ClientPort []byte // that hop's port, when it gave a numeric one; nil otherwise

	elems []element // the Forwarded elements of the request being resolved; reused
	addr  []byte    // Client's text when it is an IP address (normalised); reused
}

// element is one forwarded-element of a Forwarded header (RFC 7239 §4); nil = parameter absent.
type element struct {
	forNode, host, proto []byte
}

// Reset clears f for a request that is not from a trusted peer, keeping its buffers.
func (f *Forwarded) Reset() {
	*f = Forwarded{elems: f.elems[:0], addr: f.addr[:0]}
}

// Client faults, with the status to answer; shared so that rejecting does not allocate.
// They never contain the request's bytes.
var (
	errScheme    = &http1.Error{Status: 400, Reason: "contradicting forwarded scheme headers"}
	errForwarded = &http1.Error{Status: 400, Reason: "invalid Forwarded header"}
	errFor       = &http1.Error{Status: 400, Reason: "invalid X-Forwarded-For"}
	errHost      = &http1.Error{Status: 400, Reason: "invalid forwarded host"}
	errPort      = &http1.Error{Status: 400, Reason: "invalid X-Forwarded-Port"}
)

// Resolve reads the forwarded headers of a request from a trusted peer into f (after
// resetting it). Only the headers in allow are read: the others change nothing and are not
// checked, since the proxy did not write them. It returns an *http1.Error (400) for scheme headers that contradict each
// other and for forwarded values that are malformed: a trusted proxy that sends them is
// misconfigured, and guessing which value it meant could make the app believe a scheme or a
// client it should not.
//
// Rules (docs/proxy.md has the full table):
//   - Scheme: every scheme statement (each element of X-Forwarded-Proto, X-Forwarded-Ssl,
//     X-Forwarded-Protocol, and the chosen Forwarded element's proto=) must agree, as in
//     gunicorn's secure_scheme_headers (corpus invalid/019); values we do not know are ignored.
//   - Client: walking the hops from the right, the first one that is not a trusted proxy
//     (the leftmost if all are); Forwarded for= when the chosen element has one, else
//     X-Forwarded-For.
//   - Host: the chosen Forwarded element's host=, else the rightmost X-Forwarded-Host.
//   - Port: the rightmost X-Forwarded-Port.
func (t *Trust) Resolve(hs []http1.Header, allow Headers, f *Forwarded) error {
	f.Reset()
	var xfHost, xfPort []byte // the rightmost elements; valid when sawHost, sawPort
	sawXFF, sawHost, sawPort := false, false, false
	for i := range hs {
		name, v := hs[i].Name, hs[i].Value
		// Names compare case-insensitively (RFC 9110 §5.1); the length picks the candidate.
		switch len(name) {
		case 9:
			if allow&forwarded != 0 && equalFold(name, "forwarded") {
				var err error
				if f.elems, err = parseForwarded(v, f.elems); err != nil {
					return err
				}
			}
		case 15:
			switch {
			case allow&xForwardedSsl != 0 && equalFold(name, "x-forwarded-ssl"):
				// gunicorn's secure_scheme_headers: "on" is https; we also take "off" as http.
				if err := f.setScheme(schemeOf(v, "on", "off")); err != nil {
					return err
				}
			case allow&xForwardedFor != 0 && equalFold(name, "x-forwarded-for"):
				sawXFF = true
			}
		case 16:
			// A list (proxies that append): the rightmost element is what the proxy that
			// connected to us saw; of repeated lines, the last.
			switch {
			case allow&xForwardedHost != 0 && equalFold(name, "x-forwarded-host"):
				xfHost, sawHost = lastElem(v), true
			case allow&xForwardedPort != 0 && equalFold(name, "x-forwarded-port"):
				xfPort, sawPort = lastElem(v), true
			}
		case 17:
			if allow&xForwardedProto != 0 && equalFold(name, "x-forwarded-proto") {
				for rest, more := v, true; more; {
					var e []byte
					e, rest, more = nextElem(rest)
					if err := f.setScheme(protoScheme(e)); err != nil {
						return err
					}
				}
			}
		case 20:
			if allow&xForwardedProtocol != 0 && equalFold(name, "x-forwarded-protocol") {
				// gunicorn's secure_scheme_headers: "ssl" is https.
				if err := f.setScheme(schemeOf(v, "ssl", "http")); err != nil {
					return err
				}
			}
		}
	}

	if len(f.elems) > 0 {
		// RFC 7239 §5.2: each proxy appends the element describing the connection it
		// received, so the elements are read from the right, skipping trusted proxies.
		e := &f.elems[0]
		for j := len(f.elems) - 1; j >= 0; j-- {
			e = &f.elems[j]
			if e.forNode == nil {
				break // the hop did not say where it came from: it is the one we know
			}
			a, _, _, ok := parseNode(e.forNode)
			if !ok {
				return errForwarded
			}
			if !t.Trusted(a) {
				break
			}
		}
		if e.proto != nil {
			if err := f.setScheme(protoScheme(e.proto)); err != nil {
				return err
			}
		}
		if e.host != nil {
			if !http1.ValidHost(e.host) {
				return errHost
			}
			f.Host = e.host
		}
		if e.forNode != nil {
			a, name, port, _ := parseNode(e.forNode)
			f.setClient(a, name, port)
		}
	}
	if f.Client == nil && sawXFF {
		if err := t.resolveXFF(hs, f); err != nil {
			return err
		}
	}
	if f.Host == nil && sawHost {
		if !http1.ValidHost(xfHost) {
			return errHost
		}
		f.Host = xfHost
	}
	if sawPort {
		if !validPort(xfPort) {
			return errPort
		}
		f.Port = xfPort
	}
	return nil
}

// resolveXFF sets the client from X-Forwarded-For: its lines form one list (RFC 9110 §5.3),
// walked from the right (the hop nearest to us) to the first address that is not a trusted
// proxy, or to the leftmost.
func (t *Trust) resolveXFF(hs []http1.Header, f *Forwarded) error {
	var leftmost []byte // the leftmost hop seen so far, all of them trusted
	for i := len(hs) - 1; i >= 0; i-- {
		if len(hs[i].Name) != 15 || !equalFold(hs[i].Name, "x-forwarded-for") {
			continue
		}
		for v := hs[i].Value; len(v) > 0; {
			var e []byte
			if j := bytes.LastIndexByte(v, ','); j >= 0 {
				e, v = trimOWS(v[j+1:]), v[:j]
			} else {
				e, v = trimOWS(v), nil
			}
			if len(e) == 0 {
				continue // RFC 9110 §5.6.1: empty list elements are ignored
			}
			a, name, port, ok := parseNode(e)
			if !ok {
				return errFor
			}
			if !t.Trusted(a) {
				f.setClient(a, name, port)
				return nil
			}
			leftmost = e
		}
	}
	if leftmost != nil {
		// Every hop is a trusted proxy: the leftmost is the client.
		a, name, port, _ := parseNode(leftmost)
		f.setClient(a, name, port)
	}
	return nil
}

// setScheme records one scheme statement; "" (a value we do not know) says nothing.
func (f *Forwarded) setScheme(s string) error {
	switch {
	case s == "":
	case f.Scheme == "":
		f.Scheme = s
	case f.Scheme != s:
		return errScheme // gunicorn's InvalidSchemeHeaders (corpus invalid/019)
	}
	return nil
}

// setClient sets Client to an address (normalised, as the socket's REMOTE_ADDR would be)
// or to a node name ("unknown" or an obfuscated "_id", RFC 7239 §6).
func (f *Forwarded) setClient(a netip.Addr, name, port []byte) {
	if a.IsValid() {
		f.addr = a.Unmap().AppendTo(f.addr[:0])
		f.Client = f.addr
	} else {
		f.Client = name
	}
	if validPort(port) {
		f.ClientPort = port
	}
}

// protoScheme maps a proto value (X-Forwarded-Proto, Forwarded proto=) to the scheme it
// names: the URI scheme, case-insensitive (RFC 3986 §3.1); ws and wss are http's and https's
// WebSocket twins (RFC 6455 §3). Anything else says nothing.
func protoScheme(v []byte) string {
	switch {
	case equalFold(v, "https"), equalFold(v, "wss"):
		return "https"
	case equalFold(v, "http"), equalFold(v, "ws"):
		return "http"
	}
	return ""
}

// schemeOf maps a flag-like value to https (on) or http (off), case-insensitively.
func schemeOf(v []byte, on, off string) string {
	v = trimOWS(v)
	switch {
	case equalFold(v, on):
		return "https"
	case equalFold(v, off):
		return "http"
	}
	return ""
}

// parseForwarded appends the elements of one Forwarded field value to elems
// (RFC 7239 §4):
//
//	Forwarded         = 1#forwarded-element
//	forwarded-element = [ forwarded-pair ] *( ";" [ forwarded-pair ] )
//	forwarded-pair    = token "=" value
//	value             = token / quoted-string
//
// Optional whitespace is allowed around ',' and ';', not around '='. A parameter may occur
// once per element (§4). Unknown parameters (extensions, §5.5) and by= are skipped. Empty
// list elements are ignored (RFC 9110 §5.6.1). A quoted value with a backslash is refused:
// no valid node or host contains one, so the value never needs unescaping.
func parseForwarded(v []byte, elems []element) ([]element, error) {
	var e element
	pairs := 0
	i := 0
	for {
		for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
			i++
		}
		if i == len(v) || v[i] == ',' {
			if pairs > 0 {
				elems = append(elems, e)
			}
			if i == len(v) {
				return elems, nil
			}
			e, pairs = element{}, 0
			i++
			continue
		}
		if v[i] == ';' {
			i++
			continue
		}
		start := i
		for i < len(v) && isTokenChar(v[i]) {
			i++
		}
		name := v[start:i]
		if len(name) == 0 || i == len(v) || v[i] != '=' {
			return elems, errForwarded
		}
		i++
		var val []byte
		if i < len(v) && v[i] == '"' {
			end := bytes.IndexByte(v[i+1:], '"')
			if end < 0 {
				return elems, errForwarded
			}
			val = v[i+1 : i+1+end]
			if bytes.IndexByte(val, '\\') >= 0 {
				return elems, errForwarded
			}
			i += end + 2
		} else {
			start := i
			for i < len(v) && isTokenChar(v[i]) {
				i++
			}
			val = v[start:i]
		}
		if len(val) == 0 {
			return elems, errForwarded
		}
		var slot *[]byte
		switch {
		case equalFold(name, "for"):
			slot = &e.forNode
		case equalFold(name, "host"):
			slot = &e.host
		case equalFold(name, "proto"):
			slot = &e.proto
		}
		if slot != nil {
			if *slot != nil {
				return elems, errForwarded // RFC 7239 §4: at most once per element
			}
			*slot = val
		}
		pairs++
		// After a pair: OWS, then ';', ',' or the end.
		for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
			i++
		}
		if i < len(v) && v[i] != ';' && v[i] != ',' {
			return elems, errForwarded
		}
	}
}

// parseNode parses a hop of Forwarded for= or X-Forwarded-For:
//
//	node     = nodename [ ":" node-port ]                         (RFC 7239 §6)
//	nodename = IPv4address / "[" IPv6address "]" / "unknown" / obfnode
//
// A bare IPv6 address (as X-Forwarded-For carries it) is accepted too: with more than one
// ':' there can be no port. It returns the address when the node is one (IPv6 zones are
// refused), else the name, and the port as given (numeric or obfuscated, or nil).
func parseNode(b []byte) (a netip.Addr, name, port []byte, ok bool) {
	if len(b) > 0 && b[0] == '[' {
		end := bytes.IndexByte(b, ']')
		if end < 0 {
			return netip.Addr{}, nil, nil, false
		}
		a, ok := parseAddr(b[1:end])
		if !ok || !a.Is6() {
			return netip.Addr{}, nil, nil, false
		}
		rest := b[end+1:]
		switch {
		case len(rest) == 0:
			return a, nil, nil, true
		case rest[0] == ':' && validNodePort(rest[1:]):
			return a, nil, rest[1:], true
		}
		return netip.Addr{}, nil, nil, false
	}
	switch bytes.Count(b, []byte{':'}) {
	case 0:
	case 1:
		i := bytes.IndexByte(b, ':')
		b, port = b[:i], b[i+1:]
		if !validNodePort(port) {
			return netip.Addr{}, nil, nil, false
		}
	default:
		a, ok := parseAddr(b)
		if !ok || !a.Is6() {
			return netip.Addr{}, nil, nil, false
		}
		return a, nil, nil, true
	}
	if equalFold(b, "unknown") || isObfuscated(b) {
		return netip.Addr{}, b, port, true
	}
	a, ok = parseAddr(b)
	if !ok || !a.Is4() {
		return netip.Addr{}, nil, nil, false
	}
	return a, nil, port, true
}

// parseAddr is netip.ParseAddr on bytes, without copying them: the string view lives only
// for the call, and netip keeps nothing of it in an Addr without a zone (zones are refused
// here), so a request costs no allocation.
func parseAddr(b []byte) (netip.Addr, bool) {
	if len(b) == 0 || bytes.IndexByte(b, '%') >= 0 {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(unsafe.String(&b[0], len(b)))
	return a, err == nil
}

// validNodePort reports whether p is a node-port: port (1*5DIGIT) or obfport
// ("_" 1*(ALPHA / DIGIT / "." / "_" / "-")), RFC 7239 §6.
func validNodePort(p []byte) bool {
	return validPort(p) || isObfuscated(p)
}

// isObfuscated reports whether b is an obfnode/obfport: "_" 1*(ALPHA / DIGIT / "." / "_" /
// "-") (RFC 7239 §6.3).
func isObfuscated(b []byte) bool {
	if len(b) < 2 || b[0] != '_' {
		return false
	}
	for _, c := range b[1:] {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// validPort reports whether p is a TCP port number, 1 to 65535, in at most 5 digits.
func validPort(p []byte) bool {
	if len(p) == 0 || len(p) > 5 {
		return false
	}
	n := 0
	for _, c := range p {
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	return n >= 1 && n <= 65535
}

// lastElem returns the rightmost OWS-trimmed element of a comma-separated list.
func lastElem(v []byte) []byte {
	if i := bytes.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return trimOWS(v)
}

// nextElem returns the first OWS-trimmed element of a comma-separated list, the rest, and
// whether there was a comma.
func nextElem(v []byte) (elem, rest []byte, more bool) {
	if i := bytes.IndexByte(v, ','); i >= 0 {
		return trimOWS(v[:i]), v[i+1:], true
	}
	return trimOWS(v), nil, false
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// isTokenChar reports whether c is a tchar (RFC 9110 §5.6.2).
func isTokenChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// equalFold reports whether b equals the lower-case ASCII s, ignoring case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}
