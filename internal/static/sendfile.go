package static

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/gonicorn/gonicorn/internal/http1"
)

// X-Sendfile and X-Accel-Redirect: an app answers with a header naming a file, and the master
// sends that file instead of the app's body, with the app's status and other header fields
// and the static features (conditionals, Range, precompressed siblings). Only files under the
// sendfile roots (--sendfile-root URI_PREFIX=DIR) may be named:
//
//   - X-Accel-Redirect (nginx): a URI, percent-decoded and checked like a request path, under
//     a root's URI_PREFIX; the file is the rest of it under DIR.
//   - X-Sendfile (Apache's mod_xsendfile, django-sendfile2): an absolute file path that
//     starts with a root's DIR (as configured, symlinks not resolved); not decoded.

// Sendfile is what an app's answer asked for.
type Sendfile struct {
	Accel  bool   // X-Accel-Redirect; else X-Sendfile
	Target []byte // the header's value
	// HasType reports that the app set Content-Type itself: the file's type is not added.
	HasType bool
	// Conditional is true when the app's status is 200: the request's preconditions and
	// Range apply to the file (304, 412, 206, 416). Any other status sends the whole file.
	Conditional bool
}

// HasSendfile reports whether X-Sendfile and X-Accel-Redirect are on: a root is configured.
// When they are off, both headers pass to the client as the app sent them (an nginx in front
// may handle them).
func (h *Handler) HasSendfile() bool { return h != nil && len(h.roots) > 0 }

// ServeSendfile fills r with the file an app's answer named. When the file cannot be sent
// (not under a root, an unsafe path, no such file) r is a 404 and the error says why.
func (h *Handler) ServeSendfile(req *http1.Request, sf Sendfile, r *Reply) error {
	r.reset()
	r.head = string(req.Method) == "HEAD"
	r.noType, r.unconditional = sf.HasType, !sf.Conditional
	err := h.serveSendfile(req, sf, r)
	if err != nil {
		r.notFound()
	}
	return err
}

func (h *Handler) serveSendfile(req *http1.Request, sf Sendfile, r *Reply) error {
	m, rel, err := h.locate(sf, r)
	if err != nil {
		return err
	}
	if !m.opts.Dotfiles && hasHidden(rel) {
		return errors.New("a name starting with '.'")
	}
	d, err := m.openDir()
	if err != nil {
		return err
	}
	defer d.close()
	f, st, err := d.open(rel)
	switch {
	case err != nil:
		return err
	case !st.Mode().IsRegular():
		f.Close()
		return errors.New("not a regular file")
	}
	r.setFile(m, req, d, rel, f, st)
	return nil
}

// locate finds the root the target is under and the file's name below it.
func (h *Handler) locate(sf Sendfile, r *Reply) (*mount, string, error) {
	if sf.Accel {
		uri, _, _ := strings.Cut(string(sf.Target), "?")
		if !strings.HasPrefix(uri, "/") {
			return nil, "", errors.New("not a path starting with '/'")
		}
		p, safe := decodePath(r.path[:0], []byte(uri))
		r.path = p
		m, rel := matchIn(h.roots, p)
		switch {
		case m == nil:
			return nil, "", errors.New("not under the URI prefix of a --sendfile-root")
		case !safe || rel == "" || strings.HasSuffix(rel, "/"):
			return nil, "", errors.New("not a safe file path")
		}
		return m, rel, nil
	}
	path := string(sf.Target)
	if !filepath.IsAbs(path) {
		return nil, "", errors.New("not an absolute path")
	}
	for _, m := range h.roots {
		rel, ok := strings.CutPrefix(path, strings.TrimSuffix(m.dir, "/")+"/")
		if !ok {
			continue
		}
		if !cleanRel(rel) {
			return nil, "", errors.New("not a safe file path")
		}
		return m, rel, nil
	}
	return nil, "", fmt.Errorf("not under the directory of a --sendfile-root")
}

// cleanRel reports whether rel is a relative file path without empty, "." or ".." segments,
// NUL or backslash.
func cleanRel(rel string) bool {
	if rel == "" || strings.ContainsAny(rel, "\x00\\") {
		return false
	}
	for _, seg := range strings.Split(rel, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return true
}
