package static

import (
	"bytes"

	"github.com/gonicorn/gonicorn/internal/http1"
)

// encoding is a precompressed sibling: the content coding it has and its file suffix.
type encoding struct {
	name   string // the content-coding (RFC 9110 §8.4.1)
	suffix string // appended to the file's name: "app.css.br"
}

// encodings are the siblings looked for, in the server's order of preference when the
// client rates them equally: brotli and zstd compress text better than gzip.
var encodings = [...]encoding{{"br", ".br"}, {"zstd", ".zst"}, {"gzip", ".gz"}}

// acceptable returns, for each of encodings, the quality (0 to 1000) the request's
// Accept-Encoding fields give it (RFC 9110 §12.5.3): its own entry, else "*", else 0 (a
// request without Accept-Encoding gets the file as it is; identity is always acceptable
// here). "x-gzip" is gzip (RFC 9110 §8.4.1.3).
func acceptable(hs []http1.Header) [len(encodings)]int {
	var q [len(encodings)]int
	var seen [len(encodings)]bool
	star := -1
	for i := range hs {
		if !bytes.EqualFold(hs[i].Name, []byte("Accept-Encoding")) {
			continue
		}
		for v := hs[i].Value; len(v) > 0; {
			var item []byte
			item, v = nextItem(v)
			coding, quality := parseWeighted(item)
			if bytes.EqualFold(coding, []byte("x-gzip")) {
				coding = []byte("gzip")
			}
			if string(coding) == "*" {
				star = quality
				continue
			}
			for j, e := range encodings {
				if bytes.EqualFold(coding, []byte(e.name)) {
					q[j], seen[j] = quality, true
				}
			}
		}
	}
	for j := range q {
		if !seen[j] && star >= 0 {
			q[j] = star
		}
	}
	return q
}

// nextItem splits a comma-separated list (RFC 9110 §5.6.1) into its first item, trimmed of
// whitespace, and the rest.
func nextItem(v []byte) ([]byte, []byte) {
	item, rest, _ := bytes.Cut(v, []byte(","))
	return bytes.TrimSpace(item), rest
}

// parseWeighted splits "gzip;q=0.5" into the coding and its weight in thousandths (RFC 9110
// §12.4.2); no weight is 1000, a malformed one 0 (not acceptable, the safe reading).
func parseWeighted(item []byte) ([]byte, int) {
	coding, params, ok := bytes.Cut(item, []byte(";"))
	coding = bytes.TrimSpace(coding)
	if !ok {
		return coding, 1000
	}
	for len(params) > 0 {
		var p []byte
		p, params, _ = bytes.Cut(params, []byte(";"))
		name, value, _ := bytes.Cut(bytes.TrimSpace(p), []byte("="))
		if bytes.EqualFold(bytes.TrimSpace(name), []byte("q")) {
			return coding, parseQ(bytes.TrimSpace(value))
		}
	}
	return coding, 1000
}

// parseQ parses a qvalue (RFC 9110 §12.4.2: "0" ["." 0*3DIGIT] / "1" ["." 0*3("0")]) into
// thousandths; anything else is 0.
func parseQ(v []byte) int {
	if len(v) == 0 || (v[0] != '0' && v[0] != '1') {
		return 0
	}
	n := int(v[0]-'0') * 1000
	if len(v) == 1 {
		return n
	}
	if v[1] != '.' || len(v) > 5 {
		return 0
	}
	scale := 100
	for _, c := range v[2:] {
		if c < '0' || c > '9' {
			return 0
		}
		n += int(c-'0') * scale
		scale /= 10
	}
	return min(n, 1000)
}
