package static

import (
	"bytes"
	"time"

	"github.com/gonicorn/gonicorn/internal/http1"
)

// preconditions evaluates the request's conditional fields in the order of RFC 9110 §13.2.2
// against the file's entity tag and modification time, and returns 412, 304 or 0 (go on).
//
//  1. If-Match: no strong match → 412 (§13.1.1).
//  2. else If-Unmodified-Since: modified after it → 412 (§13.1.4).
//  3. If-None-Match: a weak match → 304 for GET and HEAD (§13.1.2).
//  4. else If-Modified-Since: not modified since → 304 (§13.1.3).
func preconditions(req *http1.Request, etag []byte, mtime time.Time) int {
	mod := mtime.Truncate(time.Second) // HTTP dates have whole seconds
	if v := header(req, "If-Match"); v != nil {
		if !matchETag(v, etag, false) {
			return 412
		}
	} else if v := header(req, "If-Unmodified-Since"); v != nil {
		if t, ok := parseHTTPDate(v); ok && mod.After(t) {
			return 412
		}
	}
	if v := header(req, "If-None-Match"); v != nil {
		if matchETag(v, etag, true) {
			return 304
		}
	} else if v := header(req, "If-Modified-Since"); v != nil {
		if t, ok := parseHTTPDate(v); ok && !mod.After(t) {
			return 304
		}
	}
	return 0
}

// ifRange reports whether a Range may be honoured (RFC 9110 §13.1.5): there is no If-Range,
// or it holds the file's entity tag (strong comparison) or exactly its Last-Modified date.
// Otherwise the whole file is sent with 200, since the client's part is of another version.
func ifRange(req *http1.Request, etag []byte, mtime time.Time) bool {
	v := bytes.TrimSpace(header(req, "If-Range"))
	switch {
	case v == nil:
		return true
	case len(v) > 0 && (v[0] == '"' || bytes.HasPrefix(v, []byte("W/"))):
		return bytes.Equal(v, etag) // a weak tag never matches strongly
	}
	t, ok := parseHTTPDate(v)
	return ok && t.Equal(mtime.Truncate(time.Second))
}

// matchETag reports whether the list v ("*" or entity tags, RFC 9110 §8.8.3) matches etag:
// with weak comparison, W/ prefixes are ignored; with strong comparison, a weak tag never
// matches (§8.8.3.2).
func matchETag(v, etag []byte, weak bool) bool {
	for len(v) > 0 {
		var item []byte
		item, v = nextItem(v)
		switch {
		case string(item) == "*":
			return true
		case bytes.HasPrefix(item, []byte("W/")):
			if weak && bytes.Equal(item[2:], etag) {
				return true
			}
		case bytes.Equal(item, etag):
			return true
		}
	}
	return false
}

// parseRange parses a Range field value for a file of size bytes (RFC 9110 §14.1.2, §14.2)
// and returns the byte range to send, first to last inclusive. ok is false when the Range is
// to be ignored and the whole file sent with 200: none, another unit, a malformed one, or
// several ranges (the server MAY ignore a Range, §14.2; a multipart/byteranges answer is
// rare in practice and not worth its complexity). ok with first < 0 means the range is
// unsatisfiable: 416.
func parseRange(v []byte, size int64) (first, last int64, ok bool) {
	unit, spec, found := bytes.Cut(bytes.TrimSpace(v), []byte("="))
	if !found || !bytes.EqualFold(bytes.TrimSpace(unit), []byte("bytes")) || bytes.IndexByte(spec, ',') >= 0 {
		return 0, 0, false
	}
	a, b, found := bytes.Cut(bytes.TrimSpace(spec), []byte("-"))
	if !found {
		return 0, 0, false
	}
	if len(a) == 0 { // suffix-range: the last b bytes
		n, ok := http1.ParseDigits(b)
		switch {
		case !ok:
			return 0, 0, false
		case n == 0 || size == 0:
			return -1, -1, true
		}
		return max(size-n, 0), size - 1, true
	}
	first, ok = http1.ParseDigits(a)
	if !ok {
		return 0, 0, false
	}
	last = size - 1
	if len(b) > 0 {
		if last, ok = http1.ParseDigits(b); !ok || last < first {
			return 0, 0, false // invalid: ignored (§14.1.1)
		}
		last = min(last, size-1)
	}
	if first >= size {
		return -1, -1, true
	}
	return first, last, true
}

// httpDate is IMF-fixdate, the preferred HTTP-date format (RFC 9110 §5.6.7).
const httpDate = "Mon, 02 Jan 2006 15:04:05 GMT"

func appendHTTPDate(b []byte, t time.Time) []byte { return t.UTC().AppendFormat(b, httpDate) }

// parseHTTPDate parses an HTTP-date in any of the three formats a recipient must accept
// (RFC 9110 §5.6.7): IMF-fixdate, RFC 850 and asctime.
func parseHTTPDate(v []byte) (time.Time, bool) {
	s := string(bytes.TrimSpace(v))
	for _, layout := range [...]string{httpDate, "Monday, 02-Jan-06 15:04:05 GMT", "Mon Jan _2 15:04:05 2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
