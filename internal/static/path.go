package static

// Path resolution: from the request's raw path to a mount and a relative file name that
// cannot leave the mount's directory. The raw path is split on '/' before any decoding, so
// an encoded slash (%2F) can never make a segment boundary; each segment is then
// percent-decoded on its own and refused when it could climb out of the directory or name
// something else than a file in it.

import "github.com/gonicorn/gonicorn/internal/http1"

// verdict is what resolve found out about a request path.
type verdict int

const (
	pathOK     verdict = iota // a clean path: look the file up
	pathUnsafe                // a segment that could escape or is not a file name: 404
	pathHidden                // a segment starting with '.' (a dotfile or dot directory): 404 unless allowed
)

// decodePath percent-decodes the raw request path (RFC 3986 §2.1) into dst, segment by
// segment, and reports whether every segment is safe to use as a file name component:
//
//   - no decoded '/' (%2F): an encoded slash is data, not a separator, and would let a
//     segment span directories;
//   - no '\' (raw or %5C): a separator on other systems, refused so that "..\" tricks
//     never become meaningful;
//   - no NUL (%00): it ends a C string, so the file opened would not be the one checked;
//   - no "." or ".." segment, encoded or not (%2e%2e): no climbing, no aliasing;
//   - no empty segment ("//"), except a trailing one ("dir/"): "//etc" would read as an
//     absolute path to some APIs.
//
// An invalid escape ("%zz") is kept literally, as http1.DecodePath (and so PATH_INFO) does.
// raw must start with '/'. dst receives the decoded path, "/" joined.
func decodePath(dst, raw []byte) ([]byte, bool) {
	safe := true
	for i := 0; i < len(raw); {
		// raw[i] == '/': a segment starts after it.
		dst = append(dst, '/')
		i++
		start := len(dst)
		for i < len(raw) && raw[i] != '/' {
			c := raw[i]
			if c == '%' && i+2 < len(raw) {
				hi, ok1 := http1.Unhex(raw[i+1])
				lo, ok2 := http1.Unhex(raw[i+2])
				if ok1 && ok2 {
					c = hi<<4 | lo
					i += 2
				}
			}
			if c == '/' || c == '\\' || c == 0 {
				safe = false
			}
			dst = append(dst, c)
			i++
		}
		seg := dst[start:]
		switch {
		case string(seg) == "." || string(seg) == "..":
			safe = false
		case len(seg) == 0 && i < len(raw):
			safe = false // an empty segment that is not the last one
		}
	}
	return dst, safe
}

// hasHidden reports whether a segment of the relative path rel starts with '.'.
func hasHidden(rel string) bool {
	for i := 0; i < len(rel); i++ {
		if rel[i] == '.' && (i == 0 || rel[i-1] == '/') {
			return true
		}
	}
	return false
}

// cut returns the part of the decoded path p below prefix (a clean mount prefix without a
// trailing slash, "" for the root mount), without its leading '/', and reports whether p is
// under prefix at a segment boundary: "/static/a.css" is under "/static", "/staticx" is not.
func cut(p []byte, prefix string) (string, bool) {
	if len(p) < len(prefix) || string(p[:len(prefix)]) != prefix {
		return "", false
	}
	rest := p[len(prefix):]
	switch {
	case len(rest) == 0:
		return "", true
	case rest[0] != '/':
		return "", false
	}
	return string(rest[1:]), true
}
