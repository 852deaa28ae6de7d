package static

import (
	"bytes"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/gonicorn/gonicorn/internal/http1"
)

// Reply is the master's answer to a static request: the status, the header fields and
// either a short fixed body or a byte range of an open file. The caller writes the status
// line, Header, its own Date, Server and Connection fields, then Body or the file's
// [Offset, Offset+Length) — exactly Length bytes, or it closes the connection (see
// Unchanged). A Reply is reused from request to request; Close releases its file.
type Reply struct {
	Status int
	// Header holds the header fields, each ending in CRLF: Content-Type, Content-Length,
	// Last-Modified, ETag, Cache-Control, Accept-Ranges, Vary, Content-Encoding,
	// Content-Range, Location, as the status calls for.
	Header []byte
	Body   string   // a fixed body (404, 412, 416) when File is nil; "" for HEAD
	File   *os.File // the file to send from; nil when there is none (HEAD, 304, errors)
	Offset int64    // first byte of File to send
	Length int64    // bytes of File to send

	head bool // a HEAD request: no body, same header
	// For X-Sendfile/X-Accel-Redirect (sendfile.go): the app set its own Content-Type, and
	// the app's status is not 200, so preconditions and Range do not apply.
	noType, unconditional bool
	path                  []byte    // the decoded request path (scratch, reused)
	size                  int64     // File's size when it was opened
	mtime                 time.Time // File's modification time when it was opened
}

func (r *Reply) reset() {
	r.Close()
	*r = Reply{Header: r.Header[:0], path: r.path[:0]}
}

// Close closes the reply's file, if any.
func (r *Reply) Close() {
	if r.File != nil {
		r.File.Close()
		r.File = nil
	}
}

// Unchanged reports whether the file still has the size and modification time it had when it
// was opened. The caller checks it after reading the body's last byte and before sending it:
// a file rewritten in place meanwhile could have given a mix of old and new bytes, so the
// connection is closed instead (a deploy should replace files by rename, as collectstatic
// does; then the open file stays the old one and is served whole).
func (r *Reply) Unchanged() bool {
	if r.File == nil {
		return true
	}
	st, err := r.File.Stat()
	return err == nil && st.Size() == r.size && st.ModTime().Equal(r.mtime)
}

// Reason returns the reason phrase of the reply's status.
func (r *Reply) Reason() string {
	switch r.Status {
	case 200:
		return "OK"
	case 206:
		return "Partial Content"
	case 301:
		return "Moved Permanently"
	case 304:
		return "Not Modified"
	case 404:
		return "Not Found"
	case 412:
		return "Precondition Failed"
	case 416:
		return "Range Not Satisfiable"
	}
	return ""
}

// fixed sets a reply with a short text body and no file.
func (r *Reply) fixed(status int, body string) {
	r.Close()
	r.Status = status
	r.Header = r.Header[:0]
	r.Header = append(r.Header, "Content-Type: text/plain; charset=utf-8\r\n"...)
	r.Header = appendInt(r.Header, "Content-Length: ", int64(len(body)))
	if !r.head {
		r.Body = body
	}
}

func (r *Reply) notFound() { r.fixed(404, "Not Found\n") }

// redirect answers a directory asked for without its trailing slash with a redirect to the
// path with one (query kept), as nginx does, so that index.html's relative links resolve.
func (r *Reply) redirect(req *http1.Request) {
	r.Status = 301
	r.Header = append(r.Header[:0], "Location: "...)
	r.Header = append(r.Header, req.Path...)
	r.Header = append(r.Header, '/')
	if len(req.Query) > 0 {
		r.Header = append(r.Header, '?')
		r.Header = append(r.Header, req.Query...)
	}
	r.Header = append(r.Header, "\r\nContent-Length: 0\r\n"...)
}

// immutableAge is the max-age of a file whose name carries its content's hash: a year, the
// most RFC 9111 §5.2.2.1 suggests, with immutable (RFC 8246) so browsers do not revalidate.
const immutableControl = "Cache-Control: public, max-age=31536000, immutable\r\n"

// setFile fills r for the file f (the mount's name, opened and fstat'ed as st): a
// precompressed sibling if the client takes one, then the preconditions and the range.
func (r *Reply) setFile(m *mount, req *http1.Request, d dir, name string, f *os.File, st os.FileInfo) {
	t := typeOf(name)
	enc := ""
	if t.compressible {
		if vf, vst, e := pickVariant(req, d, name); vf != nil {
			f.Close()
			f, st, enc = vf, vst, e
		}
	}
	r.File, r.size, r.mtime = f, st.Size(), st.ModTime()
	etag := appendETag(nil, r.size, r.mtime, enc)

	// Validator fields, sent with 200, 206 and 304 alike (RFC 9110 §15.4.5).
	h := r.Header[:0]
	h = append(h, "Last-Modified: "...)
	h = appendHTTPDate(h, r.mtime)
	h = append(h, "\r\nETag: "...)
	h = append(h, etag...)
	h = append(h, "\r\n"...)
	switch {
	case m.sendfile:
		// The app's file, maybe private: caching is the app's to say.
	case !m.opts.Uploads && (m.hashed[name] || hashedName(path.Base(name))):
		h = append(h, immutableControl...)
	default:
		h = appendInt(h, "Cache-Control: public, max-age=", int64(m.opts.MaxAge/time.Second))
	}
	if t.compressible {
		h = append(h, "Vary: Accept-Encoding\r\n"...)
	}
	r.Header = h

	status := 0
	if !r.unconditional {
		status = preconditions(req, etag, r.mtime)
	}
	switch status {
	case 412:
		r.fixed(412, "Precondition Failed\n")
		return
	case 304:
		r.Close()
		r.Status = 304
		return
	}
	if !r.noType {
		h = append(h, "Content-Type: "...)
		h = append(h, t.contentType...)
		h = append(h, "\r\n"...)
	}
	if enc != "" {
		h = append(h, "Content-Encoding: "...)
		h = append(h, enc...)
		h = append(h, "\r\n"...)
	}
	h = append(h, "Accept-Ranges: bytes\r\n"...)
	r.Status, r.Offset, r.Length = 200, 0, r.size
	if !r.head && !r.unconditional && ifRange(req, etag, r.mtime) {
		switch first, last, ok := parseRange(header(req, "Range"), r.size); {
		case ok && first < 0:
			r.Header = h
			r.unsatisfiable()
			return
		case ok:
			r.Status, r.Offset, r.Length = 206, first, last-first+1
			h = append(h, "Content-Range: bytes "...)
			h = strconv.AppendInt(h, first, 10)
			h = append(h, '-')
			h = strconv.AppendInt(h, last, 10)
			h = append(h, '/')
			h = strconv.AppendInt(h, r.size, 10)
			h = append(h, "\r\n"...)
		}
	}
	r.Header = appendInt(h, "Content-Length: ", r.Length)
	if r.head || r.Length == 0 {
		r.Close()
	}
}

// unsatisfiable answers a Range none of whose bytes the file has: 416 with the file's size
// (RFC 9110 §15.5.17).
func (r *Reply) unsatisfiable() {
	size := r.size
	r.fixed(416, "Range Not Satisfiable\n")
	r.Header = append(r.Header, "Content-Range: bytes */"...)
	r.Header = strconv.AppendInt(r.Header, size, 10)
	r.Header = append(r.Header, "\r\n"...)
}

// pickVariant opens the precompressed sibling of name that the request's Accept-Encoding
// rates highest (the server's order breaks ties), if there is one and it is a regular file.
func pickVariant(req *http1.Request, d dir, name string) (*os.File, os.FileInfo, string) {
	q := acceptable(req.Headers)
	tried := [len(encodings)]bool{}
	for {
		best := -1
		for i := range encodings {
			if !tried[i] && q[i] > 0 && (best < 0 || q[i] > q[best]) {
				best = i
			}
		}
		if best < 0 {
			return nil, nil, ""
		}
		tried[best] = true
		f, st, err := d.open(name + encodings[best].suffix)
		if err != nil {
			continue
		}
		if !st.Mode().IsRegular() {
			f.Close()
			continue
		}
		return f, st, encodings[best].name
	}
}

// hashedName reports whether a file name carries a content hash the way Django's
// ManifestStaticFilesStorage writes it ("base.0123456789ab.css": 12 hex digits) and most
// bundlers do (webpack's [contenthash], 16 to 64 hex digits): a dot-separated part between
// the first and the extension of 12 to 64 lower-case hex digits, with at least one letter
// and one digit (so "2024.01.02" or "deadbeefcafe" are not taken for hashes).
func hashedName(base string) bool {
	first, last := strings.IndexByte(base, '.'), strings.LastIndexByte(base, '.')
	if first < 0 || first == last {
		return false
	}
	for mid := base[first+1 : last]; len(mid) > 0; {
		var p string
		p, mid, _ = strings.Cut(mid, ".")
		if isHash(p) {
			return true
		}
	}
	return false
}

// isHash reports whether p is 12 to 64 lower-case hex digits with a letter and a digit.
func isHash(p string) bool {
	if len(p) < 12 || len(p) > 64 {
		return false
	}
	letters, digits := 0, 0
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case '0' <= c && c <= '9':
			digits++
		case 'a' <= c && c <= 'f':
			letters++
		default:
			return false
		}
	}
	return letters > 0 && digits > 0
}

// appendETag appends a strong entity tag (RFC 9110 §8.8.3) for a file of this size and
// modification time, and its content coding: each precompressed variant is a different
// representation, so it has a different tag.
func appendETag(b []byte, size int64, mtime time.Time, enc string) []byte {
	b = append(b, '"')
	b = strconv.AppendInt(b, mtime.UnixNano(), 16)
	b = append(b, '-')
	b = strconv.AppendInt(b, size, 16)
	if enc != "" {
		b = append(b, '-')
		b = append(b, enc...)
	}
	return append(b, '"')
}

func appendInt(b []byte, name string, n int64) []byte {
	b = append(b, name...)
	b = strconv.AppendInt(b, n, 10)
	return append(b, "\r\n"...)
}

// header returns the value of the request's first field called name, or nil.
func header(req *http1.Request, name string) []byte {
	for i := range req.Headers {
		if bytes.EqualFold(req.Headers[i].Name, []byte(name)) {
			return req.Headers[i].Value
		}
	}
	return nil
}
