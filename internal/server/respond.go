package server

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"strconv"
	"syscall"

	"github.com/gonicorn/gonicorn/internal/dispatch"
	"github.com/gonicorn/gonicorn/internal/http1"
	"github.com/gonicorn/gonicorn/internal/wire"
)

// result is what respond tells the connection loop and the access log.
type result struct {
	status    int
	bodyBytes int64
	keepAlive bool
	headers   [][2][]byte // response headers as the app sent them (for {h}o in the access log)
}

// response is the state of relaying one worker answer to the client.
type response struct {
	cn  *conn
	req *http1.Request
	w   *clientWriter

	started bool // S frame seen
	// committed is set by a valid S frame. The worker sends S only together with the first
	// body block (or file, or the end), which is also when it tells the app that its headers
	// were sent (start_response with exc_info re-raises from then on). From then on the
	// status is the app's, whatever happens: a failure cuts the response (see cut), it never
	// becomes an error response, however far the master got with writing it.
	committed  bool
	appFailed  bool  // invalid status/headers: answer 500 once the worker is done
	noBody     bool  // HEAD, 204, 304: body bytes are dropped (RFC 9110 §6.4.1, §9.3.2)
	chunked    bool  // Transfer-Encoding: chunked framing
	remaining  int64 // body bytes still allowed by Content-Length; -1 = no length
	bodyLength int64 // the whole body's length from an L frame; -1 = not announced
	appLength  int64 // the app's Content-Length; -1 = none
	produced   int64 // body bytes the app produced (D frames, the file sent), before truncation
	close      bool  // close the connection after this response
	cancelled  bool  // the client failed; the worker was told to stop
	timedOut   bool  // the request ran past --timeout and its worker was killed: 504, not 502
	xsend      bool  // the head named a file (X-Sendfile/X-Accel-Redirect): held until E, body dropped
	fileFailed bool  // the F frame's file could not be framed (its size unreadable): cut
	// incomplete is set when the body ended short of what the head announced (cut, or
	// shorter than its Content-Length): an HTTP/2 stream is then reset (h2.go).
	incomplete bool
	file       *os.File
	fileCount  int64
	res        result
}

// respond relays the worker's frames for the current request to the client and releases
// (or discards) the slot and ends its turn. Each frame, in the order the worker sends them:
//
//	H  early hints (wsgi.early_hints), before S: a 103 Early Hints is written at once to
//	   an HTTP/1.1 client (hints.go)
//	L  the whole body's length, when the worker knows it before S (a list or tuple
//	   response, an empty body): the response gets a Content-Length
//	S  status and headers: validated, framing chosen, the head queued; the status is
//	   committed
//	D  a body block: framed and handed to the client writer at once, unless more frames
//	   are already buffered (then they go out together)
//	F  a file descriptor: sent with sendfile after the slot was released
//	E  the end: the slot is released, the rest is flushed
//	X  the app failed: 500 if no S came, else the response is cut (see cut)
func (cn *conn) respond(slot *dispatch.Slot, turn dispatch.Turn) result {
	s := cn.srv
	rd := slot.Reader
	// free gives the slot back and passes the turn to the next request pipelined on the
	// slot, as soon as the worker's answer was read: what is left is between this
	// connection and its client, and a slow client must not hold up the worker's next
	// request.
	free := func() {
		cn.resp.timedOut = cn.disarm()
		s.pool.Release(slot)
		turn.Done()
	}
	// ended is free for a worker stream that ended before the answer was whole: the worker
	// died or was killed, and the requests pipelined behind this one were never started
	// (dispatch.Turn.Fail), so they go to other workers.
	ended := func() {
		cn.resp.timedOut = cn.disarm()
		s.pool.Discard(slot)
		rd.Close() // nobody reads the slot again; fds that came with the stream are closed
		turn.Fail()
	}
	// broke is free for a stream that broke the protocol: nobody reads it again, and the
	// requests pipelined behind this one fail (dispatch.Turn.Break), as their answers cannot
	// be told from the rest of this one and the worker may have started them.
	broke := func() {
		cn.resp.timedOut = cn.disarm()
		s.pool.Discard(slot)
		rd.Close()
		turn.Break()
	}
	w := cn.writer()
	cn.resp = response{cn: cn, req: &cn.req, w: w, remaining: -1, bodyLength: -1, appLength: -1}
	rs := &cn.resp
	rs.res.keepAlive = cn.req.KeepAlive
	cn.out = cn.out[:0]
	// protocolError ends the request for a frame the worker must not send (what: which).
	protocolError := func(what string) result {
		broke()
		cn.reqLog().Error("Worker (pid:"+strconv.Itoa(slot.Group.PID)+") broke the worker protocol: "+what,
			"request", string(cn.req.Target))
		return rs.abort(502)
	}
	for {
		f, err := rd.Next()
		if errors.Is(err, wire.ErrProtocol) {
			return protocolError(err.Error())
		}
		if err != nil {
			ended()
			if rs.timedOut {
				// Logged as WORKER TIMEOUT by the arbiter, with the worker's stacks.
				return rs.abort(504)
			}
			if closedByMaster(err) {
				// The master closed the worker's socket: it is stopping without waiting for
				// this request (a fast stop, or the end of --graceful-timeout).
				cn.reqLog().Info("Request cut short: the master is stopping without waiting for it", "pid", slot.Group.PID, "request", string(cn.req.Target))
			} else {
				cn.reqLog().Error("worker failed mid-request", "pid", slot.Group.PID, "err", err)
			}
			return rs.abort(502)
		}
		switch f.Kind {
		case wire.Hints:
			if rs.started {
				return protocolError("an H frame after S")
			}
			rs.hints(f.Payload)
		case wire.Length:
			if rs.started || len(f.Payload) != 8 || int64(binary.LittleEndian.Uint64(f.Payload)) < 0 {
				return protocolError("an L frame after S or with a bad length")
			}
			rs.bodyLength = int64(binary.LittleEndian.Uint64(f.Payload))
		case wire.Start:
			if rs.started {
				return protocolError("a second S frame")
			}
			rs.start(f.Payload)
		case wire.Data:
			if !rs.started {
				return protocolError("a D frame before S")
			}
			rs.data(f.Payload, rd.Buffered() == 0)
		case wire.File:
			fd, err := rd.TakeFD()
			switch {
			case err != nil:
				return protocolError("an F frame without its fd")
			case len(f.Payload) != 16 || !rs.started:
				syscall.Close(fd) // ours now: not left open
				return protocolError("an F frame with a " + strconv.Itoa(len(f.Payload)) + "-byte payload, or before S")
			}
			rs.setFile(fd, f.Payload)
		case wire.End:
			free()
			return rs.end()
		case wire.Error:
			// Logged before free: the payload lives in the reader's buffer, which the next
			// request's turn reuses.
			cn.reqLog().Error("Error handling request "+string(cn.req.Target), "traceback", string(bytes.TrimRight(f.Payload, "\n")))
			free()
			return rs.abort(500)
		default:
			return protocolError("a frame of unknown kind " + f.Kind.String())
		}
		if !rs.cancelled && w.Err() != nil && slot.Cancel(turn) {
			// The client is gone: the worker stops iterating; it still ends with E/X. With a
			// request pipelined behind this one, no cancel is sent (dispatch.Slot.Cancel):
			// the rest of the answer is read and dropped.
			rs.cancelled = true
		}
	}
}

// appHead is what the app gave start_response, once checked.
type appHead struct {
	status  []byte      // "200 OK"
	code    int         // 200..599
	headers [][2][]byte // as sent, hop-by-hop ones included
	length  int64       // its Content-Length; -1 if none
	close   bool        // it sent "Connection: close"
}

// start handles the S frame: the status is committed and the response head queued, or,
// if what the app gave start_response is invalid, the answer will be a 500.
func (rs *response) start(payload []byte) {
	cn := rs.cn
	rs.started = true
	h, ok := cn.checkStart(payload)
	if !ok {
		rs.appFailed = true
		return
	}
	if cn.srv.cfg.Static.HasSendfile() && cn.holdSendfile(&h) {
		rs.xsend = true // not committed: the head goes out with the file at E (sendfile.go)
		return
	}
	rs.committed = true
	rs.res.status = h.code
	if cn.srv.access != nil {
		rs.res.headers = cn.copyAccessHeaders(h.headers)
	}
	if cn.h2 != nil {
		cn.h2.writeHead(rs, &h)
		return
	}
	cn.out = rs.appendHead(cn.out, &h)
}

// checkStart decodes an S frame and checks it: a final status (RFC 9110 §15: 200 to 599;
// a 1xx is interim and 101 would switch protocols, which this server does not do), header
// names and values that cannot split the response, and a Content-Length of plain digits
// (RFC 9110 §8.6). Each failure is logged; the caller answers 500.
func (cn *conn) checkStart(payload []byte) (appHead, bool) {
	status, headers, err := wire.DecodeStart(payload, cn.startHeaders[:0])
	cn.startHeaders = headers[:0]
	if err != nil {
		cn.badStart("invalid status from application", "status", status, err)
		return appHead{}, false
	}
	if !http1.ValidStatus(status) {
		cn.badStart("invalid status from application", "status", status, nil)
		return appHead{}, false
	}
	h := appHead{status: status, headers: headers, length: -1}
	h.code = int(status[0]-'0')*100 + int(status[1]-'0')*10 + int(status[2]-'0')
	if h.code < 200 || h.code > 599 {
		cn.badStart("invalid status from application: not a final status (200 to 599)", "status", status, nil)
		return appHead{}, false
	}
	for _, hd := range headers {
		name, value := hd[0], hd[1]
		if !http1.ValidFieldName(name) || !http1.ValidFieldValue(value) {
			// Never emit a header that could split the response (CR/LF/NUL, non-token).
			cn.badStart("invalid response header from application", "name", name, nil)
			return appHead{}, false
		}
		switch {
		case asciiEqualFold(name, "Content-Length"):
			n, ok := http1.ParseDigits(value) // RFC 9110 §8.6: 1*DIGIT only
			if !ok || h.length >= 0 && h.length != n {
				cn.badStart("invalid Content-Length from application", "value", value, nil)
				return appHead{}, false
			}
			h.length = n
		case asciiEqualFold(name, "Connection"):
			// Hop-by-hop: framing is ours. An app may still ask to close.
			if bytes.EqualFold(bytes.TrimSpace(value), []byte("close")) {
				h.close = true
			}
		}
	}
	return h, true
}

// badStart logs why checkStart refused an S frame: what was wrong (key = value, quoted),
// the decoding error if any, and the request. Apart from checkStart, so that the log call's
// arguments do not enlarge the stack frame of every response: a connection's goroutine
// keeps the stack its deepest request needed while it waits for the next one.
//
//go:noinline
func (cn *conn) badStart(msg, key string, value []byte, err error) {
	args := []any{key, strconv.Quote(string(value))}
	if err != nil {
		args = append(args, "err", err)
	}
	cn.reqLog().Error(msg, append(args, "request", requestLine(&cn.req))...)
}

// copyAccessHeaders copies the response headers for the {h}o atoms of the access log: they
// point into the reader's buffer, which the next request pipelined on the slot reuses once
// this answer was read.
func (cn *conn) copyAccessHeaders(headers [][2][]byte) [][2][]byte {
	cn.accessHeaders = cn.accessHeaders[:0]
	cn.accessBytes = cn.accessBytes[:0]
	for _, h := range headers {
		cn.accessBytes = append(cn.accessBytes, h[0]...)
		cn.accessBytes = append(cn.accessBytes, h[1]...)
	}
	off := 0
	for _, h := range headers {
		n, v := len(h[0]), len(h[1])
		cn.accessHeaders = append(cn.accessHeaders, [2][]byte{cn.accessBytes[off : off+n], cn.accessBytes[off+n : off+n+v]})
		off += n + v
	}
	return cn.accessHeaders
}

// appendHead chooses the framing (see framing) and appends the HTTP/1.x response head.
func (rs *response) appendHead(b []byte, h *appHead) []byte {
	cn, s := rs.cn, rs.cn.srv
	req := &cn.req
	addLength, chunked := rs.framing(h)
	rs.chunked = chunked

	b = append(b, "HTTP/1."...)
	b = append(b, '0'+byte(min(req.Minor, 1)))
	b = append(b, ' ')
	b = append(b, h.status...)
	b = append(b, "\r\n"...)
	var own ownFields
	for _, hd := range h.headers {
		name, value := hd[0], hd[1]
		if !rs.keepField(name, &own) {
			continue
		}
		b = append(b, name...)
		b = append(b, ": "...)
		b = append(b, value...)
		b = append(b, "\r\n"...)
	}
	if !own.date {
		b = append(b, "Date: "...)
		b = append(b, s.date()...)
		b = append(b, "\r\n"...)
	}
	if !own.server {
		b = append(b, "Server: gonicorn\r\n"...)
	}
	if !own.id && len(cn.reqID) > 0 {
		b = append(b, s.cfg.RequestIDHeader...)
		b = append(b, ": "...)
		b = append(b, cn.reqID...)
		b = append(b, "\r\n"...)
	}
	if addLength >= 0 {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, addLength, 10)
		b = append(b, "\r\n"...)
	}
	if chunked {
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	}
	if s.shuttingDown.Load() {
		rs.close = true
	}
	switch {
	case rs.close || !req.KeepAlive:
		rs.res.keepAlive = false
		b = append(b, "Connection: close\r\n"...)
	case req.Minor == 0:
		b = append(b, "Connection: keep-alive\r\n"...)
	}
	return append(b, "\r\n"...)
}

// framing chooses how the body is delimited (RFC 9112 §6); it depends only on what the app
// returned, never on how fast the worker's frames arrived:
//
//   - the app's Content-Length, if it set one;
//   - else, when the worker announced the body's length (L: a list or tuple response, or
//     an empty body), a Content-Length of that length, which it returns as addLength;
//   - else chunked for HTTP/1.1, the end of the connection for HTTP/1.0, and the end of
//     the stream for HTTP/2 (RFC 9113 §8.1).
//
// A body the L frame shows to be shorter than the app's Content-Length closes the
// connection, and the head says so. It sets rs.noBody, rs.remaining, rs.appLength and
// rs.close.
func (rs *response) framing(h *appHead) (addLength int64, chunked bool) {
	req := &rs.cn.req
	rs.noBody = string(req.Method) == "HEAD" || h.code == 204 || h.code == 304
	rs.appLength = h.length
	rs.close = h.close
	addLength = -1
	switch {
	case h.length >= 0:
		rs.remaining = h.length
		if rs.bodyLength >= 0 && rs.bodyLength < h.length && !rs.noBody {
			rs.close = true // known short: say so now rather than close after keep-alive
		}
	case h.code == 204 || h.code == 304:
		rs.remaining = 0 // RFC 9110 §8.6: no Content-Length on 204; 304 has no body
	case rs.bodyLength >= 0:
		rs.remaining = rs.bodyLength
		addLength = rs.bodyLength
	case rs.noBody:
		rs.remaining = 0 // HEAD of a streamed body: its length is unknown
	case req.Major > 1:
		// HTTP/2: the stream's end ends the body.
	case req.Minor >= 1:
		chunked = true
	default:
		rs.close = true // HTTP/1.0: the end of the body is the end of the connection
	}
	return addLength, chunked
}

// ownFields records which of the fields the server adds (Date, Server, the request id)
// the app sent itself.
type ownFields struct{ server, date, id bool }

// keepField reports whether the app's response field name goes to the client: not the
// connection's own (hop-by-hop) fields, nor a file reference the master serves. It notes in
// own the fields the server would otherwise add.
func (rs *response) keepField(name []byte, own *ownFields) bool {
	cn, s := rs.cn, rs.cn.srv
	switch {
	case asciiEqualFold(name, "Connection"), isHopByHop(name):
		return false // RFC 9110 §7.6.1; PEP 3333 forbids apps to send them
	case isSendfileField(name) && s.cfg.Static.HasSendfile():
		return false // a 204 or 304 that named a file (sendfile.go)
	case asciiEqualFold(name, "Server"):
		own.server = true
	case asciiEqualFold(name, "Date"):
		own.date = true
	case len(cn.reqID) > 0 && asciiEqualFold(name, s.cfg.RequestIDHeader):
		own.id = true // the app's own id wins
	}
	return true
}

// isHopByHop reports whether a response header is connection-specific (RFC 9110 §7.6.1)
// and so belongs to the server, not the app.
func isHopByHop(name []byte) bool {
	for _, h := range [...]string{"Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "TE", "Trailer", "Trailers", "Transfer-Encoding", "Upgrade"} {
		if asciiEqualFold(name, h) {
			return true
		}
	}
	return false
}

// data handles a D frame: frames the block and hands it to the client. last is true when no
// further frame is buffered, so the block must not wait (PEP 3333: never hold back a block).
func (rs *response) data(p []byte, last bool) {
	if rs.appFailed || rs.cancelled || rs.xsend {
		return
	}
	cn := rs.cn
	rs.produced += int64(len(p))
	if rs.noBody {
		p = nil
	} else if rs.remaining >= 0 && int64(len(p)) > rs.remaining {
		// More than Content-Length: the rest is dropped (and logged by end), so the
		// client gets exactly the length it was told and the connection stays usable.
		p = p[:rs.remaining]
	}
	if rs.remaining >= 0 {
		rs.remaining -= int64(len(p))
	}
	rs.res.bodyBytes += int64(len(p))
	if len(p) > 0 {
		if rs.chunked {
			cn.out = strconv.AppendInt(cn.out, int64(len(p)), 16)
			cn.out = append(cn.out, "\r\n"...)
		}
		if len(p) > 32<<10 {
			// A big block is not copied: it goes out behind the queued bytes in one writev.
			rs.w.WriteTwo(cn.out, p)
			cn.out = cn.out[:0]
		} else {
			cn.out = append(cn.out, p...)
		}
		if rs.chunked {
			cn.out = append(cn.out, "\r\n"...)
		}
	}
	if last {
		rs.flush()
	}
}

func (rs *response) flush() {
	if len(rs.cn.out) == 0 {
		return
	}
	rs.w.Write(rs.cn.out)
	rs.cn.out = rs.cn.out[:0]
}

// setFile handles an F frame: the file is sent after the worker's E. Its length is the F
// frame's count, or else what the file holds after the offset; a file whose size cannot be
// read cannot be framed, and the response is cut.
func (rs *response) setFile(fd int, payload []byte) {
	f := os.NewFile(uintptr(fd), "wsgi.file_wrapper")
	if rs.file != nil || rs.appFailed || rs.cancelled || rs.noBody || rs.remaining == 0 || rs.xsend {
		f.Close()
		return
	}
	offset := int64(binary.LittleEndian.Uint64(payload[0:8]))
	count := int64(binary.LittleEndian.Uint64(payload[8:16]))
	count, err := fileCount(f, offset, count)
	if err == nil {
		_, err = f.Seek(offset, io.SeekStart)
	}
	if err != nil {
		f.Close()
		rs.cn.reqLog().Error("cannot send the wsgi.file_wrapper file", "request", requestLine(rs.req), "err", err)
		rs.fileFailed = true
		return
	}
	if rs.remaining >= 0 {
		count = min(count, rs.remaining)
	}
	rs.file, rs.fileCount = f, count
}

// fileCount returns how many bytes of f an F frame asks for: count, or when it is negative
// (-1: up to the end of the file), the file's size after offset (0 when offset is past it).
func fileCount(f *os.File, offset, count int64) (int64, error) {
	if count >= 0 {
		return count, nil
	}
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return max(st.Size()-offset, 0), nil
}

// end handles E: the app is done and the slot is back in the pool.
func (rs *response) end() result {
	cn := rs.cn
	if rs.xsend {
		return rs.endSendfile()
	}
	if !rs.committed {
		return rs.abort(500)
	}
	if rs.fileFailed || rs.file != nil && !rs.sendFile() {
		return rs.cut()
	}
	if rs.appLength >= 0 && !rs.noBody && rs.produced != rs.appLength && !rs.cancelled {
		cn.reqLog().Warn("response body length differs from its Content-Length", "request", requestLine(rs.req),
			"content_length", rs.appLength, "body_bytes", rs.produced)
	}
	if rs.remaining > 0 && !rs.noBody {
		// Shorter than its Content-Length: only closing tells the client (RFC 9112 §6.3).
		// (HEAD, 204, 304: the Content-Length describes a body that is never sent.)
		rs.close = true
		rs.incomplete = true
	}
	if rs.chunked {
		cn.out = append(cn.out, "0\r\n\r\n"...) // the last-chunk (RFC 9112 §7.1)
	}
	rs.flush()
	if err := rs.w.Wait(); err != nil {
		rs.close = true
	}
	if rs.close {
		rs.res.keepAlive = false
	}
	return rs.res
}

// sendFile sends the file of an F frame behind the bytes queued before it, as one chunk
// when chunked (none for an empty file: a zero-size chunk is the last-chunk). It reports
// whether the body can still be ended cleanly: not when the file ended before its count
// (it shrank meanwhile) or the client failed.
func (rs *response) sendFile() bool {
	cn, count := rs.cn, rs.fileCount
	if rs.chunked && count > 0 {
		cn.out = strconv.AppendInt(cn.out, count, 16)
		cn.out = append(cn.out, "\r\n"...)
	}
	rs.flush()
	var n int64
	if count > 0 {
		n, _ = rs.w.ReadFrom(io.LimitReader(rs.file, count))
	}
	rs.file.Close()
	rs.file = nil
	rs.produced += n
	rs.res.bodyBytes += n
	if rs.remaining >= 0 {
		rs.remaining -= n
	}
	if n < count {
		if rs.w.Err() == nil {
			cn.reqLog().Warn("wsgi.file_wrapper file ended before its length", "request", requestLine(rs.req),
				"length", count, "sent", n)
		}
		return false
	}
	if rs.chunked && count > 0 {
		cn.out = append(cn.out, "\r\n"...)
	}
	return true
}

// cut ends a response whose status is committed but whose body cannot be completed: the
// app raised after its first block, the worker died or broke the protocol, a file could
// not be sent. The client gets the head and every body byte the app produced so far (those
// still queued in the master too, so the outcome does not depend on timing), then the
// connection closes without a clean end: no last-chunk, or short of the Content-Length
// (RFC 9112 §6.3, §7.1), so the client can tell the body is incomplete. A file not sent
// yet is not sent.
func (rs *response) cut() result {
	if rs.file != nil {
		rs.file.Close()
		rs.file = nil
	}
	rs.flush()
	rs.w.Wait()
	rs.res.keepAlive = false
	rs.incomplete = true
	return rs.res
}

// abort ends the response after a failure: with an error status if no status was
// committed yet, else by cutting it (see cut). The connection is closed.
func (rs *response) abort(status int) result {
	if rs.committed {
		return rs.cut()
	}
	if rs.file != nil {
		rs.file.Close()
		rs.file = nil
	}
	cn := rs.cn
	if cn.h2 != nil {
		n := cn.h2.writeError(cn, status)
		return result{status: status, bodyBytes: int64(n), keepAlive: false}
	}
	cn.linger = true // the client may still be sending: see lingeringClose
	var n int
	cn.out, n = cn.srv.errorResponse(cn.out[:0], status, &cn.req, cn.reqID)
	rs.w.Write(cn.out)
	cn.out = cn.out[:0]
	rs.w.Wait()
	return result{status: status, bodyBytes: int64(n), keepAlive: false}
}

// requestLine is the method and target of req for log lines, e.g. "GET /a?b".
func requestLine(req *http1.Request) string {
	return string(req.Method) + " " + string(req.Target)
}
