package e2e

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// staticSite writes a directory to serve (and a secret file beside it) and returns both.
func staticSite(t *testing.T) (dir, secret string) {
	t.Helper()
	base := t.TempDir()
	dir = filepath.Join(base, "public")
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB: sent with sendfile
	files := map[string][]byte{
		"app.css":               []byte("body{color:red}"),
		"app.css.gz":            []byte("GZIPPED"),
		"base.0123456789ab.css": []byte("hashed"),
		"ten.bin":               []byte("0123456789"),
		"big.bin":               big,
		".env":                  []byte("SECRET=1"),
		"docs/index.html":       []byte("<h1>docs</h1>"),
	}
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	secret = filepath.Join(base, "secret.txt")
	if err := os.WriteFile(secret, []byte("TOP SECRET"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(dir, "out.txt")); err != nil {
		t.Fatal(err)
	}
	return dir, secret
}

func startStatic(t *testing.T, args ...string) *server {
	t.Helper()
	return start(t, append([]string{"--python", python(t), "--chdir", appsDir(t), "-w", "1", "--access-logfile", "-"}, append(args, "static")...)...)
}

// appCount asks the app how many requests it got before this one.
func appCount(t *testing.T, s *server) int {
	t.Helper()
	r := s.get("/count")
	n, err := strconv.Atoi(string(r.body))
	if r.status != 200 || err != nil {
		t.Fatalf("GET /count = %d %q", r.status, r.body)
	}
	return n
}

// TestStaticFiles: the master serves the files with WhiteNoise's features, and the app sees
// only what the master leaves to it.
func TestStaticFiles(t *testing.T) {
	dir, _ := staticSite(t)
	s := startStatic(t, "--static", "/static/="+dir, "--static-max-age", "120")

	r := s.get("/static/app.css")
	if r.status != 200 || string(r.body) != "body{color:red}" {
		t.Fatalf("GET /static/app.css = %d %q", r.status, r.body)
	}
	for name, want := range map[string]string{
		"Content-Type": "text/css; charset=utf-8", "Content-Length": "15", "Cache-Control": "public, max-age=120",
		"Vary": "Accept-Encoding", "Accept-Ranges": "bytes", "Server": "gonicorn",
	} {
		if got := r.header(name); got != want {
			t.Errorf("GET /static/app.css: %s = %q; want %q", name, got, want)
		}
	}
	etag, lastMod := r.header("ETag"), r.header("Last-Modified")
	if etag == "" || strings.HasPrefix(etag, "W/") || lastMod == "" {
		t.Errorf("ETag %q, Last-Modified %q; want a strong ETag and a date", etag, lastMod)
	}
	if r.header("Date") == "" || r.closed {
		t.Errorf("Date %q, closed %v; want a Date and keep-alive", r.header("Date"), r.closed)
	}

	// HEAD: the same header, no body.
	r = s.do("HEAD /static/app.css HTTP/1.1\r\nHost: t\r\n\r\n")
	if r.status != 200 || r.header("Content-Length") != "15" || r.header("ETag") != etag {
		t.Errorf("HEAD = %d Content-Length %q; want 200, 15", r.status, r.header("Content-Length"))
	}
	// Revalidation: 304, without a body.
	for _, cond := range []string{"If-None-Match: " + etag, "If-Modified-Since: " + lastMod} {
		r = s.do("GET /static/app.css HTTP/1.1\r\nHost: t\r\n" + cond + "\r\n\r\n")
		if r.status != 304 || len(r.body) != 0 || r.header("ETag") != etag {
			t.Errorf("%s = %d %q ETag %q; want 304 with the ETag", cond, r.status, r.body, r.header("ETag"))
		}
	}
	// Range and If-Range.
	r = s.do("GET /static/ten.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=2-5\r\n\r\n")
	if r.status != 206 || string(r.body) != "2345" || r.header("Content-Range") != "bytes 2-5/10" {
		t.Errorf("Range bytes=2-5 = %d %q %q; want 206 2345 bytes 2-5/10", r.status, r.body, r.header("Content-Range"))
	}
	r = s.do("GET /static/ten.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=2-5\r\nIf-Range: \"stale\"\r\n\r\n")
	if r.status != 200 || string(r.body) != "0123456789" {
		t.Errorf("Range with a stale If-Range = %d %q; want the whole file", r.status, r.body)
	}
	r = s.do("GET /static/ten.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=10-\r\n\r\n")
	if r.status != 416 || r.header("Content-Range") != "bytes */10" {
		t.Errorf("Range bytes=10- = %d %q; want 416 bytes */10", r.status, r.header("Content-Range"))
	}
	// The precompressed sibling, when the client takes it.
	r = s.do("GET /static/app.css HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip, deflate\r\n\r\n")
	if r.status != 200 || string(r.body) != "GZIPPED" || r.header("Content-Encoding") != "gzip" || r.header("Vary") != "Accept-Encoding" {
		t.Errorf("with Accept-Encoding gzip = %d %q Content-Encoding %q Vary %q", r.status, r.body, r.header("Content-Encoding"), r.header("Vary"))
	}
	// A hashed name is cached for a year.
	r = s.get("/static/base.0123456789ab.css")
	if r.status != 200 || r.header("Cache-Control") != "public, max-age=31536000, immutable" {
		t.Errorf("hashed name: %d Cache-Control %q; want immutable", r.status, r.header("Cache-Control"))
	}

	// Not a static hit: a missing file and a POST go to the app (as WhiteNoise does).
	if r = s.get("/static/missing.css"); r.status != 200 || string(r.body) != "app: GET /static/missing.css" {
		t.Errorf("missing file = %d %q; want the app's answer", r.status, r.body)
	}
	if r = s.do("POST /static/app.css HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"); string(r.body) != "app: POST /static/app.css" {
		t.Errorf("POST = %d %q; want the app's answer", r.status, r.body)
	}
	if n := appCount(t, s); n != 2 {
		t.Errorf("the app got %d requests; want 2 (the missing file and the POST): static hits must not reach it", n)
	}
	// The access log shows a static hit like any response, with its real byte count.
	if !s.log.waitFor(`"GET /static/app.css HTTP/1.1" 200 15 `, 5*time.Second) ||
		!s.log.waitFor(`"GET /static/ten.bin HTTP/1.1" 206 4 `, time.Second) ||
		!s.log.waitFor(`"HEAD /static/app.css HTTP/1.1" 200 0 `, time.Second) {
		t.Errorf("access log lacks the static responses:\n%s", s.log)
	}
}

// TestStaticTraversal: no path reaches a file outside the directory, nor a dotfile.
func TestStaticTraversal(t *testing.T) {
	dir, _ := staticSite(t)
	s := startStatic(t, "--static", "/static="+dir)
	for _, path := range []string{
		"/static/../secret.txt",
		"/static/%2e%2e/secret.txt",
		"/static/%2E%2e/%2e%2e/etc/passwd",
		"/static/..%2fsecret.txt",
		"/static/docs%2f..%2f..%2fsecret.txt",
		"/static/..%5csecret.txt",
		"/static/app.css%00.png",
		"/static//etc/passwd",
		"/static/out.txt", // a symlink to a file outside
		"/static/.env",    // a dotfile
	} {
		r := s.do("GET " + path + " HTTP/1.1\r\nHost: t\r\n\r\n")
		if r.status != 404 || bytes.Contains(r.body, []byte("SECRET")) || bytes.Contains(r.body, []byte("root:")) {
			t.Errorf("GET %s = %d %q; want 404", path, r.status, r.body)
		}
	}
	if n := appCount(t, s); n != 0 {
		t.Errorf("the app got %d requests; want none: the master answers these 404s", n)
	}
}

// TestStaticPipelined: static and app requests pipelined on one connection are answered in
// order, the big file (sendfile) included, and the connection stays open.
func TestStaticPipelined(t *testing.T) {
	dir, _ := staticSite(t)
	s := startStatic(t, "--static", "/static="+dir)
	big, err := os.ReadFile(filepath.Join(dir, "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	reqs := []struct{ path, range_, want string }{
		{"/static/app.css", "", "body{color:red}"},
		{"/hello", "", "app: GET /hello"},
		{"/static/big.bin", "", string(big)},
		{"/static/big.bin", "bytes=100000-700000", string(big[100000:700001])},
		{"/again", "", "app: GET /again"},
		{"/static/ten.bin", "", "0123456789"},
	}
	var all strings.Builder
	for _, rq := range reqs {
		all.WriteString("GET " + rq.path + " HTTP/1.1\r\nHost: t\r\n")
		if rq.range_ != "" {
			all.WriteString("Range: " + rq.range_ + "\r\n")
		}
		all.WriteString("\r\n")
	}
	if _, err := io.WriteString(c, all.String()); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	for _, rq := range reqs {
		r, err := readResponse(br, "GET")
		if err != nil {
			t.Fatalf("reading the answer to %s: %v", rq.path, err)
		}
		if string(r.body) != rq.want || r.closed {
			t.Errorf("%s (Range %q): %d, %d bytes, closed %v; want %d bytes, open", rq.path, rq.range_, r.status, len(r.body), r.closed, len(rq.want))
		}
	}
	if n := appCount(t, s); n != 2 {
		t.Errorf("the app got %d requests; want 2", n)
	}
}

// TestStaticFileRewritten: a file rewritten in place while it is sent is never delivered as
// a mix of versions or with a wrong length: the client gets all of one version, or the
// connection closes short of the Content-Length.
func TestStaticFileRewritten(t *testing.T) {
	dir, _ := staticSite(t)
	s := startStatic(t, "--static", "/static="+dir)
	p := filepath.Join(dir, "big.bin")
	versions := [][]byte{bytes.Repeat([]byte("a"), 4<<20), bytes.Repeat([]byte("b"), 4<<20)}
	if err := os.WriteFile(p, versions[0], 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(30 * time.Second))
		io.WriteString(c, "GET /static/big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
		br := bufio.NewReaderSize(c, 4096)
		if _, err := br.Peek(1); err != nil { // the answer has begun
			t.Fatal(err)
		}
		// Rewrite in place (same inode, O_TRUNC) while the client has read almost nothing.
		if err := os.WriteFile(p, versions[(i+1)%2], 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := readResponse(br, "GET")
		c.Close()
		if err != nil {
			continue // closed short of its Content-Length: allowed
		}
		if !bytes.Equal(r.body, versions[0]) && !bytes.Equal(r.body, versions[1]) {
			t.Fatalf("round %d: a complete body of %d bytes that is neither version", i, len(r.body))
		}
	}
}

// TestStaticOptionsFromFile: static_map and the static_* options in a config file; a
// directory asked for without its slash is redirected, with it its index.html is served.
func TestStaticOptionsFromFile(t *testing.T) {
	dir, _ := staticSite(t)
	conf := filepath.Join(t.TempDir(), "gunicorn.conf.py")
	writeConfig(t, conf, "static_map = ['/s=public']\nstatic_index = True\nstatic_dotfiles = True\n")
	s := start(t, "--python", python(t), "--chdir", filepath.Dir(dir), "-c", conf, "-w", "1", "--pythonpath", appsDir(t), "static")
	if r := s.get("/s/docs/"); r.status != 200 || string(r.body) != "<h1>docs</h1>" {
		t.Errorf("GET /s/docs/ = %d %q; want the index.html (static_index, a DIR relative to --chdir)", r.status, r.body)
	}
	if r := s.get("/s/docs"); r.status != 301 || r.header("Location") != "/s/docs/" {
		t.Errorf("GET /s/docs = %d Location %q; want 301 to /s/docs/", r.status, r.header("Location"))
	}
	if r := s.get("/s/.env"); r.status != 200 {
		t.Errorf("GET /s/.env with static_dotfiles = %d; want 200", r.status)
	}
}

// TestStaticBadDirectory: a --static directory that does not exist stops gonicorn at start,
// naming the flag and the value.
func TestStaticBadDirectory(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	for _, v := range []string{"/static=" + missing, "static=" + t.TempDir(), "/static"} {
		_, stderr, code := runCLI(t, nil, "--python", python(t), "--static", v, "app")
		if code != 1 || !strings.Contains(stderr, "--static") || !strings.Contains(stderr, v) {
			t.Errorf("--static %s: exit %d, stderr %q; want 1 naming --static and the value", v, code, stderr)
		}
	}
}

// TestSendfileHeaders: an app's X-Accel-Redirect or X-Sendfile naming a file under a
// --sendfile-root gets the file from the master with the app's status and header fields; the
// header never reaches the client; anything outside a root is a 404.
func TestSendfileHeaders(t *testing.T) {
	dir, secret := staticSite(t)
	s := start(t, "--python", python(t), "--chdir", appsDir(t), "-w", "1", "--sendfile-root", "/protected/="+dir, "sendfile")
	get := func(query string, headers ...string) *response {
		return s.do("GET /dl?" + query + " HTTP/1.1\r\nHost: t\r\n" + strings.Join(headers, "") + "\r\n")
	}
	check := func(what string, r *response, status int, body string) {
		t.Helper()
		if r.status != status || string(r.body) != body {
			t.Errorf("%s: %d %q; want %d %q", what, r.status, r.body, status, body)
		}
		if r.header("X-Sendfile") != "" || r.header("X-Accel-Redirect") != "" {
			t.Errorf("%s: the naming header reached the client", what)
		}
	}
	r := get("h=X-Accel-Redirect&v=/protected/app.css")
	check("X-Accel-Redirect", r, 200, "body{color:red}")
	if r.header("X-App") != "kept" || r.header("Content-Disposition") != "attachment; filename=x" ||
		r.header("Content-Type") != "text/css; charset=utf-8" || r.header("Content-Length") != "15" || r.header("ETag") == "" {
		t.Errorf("X-Accel-Redirect: header %v; want the app's fields, the file's type, length and ETag", r.headers)
	}
	r = get("h=X-Sendfile&v="+dir+"/ten.bin&ct=application/pdf", "Range: bytes=1-3\r\n")
	check("X-Sendfile with Range", r, 206, "123")
	if r.header("Content-Type") != "application/pdf" || r.header("Content-Range") != "bytes 1-3/10" {
		t.Errorf("X-Sendfile: Content-Type %q Content-Range %q; want the app's type and bytes 1-3/10", r.header("Content-Type"), r.header("Content-Range"))
	}
	etag := r.header("ETag")
	check("X-Sendfile revalidated", get("h=X-Sendfile&v="+dir+"/ten.bin", "If-None-Match: "+etag+"\r\n"), 304, "")
	r = get("h=X-Accel-Redirect&v=/protected/app.css", "Accept-Encoding: gzip\r\n")
	check("X-Accel-Redirect precompressed", r, 200, "GZIPPED")
	check("another status is kept", get("h=X-Sendfile&v="+dir+"/ten.bin&s=403+Forbidden"), 403, "0123456789")
	r = get("h=X-Sendfile&v=" + dir + "/app.css&ct=")
	check("an empty Content-Type", r, 200, "body{color:red}")
	if r.header("Content-Type") != "text/css; charset=utf-8" {
		t.Errorf("an empty Content-Type from the app: %q; want the file's", r.header("Content-Type"))
	}
	r = get("h=X-Sendfile&v=" + dir + "/ten.bin&s=304+Not+Modified")
	check("a 304 that names a file", r, 304, "")
	if r.header("Content-Length") != "" {
		t.Errorf("a 304 that names a file: Content-Length %q; want none", r.header("Content-Length"))
	}
	check("HEAD", s.do("HEAD /dl?h=X-Sendfile&v="+dir+"/ten.bin HTTP/1.1\r\nHost: t\r\n\r\n"), 200, "")

	for _, q := range []string{
		"h=X-Sendfile&v=" + secret,
		"h=X-Sendfile&v=" + dir + "/../secret.txt",
		"h=X-Sendfile&v=/etc/passwd",
		"h=X-Accel-Redirect&v=/protected/%2e%2e/secret.txt",
		"h=X-Accel-Redirect&v=/protected/out.txt",
		"h=X-Accel-Redirect&v=/elsewhere/app.css",
		"h=X-Accel-Redirect&v=/protected/missing.css",
	} {
		r := get(q)
		check(q, r, 404, "Not Found\n")
		if r.closed {
			t.Errorf("%s: the connection closed; a 404 keeps it", q)
		}
	}
	if !s.log.waitFor("cannot send the file the app named", 5*time.Second) {
		t.Errorf("a refused target was not logged")
	}
	// An answer without the headers is the app's own.
	check("no header", get("s=200+OK"), 200, "APP BODY")
	// A sendfile root is no static mount.
	if r := s.get("/protected/app.css"); string(r.body) == "body{color:red}" {
		t.Errorf("GET /protected/app.css served the file; a sendfile root is reachable only through the app")
	}
}

// TestSendfileOff: without a --sendfile-root the headers pass through untouched, for an nginx
// in front that handles X-Accel-Redirect itself.
func TestSendfileOff(t *testing.T) {
	s := start(t, "--python", python(t), "--chdir", appsDir(t), "-w", "1", "sendfile")
	r := s.get("/dl?h=X-Accel-Redirect&v=/protected/app.css")
	if r.status != 200 || string(r.body) != "APP BODY" || r.header("X-Accel-Redirect") != "/protected/app.css" {
		t.Errorf("without --sendfile-root: %d %q X-Accel-Redirect %q; want the app's answer as it is", r.status, r.body, r.header("X-Accel-Redirect"))
	}
}

// TestStaticDjangoAdmin: the example Django project's collectstatic output (with Django's
// ManifestStaticFilesStorage) served with --static: the admin login page's stylesheet comes
// from the master, hashed and cached for a year, with its .gz sibling when asked, and 304 on
// revalidation; the access log shows no worker for it.
func TestStaticDjangoAdmin(t *testing.T) {
	py := debianPython(t, "django")
	db := setupDjangoDB(t, py)
	tmp := t.TempDir()
	root := filepath.Join(tmp, "staticfiles")
	settings := `import os, django
from mysite.settings import *
STATIC_ROOT = os.environ["STATIC_ROOT"]
MEDIA_URL = "/media/"
MEDIA_ROOT = os.environ["MEDIA_ROOT"]
if django.VERSION >= (4, 2):
    STORAGES = {"default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
                "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"}}
else:
    STATICFILES_STORAGE = "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"
`
	if err := os.WriteFile(filepath.Join(tmp, "manifest_settings.py"), []byte(settings), 0o644); err != nil {
		t.Fatal(err)
	}
	media := filepath.Join(tmp, "media")
	if err := os.MkdirAll(media, 0o755); err != nil {
		t.Fatal(err)
	}
	// An upload whose name looks hashed: never cached as immutable.
	if err := os.WriteFile(filepath.Join(media, "photo.0123456789ab.txt"), []byte("upload"), 0o644); err != nil {
		t.Fatal(err)
	}
	djangoEnv := []string{"DJANGO_SETTINGS_MODULE=manifest_settings", "STATIC_ROOT=" + root, "MEDIA_ROOT=" + media, "DJANGO_DB=" + db}
	collect := exec.Command(py, "manage.py", "collectstatic", "--noinput", "-v", "0")
	collect.Dir = djangoDir
	collect.Env = append(os.Environ(), append(djangoEnv, "PYTHONPATH="+tmp)...)
	if out, err := collect.CombinedOutput(); err != nil {
		t.Fatalf("collectstatic: %v\n%s", err, out)
	}
	// No --static: the workers report STATIC_URL and STATIC_ROOT, and the master serves them.
	args := []string{"--chdir", djangoDir, "--python", py, "--pythonpath", tmp,
		"--access-logfile", "-", "--access-logformat", "ACCESS %(r)s %(s)s pid=%(p)s"}
	for _, kv := range djangoEnv {
		args = append(args, "-e", kv)
	}
	s := start(t, append(args, "mysite.wsgi")...)
	if !s.log.waitFor("Serving Django's STATIC_URL /static/ from STATIC_ROOT "+root, 5*time.Second) {
		t.Errorf("no line about serving STATIC_ROOT:\n%s", s.log)
	}
	if r := s.get("/media/photo.0123456789ab.txt"); r.status == 200 {
		t.Errorf("GET /media/... = 200 without --serve-media; user uploads must not be served unasked")
	}

	page := s.get("/admin/login/")
	css := regexp.MustCompile(`/static/admin/css/base\.[0-9a-f]{12}\.css`).Find(page.body)
	if page.status != 200 || css == nil {
		t.Fatalf("GET /admin/login/ = %d, stylesheet %q; want 200 linking the hashed base.css\n%s", page.status, css, page.body)
	}
	r := s.get(string(css))
	want, err := os.ReadFile(filepath.Join(root, strings.TrimPrefix(string(css), "/static/")))
	if err != nil {
		t.Fatal(err)
	}
	if r.status != 200 || !bytes.Equal(r.body, want) || r.header("Content-Type") != "text/css; charset=utf-8" ||
		r.header("Cache-Control") != "public, max-age=31536000, immutable" {
		t.Fatalf("GET %s = %d %s %q; want 200, the file, text/css, immutable", css, r.status, r.header("Content-Type"), r.header("Cache-Control"))
	}
	if !s.log.waitFor("ACCESS GET "+string(css)+" HTTP/1.1 200 pid=-", 5*time.Second) {
		t.Errorf("the access log does not show the stylesheet served without a worker:\n%s", s.log)
	}
	r = s.do("GET " + string(css) + " HTTP/1.1\r\nHost: t\r\nIf-None-Match: " + r.header("ETag") + "\r\n\r\n")
	if r.status != 304 {
		t.Errorf("revalidation = %d; want 304", r.status)
	}
	// The unhashed name is there too (collectstatic keeps it), cached briefly.
	if r = s.get("/static/admin/css/base.css"); r.status != 200 || r.header("Cache-Control") != "public, max-age=60" {
		t.Errorf("GET /static/admin/css/base.css = %d %q; want 200 with the short max-age", r.status, r.header("Cache-Control"))
	}
	// A .gz sibling, as WhiteNoise's CompressedManifestStaticFilesStorage writes them.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(want)
	zw.Close()
	if err := os.WriteFile(filepath.Join(root, strings.TrimPrefix(string(css), "/static/"))+".gz", gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	r = s.do("GET " + string(css) + " HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip, deflate, br\r\n\r\n")
	if r.status != 200 || r.header("Content-Encoding") != "gzip" || !bytes.Equal(r.body, gz.Bytes()) {
		t.Errorf("with Accept-Encoding gzip: %d Content-Encoding %q, %d bytes; want the .gz sibling", r.status, r.header("Content-Encoding"), len(r.body))
	}
	s.stop()

	// --django-static=false: the stylesheet goes to the app (a worker answers it);
	// --serve-media: MEDIA_ROOT is served, an upload's hash-like name not cached as immutable.
	s = start(t, append(args, "--django-static=false", "--serve-media", "mysite.wsgi")...)
	if r := s.get(string(css)); r.status == 200 && r.header("Cache-Control") == "public, max-age=31536000, immutable" {
		t.Errorf("GET %s with --django-static=false was served from STATIC_ROOT", css)
	}
	if !s.log.waitFor("ACCESS GET "+string(css)+" HTTP/1.1 ", 5*time.Second) || strings.Contains(s.log.String(), "ACCESS GET "+string(css)+" HTTP/1.1 200 pid=-") {
		t.Errorf("with --django-static=false the stylesheet must reach a worker:\n%s", s.log)
	}
	r = s.get("/media/photo.0123456789ab.txt")
	if r.status != 200 || string(r.body) != "upload" || r.header("Cache-Control") != "public, max-age=60" {
		t.Errorf("GET /media/photo.0123456789ab.txt with --serve-media = %d %q %q; want 200, the upload, max-age=60", r.status, r.body, r.header("Cache-Control"))
	}
}
