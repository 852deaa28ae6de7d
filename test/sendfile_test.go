package e2e

import (
	"bytes"
	"crypto/rand"
	"net/url"
	"os"
	"path/filepath"
	"testing"
)

// TestNoSendfile: with gunicorn's --no-sendfile (on the command line, as sendfile = False in
// a config file, or from SENDFILE=0) the master copies file bodies through a buffer instead
// of with sendfile(2) (internal/server's TestClientWriterNoSendfile checks that); a
// wsgi.file_wrapper file, a --static file and an X-Sendfile file arrive byte-exact, whole and
// in ranges.
func TestNoSendfile(t *testing.T) {
	data := make([]byte, 3<<20+123) // several steps of the copy, and an odd tail
	rand.Read(data)
	dir := t.TempDir()
	path := filepath.Join(dir, "data.bin")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(t.TempDir(), "g.conf.py")
	if err := os.WriteFile(conf, []byte("sendfile = False\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	check := func(what string, r *response, want []byte) {
		t.Helper()
		if r.status/100 != 2 || !bytes.Equal(r.body, want) {
			t.Errorf("%s: status %d, %d bytes; want 2xx, %d bytes (equal: %v)", what, r.status, len(r.body), len(want), bytes.Equal(r.body, want))
		}
	}

	t.Run("file_wrapper, --no-sendfile", func(t *testing.T) {
		s := pepStart(t, "pep", "--no-sendfile")
		file := "/file?path=" + url.QueryEscape(path)
		check("whole file", s.get(file), data)
		check("offset and Content-Length", s.get(file+"&offset=1000&cl=70000"), data[1000:71000])
	})
	t.Run("--static, sendfile = False", func(t *testing.T) {
		s := startStatic(t, "-c", conf, "--static", "/static/="+dir)
		check("whole file", s.get("/static/data.bin"), data)
		r := s.do("GET /static/data.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=100-200099\r\n\r\n")
		check("range", r, data[100:200100])
	})
	t.Run("X-Sendfile, SENDFILE=0", func(t *testing.T) {
		s := startIn(t, appsDir(t), []string{"SENDFILE=0"}, "--python", python(t), "-w", "1", "--sendfile-root", "/protected/="+dir, "sendfile")
		check("X-Sendfile", s.get("/?h=X-Sendfile&v="+url.QueryEscape(path)), data)
	})
}
