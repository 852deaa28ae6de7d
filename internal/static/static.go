// Package static serves files from directories mounted at URL prefixes (--static, and
// Django's STATIC_URL → STATIC_ROOT), in the master, so that a static hit never takes a
// Python worker. It decides everything a response needs — which file, which precompressed
// sibling, 200/206/304/404/412/416, the header fields — and hands the caller an open file
// and the byte range to send; package server writes it (sendfile) like any response. The
// same answers serve an app's X-Sendfile and X-Accel-Redirect (sendfile.go).
//
// Life of a static request (Handler.Serve):
//  1. Only GET and HEAD without a body are looked at; anything else goes to the app.
//  2. The raw path is decoded segment by segment (path.go); the longest mount prefix it is
//     under picks the mount. Not under one: the app.
//  3. An unsafe path (.., %2e%2e, %2f, \, NUL, //) or a dotfile: 404 from the master.
//  4. The file is opened once, inside the directory (os.Root: a symlink may not point
//     out of it unless FollowSymlinks), and fstat'ed; everything after is about that open
//     file. Not there (or a directory without index.html): the app, as WhiteNoise and
//     uWSGI's static-map fall through.
//  5. A precompressed sibling the client accepts (.br, .zst, .gz) replaces it.
//  6. Preconditions (RFC 9110 §13.2.2) and Range (§14) give the status and byte range.
package static

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/gonicorn/gonicorn/internal/http1"
)

// Mount is one URL prefix served from one directory. Flags (--static) make them, and so can
// anything else that knows a prefix and a directory at start (Django's STATIC_URL and
// STATIC_ROOT, reported by the workers).
type Mount struct {
	// Prefix is the URL path the directory is served at, as clients send it ("/static/" or
	// "/static"; a trailing slash makes no difference; "/" serves the whole site). It is
	// matched against the whole decoded path, SCRIPT_NAME (--root-path) included.
	Prefix string
	// Dir is the directory, absolute or relative to the master's working directory. It is
	// opened afresh for every request, so a deploy that swaps a symlinked directory is
	// seen at once.
	Dir string
	Options
}

// Options are the serving choices of a mount. The zero value is the safe default.
type Options struct {
	// MaxAge is the Cache-Control max-age of files whose names carry no content hash;
	// 0 sends max-age=0 (caches revalidate every time, cheaply with 304).
	MaxAge time.Duration
	// Index serves DIR/index.html for a request of DIR/ (and redirects DIR to DIR/). Off:
	// a directory goes to the app. There is never a directory listing.
	Index bool
	// FollowSymlinks follows symlinks that point outside the directory. Off: such a link is
	// a 404; links that stay inside are followed.
	FollowSymlinks bool
	// Dotfiles serves names starting with '.' (".well-known/..."). Off: a 404.
	Dotfiles bool
	// Uploads marks a directory of user uploads (Django's MEDIA_ROOT): a name that looks
	// hashed is the user's choice, not a content hash, so it is never cached as immutable.
	Uploads bool
}

// mount is a Mount made ready: a clean prefix and the hashed names of its manifest.
type mount struct {
	prefix string // clean, without a trailing slash; "" for "/"
	dir    string
	opts   Options
	// hashed are the file names (relative, '/'-separated) that Django's staticfiles.json
	// manifest maps to: their content is in their name, so they are cached for a year.
	hashed map[string]bool
	// sendfile marks a sendfile root (--sendfile-root): its files are sent for the app's
	// X-Sendfile/X-Accel-Redirect only, without a Cache-Control of the master's.
	sendfile bool
}

// Config is what a Handler serves.
type Config struct {
	// Mounts are served to clients (--static, Django's STATIC_ROOT).
	Mounts []Mount
	// SendfileRoots are the directories an app's X-Sendfile or X-Accel-Redirect may name
	// files in (--sendfile-root; sendfile.go). They are never served to clients directly:
	// their prefix is a URI for X-Accel-Redirect only. None: both headers pass through to
	// the client untouched (for an nginx in front that handles them).
	SendfileRoots []Mount
}

// Handler answers requests for files under its mounts, and the X-Sendfile and
// X-Accel-Redirect of app responses under its sendfile roots. It is immutable after New and
// safe for concurrent use.
type Handler struct {
	mounts []*mount // longest prefix first
	roots  []*mount // sendfile roots, longest prefix first
}

// New checks the mounts and sendfile roots (a prefix that starts with '/' and has no empty
// or dot segment, a directory that exists) and reads each mount's staticfiles.json, if any.
// Its errors name the mount. A manifest that cannot be read is logged and left out: the
// hash pattern still recognises Django's hashed names. With neither mounts nor roots it
// returns nil: nothing is static.
func New(cfg Config, log *slog.Logger) (*Handler, error) {
	if len(cfg.Mounts) == 0 && len(cfg.SendfileRoots) == 0 {
		return nil, nil
	}
	h := &Handler{}
	var err error
	if h.mounts, err = makeMounts(cfg.Mounts, log, false); err != nil {
		return nil, err
	}
	if h.roots, err = makeMounts(cfg.SendfileRoots, log, true); err != nil {
		return nil, err
	}
	return h, nil
}

// makeMounts checks ms and returns them ready, longest prefix first. A sendfile root's files
// are private to the app: it reads no manifest and adds no Cache-Control (see setFile).
func makeMounts(ms []Mount, log *slog.Logger, sendfile bool) ([]*mount, error) {
	var out []*mount
	for _, m := range ms {
		prefix, err := cleanPrefix(m.Prefix)
		if err != nil {
			return nil, fmt.Errorf("static mount %s=%s: %w", m.Prefix, m.Dir, err)
		}
		if err := checkDir(m.Dir); err != nil {
			return nil, fmt.Errorf("static mount %s=%s: %w", m.Prefix, m.Dir, err)
		}
		mt := &mount{prefix: prefix, dir: filepath.Clean(m.Dir), opts: m.Options, sendfile: sendfile}
		if !sendfile {
			if mt.hashed, err = readManifest(m.Dir); err != nil {
				log.Warn("static files: ignoring the manifest", "mount", m.Prefix+"="+m.Dir, "err", err)
			}
		}
		out = append(out, mt)
	}
	slices.SortStableFunc(out, func(a, b *mount) int { return len(b.prefix) - len(a.prefix) })
	return out, nil
}

// CheckPrefix reports whether p is a usable mount prefix, with the reason if not.
func CheckPrefix(p string) error {
	_, err := cleanPrefix(p)
	return err
}

// cleanPrefix returns p without its trailing slash ("" for "/"), or why it cannot be a prefix.
func cleanPrefix(p string) (string, error) {
	if !strings.HasPrefix(p, "/") {
		return "", errors.New("the URL prefix must start with '/'")
	}
	p = strings.TrimSuffix(p, "/")
	for _, seg := range strings.Split(p, "/")[1:] {
		if seg == "" || seg == "." || seg == ".." || strings.ContainsAny(seg, "\\%?#\x00") {
			return "", fmt.Errorf("the URL prefix %q has an empty, dot or encoded segment", p)
		}
	}
	return p, nil
}

// CheckDir reports whether dir is a directory that can be served, with the reason if not.
func CheckDir(dir string) error { return checkDir(dir) }

func checkDir(dir string) error {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("no such directory %q", dir)
	case err != nil:
		return err
	case !st.IsDir():
		return fmt.Errorf("%q is not a directory", dir)
	}
	return nil
}

// manifestName is the file Django's ManifestStaticFilesStorage writes into STATIC_ROOT.
const manifestName = "staticfiles.json"

// readManifest returns the hashed names of dir's staticfiles.json ({"paths": {"a.css":
// "a.0123456789ab.css"}}), or nil when it has none or cannot read it (the error says why).
func readManifest(dir string) (map[string]bool, error) {
	data, err := os.ReadFile(filepath.Join(dir, manifestName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var m struct {
		Paths map[string]string `json:"paths"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("reading %s: %w", manifestName, err)
	}
	hashed := make(map[string]bool, len(m.Paths))
	for _, v := range m.Paths {
		hashed[v] = true
	}
	return hashed, nil
}

// Serve decides whether the master answers req from a mount, and if so fills r (which the
// caller reuses from request to request, and must Close after sending). It reports false
// when the request belongs to the app: not GET or HEAD, a body, no mount, no such file.
func (h *Handler) Serve(req *http1.Request, r *Reply) bool {
	r.reset()
	if h == nil || len(h.mounts) == 0 || !isGetOrHead(req.Method) || req.ContentLength > 0 || req.Chunked ||
		len(req.Path) == 0 || req.Path[0] != '/' {
		return false
	}
	var safe bool
	r.path, safe = decodePath(r.path[:0], req.Path)
	m, rel := h.match(r.path)
	if m == nil {
		return false
	}
	r.head = string(req.Method) == "HEAD"
	switch {
	case !safe:
		r.notFound()
		return true
	case !m.opts.Dotfiles && hasHidden(rel):
		r.notFound()
		return true
	}
	return m.serve(req, rel, r)
}

func isGetOrHead(m []byte) bool { return string(m) == "GET" || string(m) == "HEAD" }

// match returns the mount whose prefix the decoded path p is under, longest first, and the
// path below it.
func (h *Handler) match(p []byte) (*mount, string) {
	return matchIn(h.mounts, p)
}

func matchIn(mounts []*mount, p []byte) (*mount, string) {
	for _, m := range mounts {
		if rel, ok := cut(p, m.prefix); ok {
			return m, rel
		}
	}
	return nil, ""
}

// serve looks rel up in the mount and fills r; it reports false when the app should answer
// (no such file, a directory without an index).
func (m *mount) serve(req *http1.Request, rel string, r *Reply) bool {
	d, err := m.openDir()
	if err != nil {
		r.notFound() // the directory went away after start
		return true
	}
	defer d.close()
	name := rel
	f, st, err := d.open(name)
	if err == nil && st.IsDir() {
		f.Close()
		return m.serveDir(req, d, rel, r)
	}
	switch {
	case missing(err):
		return false
	case err != nil:
		r.notFound() // a link out of the directory, a permission error, a loop
		return true
	case !st.Mode().IsRegular():
		f.Close()
		r.notFound() // a device, socket or FIFO is not a file to serve
		return true
	}
	r.setFile(m, req, d, name, f, st)
	return true
}

// serveDir handles a request for a directory: its index.html when asked for (Options.Index),
// after a redirect to the path with a slash so that the page's relative links resolve; else
// the app.
func (m *mount) serveDir(req *http1.Request, d dir, rel string, r *Reply) bool {
	if !m.opts.Index {
		return false
	}
	name := strings.TrimSuffix(rel, "/") + "/index.html"
	name = strings.TrimPrefix(name, "/")
	f, st, err := d.open(name)
	if err != nil || !st.Mode().IsRegular() {
		if err == nil {
			f.Close()
		}
		return false
	}
	if p := req.Path; p[len(p)-1] != '/' {
		f.Close()
		r.redirect(req)
		return true
	}
	r.setFile(m, req, d, name, f, st)
	return true
}

// missing reports whether an open failed because there is no such file: the app may know
// the URL.
func missing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// dir opens names below a mount's directory: through an os.Root, which refuses any path or
// symlink that leads out of it, or, with FollowSymlinks, by joining the (already checked)
// relative name to the directory.
type dir struct {
	root   *os.Root // nil with FollowSymlinks
	prefix string   // the directory, with FollowSymlinks
}

func (m *mount) openDir() (dir, error) {
	if m.opts.FollowSymlinks {
		return dir{prefix: m.dir}, nil
	}
	r, err := os.OpenRoot(m.dir)
	return dir{root: r}, err
}

func (d dir) close() {
	if d.root != nil {
		d.root.Close()
	}
}

// open opens name read-only and fstats the open file. O_NONBLOCK keeps a FIFO from blocking
// the open; it means nothing for regular files.
func (d dir) open(name string) (*os.File, os.FileInfo, error) {
	flag := os.O_RDONLY | syscall.O_NONBLOCK
	var f *os.File
	var err error
	if d.root != nil {
		if name == "" {
			name = "."
		}
		f, err = d.root.OpenFile(name, flag, 0)
	} else {
		f, err = os.OpenFile(filepath.Join(d.prefix, filepath.FromSlash(name)), flag, 0)
	}
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, st, nil
}
