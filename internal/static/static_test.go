package static

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gonicorn/gonicorn/internal/http1"
)

// site makes a directory to serve and a secret file next to (outside) it.
func site(t *testing.T) (dir, outside string) {
	t.Helper()
	base := t.TempDir()
	dir = filepath.Join(base, "public")
	files := map[string]string{
		"app.css":                     "body{}",
		"app.css.gz":                  "GZ",
		"app.css.br":                  "BR",
		"only.js":                     "js",
		"only.js.gz":                  "GZJS",
		"logo.png":                    "PNG",
		"base.0123456789ab.css":       "hashed",
		"admin/base.css":              "admin",
		"admin/base.5f3e2a1b9c7d.css": "manifest-hashed",
		"docs/index.html":             "<h1>docs</h1>",
		".env":                        "SECRET",
		".well-known/x.txt":           "wk",
		"a b.txt":                     "space",
		"empty.txt":                   "",
		"ten.bin":                     "0123456789",
		"noext":                       "?",
		"staticfiles.json":            `{"paths": {"admin/base.css": "admin/base.5f3e2a1b9c7d.css"}, "version": "1.1"}`,
	}
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	outside = filepath.Join(base, "secret.txt")
	if err := os.WriteFile(outside, []byte("TOP SECRET"), 0o644); err != nil {
		t.Fatal(err)
	}
	must(t, os.Symlink(outside, filepath.Join(dir, "out.txt")))
	must(t, os.Symlink(base, filepath.Join(dir, "outdir")))
	must(t, os.Symlink("app.css", filepath.Join(dir, "in.css")))
	must(t, syscall.Mkfifo(filepath.Join(dir, "fifo.txt"), 0o644))
	return dir, outside
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func handler(t *testing.T, opts Options, mounts ...Mount) *Handler {
	t.Helper()
	for i := range mounts {
		mounts[i].Options = opts
	}
	h, err := New(Config{Mounts: mounts}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// serve parses the raw request head and serves it; it returns whether the master answered,
// the reply, and the body the caller would send.
func serve(t *testing.T, h *Handler, head string) (bool, *Reply, string) {
	t.Helper()
	var req http1.Request
	if _, err := http1.ParseHead([]byte(head), &http1.Limits{}, &req); err != nil {
		t.Fatalf("ParseHead(%q): %v", head, err)
	}
	r := &Reply{}
	ok := h.Serve(&req, r)
	body := r.Body
	if r.File != nil {
		b := make([]byte, r.Length)
		if _, err := r.File.ReadAt(b, r.Offset); err != nil {
			t.Fatalf("%q: reading the reply's file: %v", head, err)
		}
		body = string(b)
	}
	t.Cleanup(r.Close)
	return ok, r, body
}

func get(path string, headers ...string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: x\r\n" + strings.Join(headers, "") + "\r\n"
}

func hdr(r *Reply, name string) string {
	for _, line := range strings.Split(string(r.Header), "\r\n") {
		if n, v, ok := strings.Cut(line, ": "); ok && strings.EqualFold(n, name) {
			return v
		}
	}
	return ""
}

// TestSafety: no request path reaches a file outside the directory, nor a dotfile; each is
// a 404 from the master (never the app, never the file).
func TestSafety(t *testing.T) {
	dir, _ := site(t)
	h := handler(t, Options{}, Mount{Prefix: "/static/", Dir: dir})
	tests := []struct {
		path string
		why  string
	}{
		{"/static/../secret.txt", "dot-dot segment"},
		{"/static/admin/../../secret.txt", "dot-dot segment deeper"},
		{"/static/%2e%2e/secret.txt", "encoded dot-dot (RFC 3986 §2.1)"},
		{"/static/%2E%2E/secret.txt", "encoded dot-dot, upper case"},
		{"/static/.%2e/secret.txt", "half-encoded dot-dot"},
		{"/static/./app.css", "dot segment"},
		{"/static/..%2fsecret.txt", "encoded slash after dot-dot"},
		{"/static/admin%2f..%2f..%2fsecret.txt", "encoded slashes"},
		{"/static/admin%2Fbase.css", "encoded slash, even to an existing file"},
		{"/static/..%5csecret.txt", "encoded backslash"},
		{"/static/admin\\..\\..\\secret.txt", "raw backslash"},
		{"/static/app.css%00.png", "NUL"},
		{"/static//etc/passwd", "empty segment: an absolute path"},
		{"/static/%2fetc/passwd", "encoded leading slash: an absolute path"},
		{"/static/out.txt", "symlink to a file outside"},
		{"/static/outdir/secret.txt", "symlink to a directory outside"},
		{"/static/.env", "dotfile"},
		{"/static/.well-known/x.txt", "dot directory"},
		{"/static/fifo.txt", "not a regular file"},
	}
	for _, tt := range tests {
		ok, r, body := serve(t, h, get(tt.path))
		if !ok || r.Status != 404 || r.File != nil || strings.Contains(body, "SECRET") {
			t.Errorf("%s (%s): served=%v status=%d body=%q; want a 404 from the master", tt.path, tt.why, ok, r.Status, body)
		}
	}
}

// TestSafetyOptions: the symlink and dotfile options open what they say, and nothing more.
func TestSafetyOptions(t *testing.T) {
	dir, _ := site(t)
	h := handler(t, Options{FollowSymlinks: true, Dotfiles: true}, Mount{Prefix: "/static", Dir: dir})
	for path, want := range map[string]string{
		"/static/out.txt":           "TOP SECRET",
		"/static/outdir/secret.txt": "TOP SECRET",
		"/static/.env":              "SECRET",
		"/static/.well-known/x.txt": "wk",
	} {
		if ok, r, body := serve(t, h, get(path)); !ok || r.Status != 200 || body != want {
			t.Errorf("%s with FollowSymlinks and Dotfiles: %v %d %q; want 200 %q", path, ok, r.Status, body, want)
		}
	}
	for _, path := range []string{"/static/../secret.txt", "/static/%2e%2e/secret.txt", "/static//etc/passwd"} {
		if ok, r, _ := serve(t, h, get(path)); !ok || r.Status != 404 {
			t.Errorf("%s with FollowSymlinks: %v %d; want 404", path, ok, r.Status)
		}
	}
}

// TestPassToApp: what the master leaves to the app.
func TestPassToApp(t *testing.T) {
	dir, _ := site(t)
	h := handler(t, Options{}, Mount{Prefix: "/static", Dir: dir})
	for _, head := range []string{
		get("/other/app.css"),      // not under a mount
		get("/staticx/app.css"),    // a prefix only at a segment boundary
		get("/static/missing.css"), // not there: the app may know it (WhiteNoise, uWSGI)
		get("/static/app.css/x"),   // below a file
		get("/static/docs/"),       // a directory, no Index
		get("/static"),             // the mount's directory itself
		"POST /static/app.css HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", // not GET/HEAD (WhiteNoise)
		"GET /static/app.css HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n",  // a body
		"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
	} {
		if ok, r, _ := serve(t, h, head); ok {
			t.Errorf("%q: the master answered %d; want the app", firstLine(head), r.Status)
		}
	}
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\r\n"); return l }

func TestServe(t *testing.T) {
	dir, _ := site(t)
	h := handler(t, Options{MaxAge: 90 * time.Second}, Mount{Prefix: "/static", Dir: dir})
	ok, r, body := serve(t, h, get("/static/app.css?v=3"))
	if !ok || r.Status != 200 || body != "body{}" {
		t.Fatalf("GET app.css = %v %d %q", ok, r.Status, body)
	}
	for name, want := range map[string]string{
		"Content-Type": "text/css; charset=utf-8", "Content-Length": "6", "Accept-Ranges": "bytes",
		"Cache-Control": "public, max-age=90", "Vary": "Accept-Encoding", "Content-Encoding": "",
	} {
		if got := hdr(r, name); got != want {
			t.Errorf("GET app.css: %s = %q; want %q", name, got, want)
		}
	}
	if et := hdr(r, "ETag"); !strings.HasPrefix(et, `"`) || strings.HasPrefix(et, "W/") {
		t.Errorf("ETag = %q; want a strong tag", et)
	}
	if _, err := time.Parse(httpDate, hdr(r, "Last-Modified")); err != nil {
		t.Errorf("Last-Modified = %q: %v", hdr(r, "Last-Modified"), err)
	}
	for path, want := range map[string][2]string{
		"/static/logo.png":       {"image/png", "PNG"},
		"/static/noext":          {"application/octet-stream", "?"},
		"/static/a%20b.txt":      {"text/plain; charset=utf-8", "space"},
		"/static/in.css":         {"text/css; charset=utf-8", "body{}"}, // a link inside is followed
		"/static/APP.CSS":        {"", ""},
		"/static/ten.bin":        {"application/octet-stream", "0123456789"},
		"/static/empty.txt":      {"text/plain; charset=utf-8", ""},
		"/static/only.js.gz":     {"application/gzip", "GZJS"},
		"/static/admin/base.css": {"text/css; charset=utf-8", "admin"},
	} {
		ok, r, body := serve(t, h, get(path))
		if want[0] == "" {
			if ok {
				t.Errorf("%s: served %d; want the app (names are case-sensitive)", path, r.Status)
			}
			continue
		}
		if !ok || r.Status != 200 || hdr(r, "Content-Type") != want[0] || body != want[1] {
			t.Errorf("%s = %v %d %q %q; want 200 %q %q", path, ok, r.Status, hdr(r, "Content-Type"), body, want[0], want[1])
		}
	}
	// HEAD: the same header, no body.
	ok, r, body = serve(t, h, "HEAD /static/app.css HTTP/1.1\r\nHost: x\r\n\r\n")
	if !ok || r.Status != 200 || body != "" || r.File != nil || hdr(r, "Content-Length") != "6" {
		t.Errorf("HEAD app.css = %v %d %q file=%v Content-Length=%q; want 200, no body, Content-Length 6", ok, r.Status, body, r.File != nil, hdr(r, "Content-Length"))
	}
}

func TestImmutable(t *testing.T) {
	dir, _ := site(t)
	h := handler(t, Options{MaxAge: time.Minute}, Mount{Prefix: "/static", Dir: dir})
	for path, want := range map[string]string{
		"/static/base.0123456789ab.css":       "public, max-age=31536000, immutable", // the hash pattern
		"/static/admin/base.5f3e2a1b9c7d.css": "public, max-age=31536000, immutable", // the manifest
		"/static/admin/base.css":              "public, max-age=60",
		"/static/app.css":                     "public, max-age=60",
	} {
		if _, r, _ := serve(t, h, get(path)); hdr(r, "Cache-Control") != want {
			t.Errorf("%s: Cache-Control = %q; want %q", path, hdr(r, "Cache-Control"), want)
		}
	}
	for name, want := range map[string]bool{
		"base.0123456789ab.css": true, "main.3f9a0c1b2d4e5f60718293a4.js": true,
		"app.css": false, "jquery-3.7.1.min.js": false, "v.2024010203040.css": false,
		"deadbeefcafe.css": false, "x.deadbeefcafe.css": false, "0123456789ab": false,
		"x.0123456789AB.css": false,
	} {
		if got := hashedName(name); got != want {
			t.Errorf("hashedName(%q) = %v; want %v", name, got, want)
		}
	}
}

func TestPrecompressed(t *testing.T) {
	dir, _ := site(t)
	h := handler(t, Options{}, Mount{Prefix: "/static", Dir: dir})
	tests := []struct {
		path, accept, enc, body string
	}{
		{"/static/app.css", "", "", "body{}"},
		{"/static/app.css", "gzip", "gzip", "GZ"},
		{"/static/app.css", "gzip, deflate, br", "br", "BR"},     // equal q: the server prefers br
		{"/static/app.css", "br;q=0.5, gzip", "gzip", "GZ"},      // RFC 9110 §12.5.3 weights
		{"/static/app.css", "br;q=0, gzip;q=0", "", "body{}"},    // q=0: not acceptable
		{"/static/app.css", "*", "br", "BR"},                     // "*" stands for any coding
		{"/static/app.css", "*;q=0.1, gzip;q=0.2", "gzip", "GZ"}, // listed codings beat "*"
		{"/static/app.css", "x-gzip", "gzip", "GZ"},              // RFC 9110 §8.4.1.3
		{"/static/app.css", "zstd", "", "body{}"},                // no .zst sibling
		{"/static/only.js", "br, gzip;q=0.9", "gzip", "GZJS"},    // br missing: the next best
		{"/static/logo.png", "gzip", "", "PNG"},                  // not compressible: no sibling looked for
		{"/static/app.css", "gzip;q=bogus", "", "body{}"},        // a malformed weight is 0
	}
	etags := map[string]string{}
	for _, tt := range tests {
		var hs []string
		if tt.accept != "" {
			hs = append(hs, "Accept-Encoding: "+tt.accept+"\r\n")
		}
		_, r, body := serve(t, h, get(tt.path, hs...))
		if r.Status != 200 || hdr(r, "Content-Encoding") != tt.enc || body != tt.body {
			t.Errorf("%s with Accept-Encoding %q = %d %q %q; want 200 %q %q", tt.path, tt.accept, r.Status, hdr(r, "Content-Encoding"), body, tt.enc, tt.body)
		}
		if strings.HasSuffix(tt.path, ".css") && hdr(r, "Vary") != "Accept-Encoding" {
			t.Errorf("%s with Accept-Encoding %q: Vary = %q; want Accept-Encoding", tt.path, tt.accept, hdr(r, "Vary"))
		}
		if tt.path == "/static/app.css" {
			if et, seen := etags[tt.enc]; seen && et != hdr(r, "ETag") {
				t.Errorf("ETag of the %q variant differs between requests", tt.enc)
			}
			etags[tt.enc] = hdr(r, "ETag")
		}
	}
	if etags[""] == etags["gzip"] || etags["gzip"] == etags["br"] {
		t.Errorf("variants share an ETag: %v; each representation needs its own", etags)
	}
}

func TestConditional(t *testing.T) {
	dir, _ := site(t)
	h := handler(t, Options{}, Mount{Prefix: "/static", Dir: dir})
	_, r, _ := serve(t, h, get("/static/app.css"))
	etag, lm := hdr(r, "ETag"), hdr(r, "Last-Modified")
	mtime, _ := time.Parse(httpDate, lm)
	before := mtime.Add(-time.Hour).Format(httpDate)
	after := mtime.Add(time.Hour).Format(httpDate)
	tests := []struct {
		header string
		want   int
		why    string
	}{
		{"If-None-Match: " + etag, 304, "RFC 9110 §13.1.2"},
		{"If-None-Match: \"other\", " + etag, 304, "a list"},
		{"If-None-Match: W/" + etag, 304, "weak comparison"},
		{"If-None-Match: *", 304, "any"},
		{"If-None-Match: \"other\"", 200, "no match"},
		{"If-Modified-Since: " + lm, 304, "§13.1.3: not modified since"},
		{"If-Modified-Since: " + after, 304, "later"},
		{"If-Modified-Since: " + before, 200, "modified since"},
		{"If-Modified-Since: garbage", 200, "an invalid date is ignored"},
		{"If-None-Match: \"other\"\r\nIf-Modified-Since: " + lm, 200, "§13.2.2: If-None-Match wins"},
		{"If-Match: " + etag, 200, "§13.1.1"},
		{"If-Match: \"other\"", 412, "§13.1.1: no match"},
		{"If-Match: W/" + etag, 412, "strong comparison"},
		{"If-Unmodified-Since: " + before, 412, "§13.1.4"},
		{"If-Unmodified-Since: " + lm, 200, "§13.1.4: unmodified"},
	}
	for _, tt := range tests {
		_, r, body := serve(t, h, get("/static/app.css", tt.header+"\r\n"))
		if r.Status != tt.want {
			t.Errorf("%q (%s) = %d; want %d", tt.header, tt.why, r.Status, tt.want)
		}
		if r.Status == 304 && (body != "" || r.File != nil || hdr(r, "ETag") != etag || hdr(r, "Vary") == "" || hdr(r, "Cache-Control") == "" || hdr(r, "Content-Length") != "") {
			t.Errorf("%q: 304 header %q; want ETag, Vary, Cache-Control and no body (RFC 9110 §15.4.5)", tt.header, r.Header)
		}
	}
}

func TestRange(t *testing.T) {
	dir, _ := site(t)
	h := handler(t, Options{}, Mount{Prefix: "/static", Dir: dir})
	_, r, _ := serve(t, h, get("/static/ten.bin"))
	etag, lm := hdr(r, "ETag"), hdr(r, "Last-Modified")
	tests := []struct {
		path, headers string
		status        int
		body, cr      string
	}{
		{"ten.bin", "Range: bytes=0-3", 206, "0123", "bytes 0-3/10"},
		{"ten.bin", "Range: bytes=7-", 206, "789", "bytes 7-9/10"},
		{"ten.bin", "Range: bytes=-2", 206, "89", "bytes 8-9/10"},
		{"ten.bin", "Range: bytes=-20", 206, "0123456789", "bytes 0-9/10"},
		{"ten.bin", "Range: bytes=5-100", 206, "56789", "bytes 5-9/10"},
		{"ten.bin", "Range: bytes=10-", 416, "Range Not Satisfiable\n", "bytes */10"},
		{"ten.bin", "Range: bytes=-0", 416, "Range Not Satisfiable\n", "bytes */10"},
		{"empty.txt", "Range: bytes=0-", 416, "Range Not Satisfiable\n", "bytes */0"},
		{"ten.bin", "Range: bytes=0-1,4-5", 200, "0123456789", ""}, // several: the whole (documented)
		{"ten.bin", "Range: bytes=5-2", 200, "0123456789", ""},     // invalid: ignored
		{"ten.bin", "Range: items=0-1", 200, "0123456789", ""},     // unknown unit: ignored
		{"ten.bin", "Range: bytes=x-1", 200, "0123456789", ""},
		{"ten.bin", "Range: bytes=0-3\r\nIf-Range: " + etag, 206, "0123", "bytes 0-3/10"},
		{"ten.bin", "Range: bytes=0-3\r\nIf-Range: " + lm, 206, "0123", "bytes 0-3/10"},
		{"ten.bin", "Range: bytes=0-3\r\nIf-Range: \"old\"", 200, "0123456789", ""},
		{"ten.bin", "Range: bytes=0-3\r\nIf-Range: W/" + etag, 200, "0123456789", ""},
		{"ten.bin", "Range: bytes=0-3\r\nIf-Range: Mon, 02 Jan 2006 15:04:05 GMT", 200, "0123456789", ""},
	}
	for _, tt := range tests {
		_, r, body := serve(t, h, get("/static/"+tt.path, tt.headers+"\r\n"))
		if r.Status != tt.status || body != tt.body || hdr(r, "Content-Range") != tt.cr {
			t.Errorf("%s %q = %d %q Content-Range %q; want %d %q %q", tt.path, tt.headers, r.Status, body, hdr(r, "Content-Range"), tt.status, tt.body, tt.cr)
		}
	}
	// HEAD ignores Range (RFC 9110 §14.2: defined for GET only).
	_, r, _ = serve(t, h, "HEAD /static/ten.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\n\r\n")
	if r.Status != 200 || hdr(r, "Content-Length") != "10" {
		t.Errorf("HEAD with Range = %d, Content-Length %q; want 200, 10", r.Status, hdr(r, "Content-Length"))
	}
}

func TestIndex(t *testing.T) {
	dir, _ := site(t)
	h := handler(t, Options{Index: true}, Mount{Prefix: "/", Dir: dir})
	if ok, r, body := serve(t, h, get("/docs/")); !ok || r.Status != 200 || body != "<h1>docs</h1>" || hdr(r, "Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("GET /docs/ with Index = %v %d %q", ok, r.Status, body)
	}
	if ok, r, _ := serve(t, h, get("/docs?x=1")); !ok || r.Status != 301 || hdr(r, "Location") != "/docs/?x=1" {
		t.Errorf("GET /docs with Index = %v %d Location %q; want 301 /docs/?x=1", ok, r.Status, hdr(r, "Location"))
	}
	if ok, r, _ := serve(t, h, get("/admin/")); ok {
		t.Errorf("GET /admin/ (no index.html) = %d; want the app: never a listing", r.Status)
	}
	if ok, _, body := serve(t, h, get("/app.css")); !ok || body != "body{}" {
		t.Errorf("the root mount does not serve /app.css")
	}
}

func TestLongestPrefix(t *testing.T) {
	dir, _ := site(t)
	h := handler(t, Options{}, Mount{Prefix: "/", Dir: filepath.Join(dir, "admin")}, Mount{Prefix: "/static", Dir: dir})
	if _, r, body := serve(t, h, get("/static/app.css")); r.Status != 200 || body != "body{}" {
		t.Errorf("/static/app.css = %d %q; want the /static mount", r.Status, body)
	}
	if _, r, body := serve(t, h, get("/base.css")); r.Status != 200 || body != "admin" {
		t.Errorf("/base.css = %d %q; want the / mount", r.Status, body)
	}
}

func TestNewErrors(t *testing.T) {
	dir, _ := site(t)
	for _, m := range []Mount{
		{Prefix: "static", Dir: dir},
		{Prefix: "/a//b", Dir: dir},
		{Prefix: "/a/../b", Dir: dir},
		{Prefix: "/static", Dir: filepath.Join(dir, "nope")},
		{Prefix: "/static", Dir: filepath.Join(dir, "app.css")},
	} {
		if _, err := New(Config{Mounts: []Mount{m}}, slog.New(slog.NewTextHandler(io.Discard, nil))); err == nil || !strings.Contains(err.Error(), m.Prefix) {
			t.Errorf("New(%+v) = %v; want an error naming the mount", m, err)
		}
	}
}

// TestUnchanged: a file rewritten after it was opened is told apart, so that the server
// closes the connection rather than send a mix.
func TestUnchanged(t *testing.T) {
	dir, _ := site(t)
	h := handler(t, Options{}, Mount{Prefix: "/static", Dir: dir})
	_, r, _ := serve(t, h, get("/static/ten.bin"))
	if !r.Unchanged() {
		t.Fatal("Unchanged() = false for a file nobody touched")
	}
	p := filepath.Join(dir, "ten.bin")
	must(t, os.WriteFile(p, []byte("abcdefghijklmnop"), 0o644)) // in place: same inode
	if r.Unchanged() {
		t.Error("Unchanged() = true after the file was rewritten in place")
	}
}

func TestDecodePath(t *testing.T) {
	tests := []struct {
		in, out string
		safe    bool
	}{
		{"/a/b.css", "/a/b.css", true},
		{"/a%20b", "/a b", true},
		{"/st%61tic/x", "/static/x", true},
		{"/dir/", "/dir/", true},
		{"/", "/", true},
		{"/%zz", "/%zz", true}, // invalid escapes stay, as in PATH_INFO
		{"/a/../b", "/a/../b", false},
		{"/a/%2e%2E/b", "/a/../b", false},
		{"/a%2fb", "/a/b", false},
		{"/a%5cb", "/a\\b", false},
		{"/a\\b", "/a\\b", false},
		{"/a%00", "/a\x00", false},
		{"//a", "//a", false},
		{"/a//b", "/a//b", false},
		{"/.", "/.", false},
	}
	for _, tt := range tests {
		got, safe := decodePath(nil, []byte(tt.in))
		if string(got) != tt.out || safe != tt.safe {
			t.Errorf("decodePath(%q) = %q, %v; want %q, %v", tt.in, got, safe, tt.out, tt.safe)
		}
	}
}

func TestParseQ(t *testing.T) {
	for in, want := range map[string]int{"1": 1000, "0": 0, "0.5": 500, "0.123": 123, "1.000": 1000, "1.5": 1000, "0.1234": 0, "2": 0, "": 0, "0.x": 0} {
		if got := parseQ([]byte(in)); got != want {
			t.Errorf("parseQ(%q) = %d; want %d", in, got, want)
		}
	}
}

// TestTypeTableDocumented: docs/static.md lists the extension table exactly as the code has it.
func TestTypeTableDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/static.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]fileType{}
	for _, line := range strings.Split(string(doc), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) != 5 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`.") {
			continue
		}
		ext := strings.Trim(strings.TrimSpace(cells[1]), "`")
		documented[ext] = fileType{strings.Trim(strings.TrimSpace(cells[2]), "`"), strings.TrimSpace(cells[3]) == "yes"}
	}
	for ext, ft := range types {
		if documented[ext] != ft {
			t.Errorf("docs/static.md: %s is %+v; the code says %+v", ext, documented[ext], ft)
		}
	}
	for ext := range documented {
		if _, ok := types[ext]; !ok {
			t.Errorf("docs/static.md lists %s, which the code does not have", ext)
		}
	}
}

func sendfileHandler(t *testing.T, dir string) *Handler {
	t.Helper()
	h, err := New(Config{SendfileRoots: []Mount{{Prefix: "/protected/", Dir: dir}}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestSendfileTargets: X-Accel-Redirect URIs and X-Sendfile paths reach files under a root
// only.
func TestSendfileTargets(t *testing.T) {
	dir, outside := site(t)
	h := sendfileHandler(t, dir)
	tests := []struct {
		accel  bool
		target string
		want   string // "" = refused (404)
	}{
		{true, "/protected/app.css", "body{}"},
		{true, "/protected/a%20b.txt?x=1", "space"}, // decoded; the query is not part of the file
		{true, "/protected/admin/base.css", "admin"},
		{true, "/protected/../secret.txt", ""},
		{true, "/protected/%2e%2e/secret.txt", ""},
		{true, "/protected/admin%2f..%2f..%2fsecret.txt", ""},
		{true, "/protected/out.txt", ""}, // a symlink out of the root
		{true, "/protected/.env", ""},
		{true, "/protected/", ""},
		{true, "/other/app.css", ""},
		{true, "protected/app.css", ""},
		{false, dir + "/app.css", "body{}"},
		{false, dir + "/admin/base.css", "admin"},
		{false, dir + "/../secret.txt", ""},
		{false, dir + "/admin/../../secret.txt", ""},
		{false, dir + "//app.css", ""},
		{false, dir + "x/app.css", ""}, // a sibling directory whose name starts like the root's
		{false, outside, ""},
		{false, dir + "/out.txt", ""},
		{false, dir + "/.env", ""},
		{false, "app.css", ""},
		{false, "/etc/passwd", ""},
	}
	for _, tt := range tests {
		var req http1.Request
		http1.ParseHead([]byte(get("/download")), &http1.Limits{}, &req)
		var r Reply
		err := h.ServeSendfile(&req, Sendfile{Accel: tt.accel, Target: []byte(tt.target), Conditional: true}, &r)
		body := r.Body
		if r.File != nil {
			b := make([]byte, r.Length)
			r.File.ReadAt(b, r.Offset)
			body = string(b)
		}
		r.Close()
		switch {
		case tt.want == "" && (err == nil || r.Status != 404):
			t.Errorf("accel=%v %q: %d %q, err %v; want refused with 404", tt.accel, tt.target, r.Status, body, err)
		case tt.want != "" && (err != nil || r.Status != 200 || body != tt.want):
			t.Errorf("accel=%v %q: %d %q, err %v; want 200 %q", tt.accel, tt.target, r.Status, body, err, tt.want)
		}
	}
	// Sendfile roots are not served to clients.
	if ok, r, _ := serve(t, h, get("/protected/app.css")); ok {
		t.Errorf("GET /protected/app.css from a sendfile root = %d; want the app", r.Status)
	}
}

// TestSendfileReply: the app's Content-Type wins, no Cache-Control of the master's is added
// (the file may be private), and preconditions and Range apply only to a 200.
func TestSendfileReply(t *testing.T) {
	dir, _ := site(t)
	h := sendfileHandler(t, dir)
	serveSF := func(sf Sendfile, headers ...string) *Reply {
		var req http1.Request
		http1.ParseHead([]byte(get("/download", headers...)), &http1.Limits{}, &req)
		r := &Reply{}
		if err := h.ServeSendfile(&req, sf, r); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.Close)
		return r
	}
	sf := Sendfile{Accel: true, Target: []byte("/protected/base.0123456789ab.css"), Conditional: true}
	r := serveSF(sf)
	if hdr(r, "Cache-Control") != "" || hdr(r, "Content-Type") != "text/css; charset=utf-8" || r.Status != 200 {
		t.Errorf("X-Accel-Redirect: %d Cache-Control %q Content-Type %q; want 200, none, text/css", r.Status, hdr(r, "Cache-Control"), hdr(r, "Content-Type"))
	}
	etag := hdr(r, "ETag")
	sf.HasType = true
	if r = serveSF(sf); hdr(r, "Content-Type") != "" {
		t.Errorf("with the app's Content-Type: ours is %q; want none", hdr(r, "Content-Type"))
	}
	if r = serveSF(sf, "If-None-Match: "+etag+"\r\n"); r.Status != 304 {
		t.Errorf("If-None-Match on a 200: %d; want 304", r.Status)
	}
	if r = serveSF(sf, "Range: bytes=0-1\r\n"); r.Status != 206 || r.Length != 2 {
		t.Errorf("Range on a 200: %d, %d bytes; want 206, 2", r.Status, r.Length)
	}
	sf.Conditional = false
	if r = serveSF(sf, "If-None-Match: "+etag+"\r\nRange: bytes=0-1\r\n"); r.Status != 200 || r.Length != 6 {
		t.Errorf("If-None-Match and Range on another status: %d, %d bytes; want the whole file", r.Status, r.Length)
	}
}
