package accesslog

import (
	"unicode"
	"unicode/utf8"
)

// appendValue appends the value of an atom: '-' if it is empty, the way
// gunicorn prints a missing atom, else the escaped value.
func appendValue(b, v []byte) []byte {
	if len(v) == 0 {
		return append(b, '-')
	}
	return appendEscaped(b, v)
}

// appendValueString is appendValue for a string.
func appendValueString(b []byte, v string) []byte {
	if len(v) == 0 {
		return append(b, '-')
	}
	return appendEscaped(b, v)
}

const hexDigits = "0123456789abcdef"

// plainEnd returns the end of the run of plain ASCII that starts at s[i]: printable, and
// neither '"' nor '\\', the bytes that both the text and the JSON log copy as they are.
func plainEnd[T string | []byte](s T, i int) int {
	for i < len(s) && ' ' <= s[i] && s[i] < 0x7f && s[i] != '"' && s[i] != '\\' {
		i++
	}
	return i
}

// appendEscaped appends s with every byte that could let a client forge or
// hide log content written as \xHH:
//
//   - ASCII control characters, CR and LF above all, which would end the
//     line early and let the rest pass for a request of its own;
//   - '"', which would close the quoted field it sits in, and '\', so that
//     an escape in the output always came from us;
//   - bytes that are not valid UTF-8, and valid runes that are not printable
//     (C1 controls, U+2028, the bidi overrides of CVE-2021-42574), which a
//     terminal or viewer might act on.
//
// Printable UTF-8, such as an accented path or user agent, passes through.
// gunicorn itself only backslash-escapes '"'; \xHH for all of these follows
// Apache's and nginx's access logs.
func appendEscaped[T string | []byte](b []byte, s T) []byte {
	for i := 0; i < len(s); {
		// Copy the run of plain ASCII in one append.
		j := plainEnd(s, i)
		b = append(b, s[i:j]...)
		if j == len(s) {
			break
		}
		i = j
		if c := s[i]; c >= utf8.RuneSelf {
			// At most UTFMax bytes: converting a []byte this short for a
			// call does not allocate.
			r, size := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
			if r != utf8.RuneError && unicode.IsPrint(r) {
				b = append(b, s[i:i+size]...)
				i += size
				continue
			}
			// Invalid or unprintable: escape every byte of it.
			for end := i + max(size, 1); i < end; i++ {
				b = append(b, '\\', 'x', hexDigits[s[i]>>4], hexDigits[s[i]&0xf])
			}
			continue
		}
		b = append(b, '\\', 'x', hexDigits[s[i]>>4], hexDigits[s[i]&0xf])
		i++
	}
	return b
}
