package static

import (
	"path"
	"strings"
	"testing"
)

// FuzzDecodePath: whatever the raw path, one that decodePath calls safe is already clean (no
// segment climbs, aliases or hides a separator), so joining it below a directory stays there.
// Run with go test -fuzz FuzzDecodePath ./internal/static; the seeds run with every go test.
func FuzzDecodePath(f *testing.F) {
	for _, s := range []string{"/a/b.css", "/%2e%2e/x", "/a%2fb", "/a/./b", "//x", "/a/", "/%5c..", "/.%2e/", "/%00", "/%%2e%2e", "/%252e%252e/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if !strings.HasPrefix(raw, "/") {
			return
		}
		p, safe := decodePath(nil, []byte(raw))
		if !safe {
			return
		}
		s := string(p)
		if strings.ContainsAny(s, "\\\x00") {
			t.Fatalf("decodePath(%q) = %q, safe; it holds a backslash or NUL", raw, s)
		}
		clean := path.Clean(s)
		if strings.HasSuffix(s, "/") && s != "/" {
			clean += "/"
		}
		if clean != s {
			t.Fatalf("decodePath(%q) = %q, safe; but it cleans to %q", raw, s, clean)
		}
	})
}
