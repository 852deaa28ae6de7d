package server

import "github.com/gonicorn/gonicorn/internal/static"

// X-Sendfile and X-Accel-Redirect (docs/static.md#x-sendfile-and-x-accel-redirect): with a
// --sendfile-root configured, an app answer whose head names a file is held back (holdSendfile,
// at S); its body is dropped; at E the master sends the file with the app's status and
// header fields (endSendfile), through package static (conditionals, Range, precompressed
// siblings). The naming header never reaches the client.

// heldHead is an app's head held for X-Sendfile/X-Accel-Redirect until the worker's end.
// Its slices are copies: the worker's frame buffer is reused by the next request.
type heldHead struct {
	status  []byte      // "200 OK"
	headers [][2][]byte // the app's fields, hop-by-hop and X-Sendfile/X-Accel-* ones included
	close   bool        // the app sent Connection: close
	sf      static.Sendfile
	buf     []byte // backing store of status, headers and sf.Target
}

// holdSendfile reports whether the app's head names a file with X-Accel-Redirect or
// X-Sendfile, and if so keeps a copy of it in cn.held. A 204 or 304 has no body (RFC 9110
// §6.4.1): it is relayed as it is, without the naming header (appendHead).
func (cn *conn) holdSendfile(h *appHead) bool {
	if h.code == 204 || h.code == 304 {
		return false
	}
	target, accel := -1, false
	hasType := false
	for i, hd := range h.headers {
		switch {
		case asciiEqualFold(hd[0], "X-Accel-Redirect"):
			target, accel = i, true
		case asciiEqualFold(hd[0], "X-Sendfile") && !accel:
			target = i
		case asciiEqualFold(hd[0], "Content-Type"):
			// An empty one asks for the file's type, as with nginx (Django sets text/html
			// unless told otherwise).
			hasType = len(hd[1]) > 0
		}
	}
	if target < 0 {
		return false
	}
	hh := &cn.held
	hh.buf = append(hh.buf[:0], h.status...)
	for _, hd := range h.headers {
		hh.buf = append(append(hh.buf, hd[0]...), hd[1]...)
	}
	off := len(h.status)
	hh.status = hh.buf[:off]
	hh.headers = hh.headers[:0]
	for i, hd := range h.headers {
		n, v := len(hd[0]), len(hd[1])
		hh.headers = append(hh.headers, [2][]byte{hh.buf[off : off+n], hh.buf[off+n : off+n+v]})
		if i == target {
			hh.sf.Target = hh.buf[off+n : off+n+v]
		}
		off += n + v
	}
	hh.close = h.close
	hh.sf.Accel, hh.sf.HasType, hh.sf.Conditional = accel, hasType, h.code == 200
	return true
}

// endSendfile answers a held head at the worker's end: the named file with the app's status
// (or 206/304 when a Range or a precondition applies to it, RFC 9110 §13, §14) and the app's
// header fields, except those the file's own replace (framing, validators, coding) and the
// X-Sendfile/X-Accel-* ones. A file that cannot be sent (not under a root, missing) is a 404,
// logged as an error naming the header's value: it is the app's or the deployment's mistake.
func (rs *response) endSendfile() result {
	cn, s := rs.cn, rs.cn.srv
	hh := &cn.held
	r := &cn.static
	defer r.Close()
	if err := s.cfg.Static.ServeSendfile(&cn.req, hh.sf, r); err != nil {
		name := "X-Sendfile"
		if hh.sf.Accel {
			name = "X-Accel-Redirect"
		}
		s.log.Error("cannot send the file the app named; answering 404", "header", name,
			"value", string(hh.sf.Target), "request", requestLine(&cn.req), "err", err)
	}
	if cn.h2 != nil {
		return rs.endSendfileH2()
	}
	keep := rs.res.keepAlive && !hh.close && !s.shuttingDown.Load()
	buf := s.getStaticBuf()
	defer s.putStaticBuf(buf)
	var out []byte
	var hasDate, hasServer bool
	switch r.Status {
	case 200, 206, 304:
		if r.Status == 200 {
			out = append(buf[:0], "HTTP/1."...)
			out = append(out, '0'+byte(min(cn.req.Minor, 1)), ' ')
			out = append(out, hh.status...)
			out = append(out, "\r\n"...)
		} else {
			out = cn.appendStatusLine(buf[:0], r.Status, r.Reason())
		}
		out, hasDate, hasServer = appendAppFields(out, hh.headers)
	default: // 404, 412, 416: the app's fields described the file
		out = cn.appendStatusLine(buf[:0], r.Status, r.Reason())
	}
	out = cn.appendStaticTail(out, r, keep, hasDate, hasServer)
	sent, keep := cn.writeStatic(r, out, keep)
	rs.res.status, rs.res.bodyBytes, rs.res.keepAlive = r.Status, sent, keep
	if s.access != nil {
		rs.res.headers = hh.headers
	}
	return rs.res
}

// isSendfileField reports whether a response header is for the server's file sending
// (X-Sendfile, X-Accel-*), which never reaches the client while it is on.
func isSendfileField(name []byte) bool {
	return asciiEqualFold(name, "X-Sendfile") || len(name) >= 8 && asciiEqualFold(name[:8], "X-Accel-")
}

// keepAppField reports whether a file answer keeps the app's field hd (see appendAppFields).
func keepAppField(hd [2][]byte) bool {
	name := hd[0]
	switch {
	case asciiEqualFold(name, "Connection"), isHopByHop(name), isSendfileField(name),
		asciiEqualFold(name, "Content-Length"), asciiEqualFold(name, "Content-Range"),
		asciiEqualFold(name, "Content-Encoding"), asciiEqualFold(name, "Accept-Ranges"),
		asciiEqualFold(name, "ETag"), asciiEqualFold(name, "Last-Modified"),
		asciiEqualFold(name, "Content-Type") && len(hd[1]) == 0:
		return false
	}
	return true
}

// appendAppFields appends the app's header fields that a file answer keeps: all but the
// hop-by-hop ones, X-Sendfile and X-Accel-*, those that describe the body, which are the
// file's now (Content-Length, Content-Range, Content-Encoding, Accept-Ranges, ETag,
// Last-Modified), and an empty Content-Type. It reports whether the app sent Date and Server.
func appendAppFields(b []byte, headers [][2][]byte) ([]byte, bool, bool) {
	hasDate, hasServer := false, false
	for _, hd := range headers {
		name := hd[0]
		switch {
		case !keepAppField(hd):
			continue
		case asciiEqualFold(name, "Date"):
			hasDate = true
		case asciiEqualFold(name, "Server"):
			hasServer = true
		}
		b = append(b, name...)
		b = append(b, ": "...)
		b = append(b, hd[1]...)
		b = append(b, "\r\n"...)
	}
	return b, hasDate, hasServer
}
