package http1

// Byte classes from RFC 9110 §5.6.2 (tchar), §5.5 (field-vchar, obs-text)
// and RFC 3986 §2.2-2.3 (unreserved, sub-delims). Each table is indexed by
// the byte; they are computed once and never written again.

const (
	classToken      = 1 << iota // tchar, RFC 9110 §5.6.2
	classFieldValue             // field-vchar / SP / HTAB, RFC 9110 §5.5
	classTarget                 // a byte allowed anywhere in a request-target (see targetByte)
	classRegName                // unreserved / sub-delims, RFC 3986 §3.2.2 (pct-encoded checked apart)
	classHex                    // HEXDIG, RFC 5234 §B.1
)

var charClass = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		isAlpha := 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z'
		isDigit := '0' <= b && b <= '9'
		if isAlpha || isDigit || indexOf("!#$%&'*+-.^_`|~", b) {
			t[c] |= classToken
		}
		// RFC 9110 §5.5: field-value = *field-content; field-vchar = VCHAR / obs-text,
		// with SP and HTAB allowed between them. Everything else (NUL, CR, LF,
		// other CTLs, DEL) is rejected.
		if b == ' ' || b == '\t' || 0x21 <= b && b <= 0x7e || b >= 0x80 {
			t[c] |= classFieldValue
		}
		// RFC 9112 §3.2: a request-target never contains whitespace or CTLs.
		// obs-text (>= 0x80) is not allowed by RFC 3986 either, but gunicorn
		// accepts it (corpus valid/027: a raw UTF-8 path) and WSGI passes it on
		// as latin-1, so we accept it too.
		if 0x21 <= b && b <= 0x7e || b >= 0x80 {
			t[c] |= classTarget
		}
		if isAlpha || isDigit || indexOf("-._~!$&'()*+,;=", b) {
			t[c] |= classRegName
		}
		if isDigit || 'a' <= b && b <= 'f' || 'A' <= b && b <= 'F' {
			t[c] |= classHex
		}
	}
	return t
}()

func indexOf(s string, b byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == b {
			return true
		}
	}
	return false
}

func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if charClass[c]&classToken == 0 {
			return false
		}
	}
	return true
}

// Unhex is the value of the hexadecimal digit c, and whether c is one.
func Unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// equalFold reports whether b equals the lower-case ASCII string s, ignoring
// ASCII case in b. It does not allocate.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lower(b[i]) != s[i] {
			return false
		}
	}
	return true
}

// trimOWS removes leading and trailing OWS (SP / HTAB, RFC 9110 §5.6.3).
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// ValidFieldName reports whether b is a non-empty token (RFC 9110 §5.1,
// §5.6.2), as a response header name must be before it is written.
func ValidFieldName(b []byte) bool { return isToken(b) }

// ValidFieldValue reports whether b may be sent as a field value: RFC 9110
// §5.5 allows VCHAR, obs-text, SP and HTAB. CR, LF, NUL, the other CTLs and
// DEL are refused, so an application cannot split the response (CWE-113).
func ValidFieldValue(b []byte) bool {
	for _, c := range b {
		if charClass[c]&classFieldValue == 0 {
			return false
		}
	}
	return true
}

// ValidStatus reports whether b is a WSGI status "NNN reason" (PEP 3333):
// a 3-digit status code 100-999 (RFC 9110 §15), one SP, and a reason phrase
// of HTAB / SP / VCHAR / obs-text (RFC 9112 §4). The reason may be empty
// ("200 "), but the space may not: PEP 3333 requires it, so "200" is refused.
func ValidStatus(b []byte) bool {
	if len(b) < 4 || b[0] < '1' || b[0] > '9' || b[1] < '0' || b[1] > '9' ||
		b[2] < '0' || b[2] > '9' || b[3] != ' ' {
		return false
	}
	return ValidFieldValue(b[4:])
}

// DecodePath percent-decodes path for PATH_INFO, appending to dst, and
// returns the extended slice. Like Python's urllib.parse.unquote_to_bytes
// (which gunicorn uses), an invalid escape such as "%zz" or a truncated "%4"
// is kept literally, '+' is not a space, and "%2F" decodes to '/'.
func DecodePath(dst, path []byte) []byte {
	for i := 0; i < len(path); i++ {
		c := path[i]
		if c == '%' && i+2 < len(path) {
			hi, ok1 := Unhex(path[i+1])
			lo, ok2 := Unhex(path[i+2])
			if ok1 && ok2 {
				dst = append(dst, hi<<4|lo)
				i += 2
				continue
			}
		}
		dst = append(dst, c)
	}
	return dst
}

// ParseDigits parses 1*DIGIT of at most 18 digits (so it fits an int64): no sign, spaces,
// list or other base. It is the syntax of a Content-Length (RFC 9110 §8.6) and of a byte
// range's positions (RFC 9110 §14.1.1) where the caller has no use for larger numbers.
func ParseDigits(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
