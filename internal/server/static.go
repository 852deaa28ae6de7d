package server

import (
	"bytes"
	"io"
	"strconv"
	"time"

	"github.com/gonicorn/gonicorn/internal/static"
)

// smallStatic is the largest static body sent from memory, in one write with its head; a
// bigger one goes with sendfile. Below it a read and one write cost less than a write of the
// head and a sendfile (which the client would get as two TCP segments).
const smallStatic = 64 << 10

// serveStatic answers the current request from a static mount (package static) when it is
// one: after the head was parsed and before any body is read or a worker slot is taken, so a
// static hit never costs Python. It reports whether it answered, and then whether the
// connection stays open.
//
// The body is exactly the Reply's byte range of the file opened once for this request:
// a file rewritten in place or truncated meanwhile ends the connection instead of sending
// a mix of versions or a wrong length (the last byte is read, and the file's size and time
// checked, before that byte is sent; see static.Reply.Unchanged).
func (cn *conn) serveStatic(start time.Time) (handled, keep bool) {
	s := cn.srv
	r := &cn.static
	if !s.cfg.Static.Serve(&cn.req, r) {
		return false, false
	}
	defer r.Close()
	req := &cn.req
	keep = req.KeepAlive && !s.shuttingDown.Load()
	buf := s.getStaticBuf()
	defer s.putStaticBuf(buf)
	out := cn.appendStaticHead(buf[:0], r, keep)
	sent, keep := cn.writeStatic(r, out, keep)
	if s.access != nil {
		cn.logAccess(start, result{status: r.Status, bodyBytes: sent, keepAlive: keep, headers: cn.staticHeaders(r.Header)}, 0)
	}
	return true, keep
}

// writeStatic writes the head in out (which has room for a small body after it), then the
// reply's fixed body or its byte range of the file, and waits until the client took it. It
// returns the body bytes sent and whether the connection stays open.
func (cn *conn) writeStatic(r *static.Reply, out []byte, keep bool) (int64, bool) {
	w := cn.writer()
	out = append(out, r.Body...)
	sent := int64(len(r.Body))
	switch {
	case r.File == nil:
		w.Write(out)
	case r.Length <= smallStatic && int64(cap(out)-len(out)) >= r.Length:
		n := len(out)
		out = out[:n+int(r.Length)]
		if m, _ := r.File.ReadAt(out[n:], r.Offset); int64(m) < r.Length || !r.Unchanged() {
			cn.staticChanged(r)
			return 0, false // nothing was written: the client sees the connection close
		}
		w.Write(out)
		sent = r.Length
	default:
		w.Write(out)
		sent = cn.sendStaticFile(r)
		if sent < r.Length {
			keep = false
		}
	}
	if w.Wait() != nil {
		keep = false
	}
	return sent, keep
}

// sendStaticFile sends the reply's byte range with sendfile, all but its last byte; then it
// reads that byte and sends it only if the file is unchanged (see serveStatic). It returns
// the bytes sent: fewer than r.Length means the connection must close.
func (cn *conn) sendStaticFile(r *static.Reply) int64 {
	w := cn.cw
	if _, err := r.File.Seek(r.Offset, io.SeekStart); err != nil {
		return 0
	}
	body := r.Length - 1
	n, _ := w.ReadFrom(io.LimitReader(r.File, body))
	if n < body {
		if w.Err() == nil {
			cn.staticChanged(r)
		}
		return n
	}
	var last [1]byte
	if m, _ := r.File.ReadAt(last[:], r.Offset+body); m != 1 || !r.Unchanged() {
		cn.staticChanged(r)
		return n
	}
	m, _ := w.Write(last[:])
	return n + int64(m)
}

// staticChanged logs a static file that changed while it was being sent.
func (cn *conn) staticChanged(r *static.Reply) {
	cn.srv.log.Warn("static file changed while it was sent; closing the connection (replace files by rename to avoid this)",
		"request", requestLine(&cn.req), "file", r.File.Name())
}

// appendStaticHead appends the status line and header of a static reply, with the server's
// Date, Server and Connection fields.
func (cn *conn) appendStaticHead(b []byte, r *static.Reply, keep bool) []byte {
	b = cn.appendStatusLine(b, r.Status, r.Reason())
	return cn.appendStaticTail(b, r, keep, false, false)
}

// appendStatusLine appends "HTTP/1.x CODE REASON" and its CRLF; the version follows the
// request's.
func (cn *conn) appendStatusLine(b []byte, code int, reason string) []byte {
	b = append(b, "HTTP/1."...)
	b = append(b, '0'+byte(min(cn.req.Minor, 1)))
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	b = append(b, reason...)
	return append(b, "\r\n"...)
}

// appendStaticTail appends the reply's header fields, Date and Server unless the app sent
// them (hasDate, hasServer), the Connection field and the blank line.
func (cn *conn) appendStaticTail(b []byte, r *static.Reply, keep, hasDate, hasServer bool) []byte {
	req := &cn.req
	b = append(b, r.Header...)
	if !hasDate {
		b = append(b, "Date: "...)
		b = append(b, cn.srv.date()...)
		b = append(b, "\r\n"...)
	}
	if !hasServer {
		b = append(b, "Server: gonicorn\r\n"...)
	}
	switch {
	case !keep:
		b = append(b, "Connection: close\r\n"...)
	case req.Minor == 0:
		b = append(b, "Connection: keep-alive\r\n"...)
	}
	return append(b, "\r\n"...)
}

// staticHeaders splits a static reply's header into fields for the {h}o atoms of the access
// log; they point into hdr, which lives until the next request.
func (cn *conn) staticHeaders(hdr []byte) [][2][]byte {
	fields := cn.accessHeaders[:0]
	for len(hdr) > 0 {
		line, rest, _ := bytes.Cut(hdr, []byte("\r\n"))
		hdr = rest
		if name, value, ok := bytes.Cut(line, []byte(": ")); ok {
			fields = append(fields, [2][]byte{name, value})
		}
	}
	cn.accessHeaders = fields
	return fields
}

// writer returns the connection's client writer, made with the first response.
func (cn *conn) writer() *clientWriter {
	if cn.cw == nil {
		s := cn.srv
		cn.cw = newClientWriter(cn.c, outputMemory, s.cfg.WriteTimeout, s.cfg.TempDir)
		if cn.raw != nil {
			cn.cw.rio = cn.raw // its write half: the connection's goroutine only reads with it
		}
		cn.cw.spoolCap = max(s.cfg.MaxResponseSpool, 0)
		cn.cw.noSendfile = s.cfg.NoSendfile
	}
	return cn.cw
}

// staticBuf holds a static response's head and a small body.
type staticBuf = [smallStatic + 8<<10]byte

func (s *Server) getStaticBuf() *staticBuf {
	if b, ok := s.staticBufs.Get().(*staticBuf); ok {
		return b
	}
	return new(staticBuf)
}

func (s *Server) putStaticBuf(b *staticBuf) { s.staticBufs.Put(b) }
