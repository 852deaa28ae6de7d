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

	started   bool  // S frame seen
	flushed   bool  // some bytes were handed to the client
	appFailed bool  // invalid status/headers: answer 500 once the worker is done
	noBody    bool  // HEAD, 1xx, 204, 304: body bytes are dropped (RFC 9110 §6.4.1)
	chunked   bool  // Transfer-Encoding: chunked framing
	remaining int64 // body bytes still allowed by Content-Length; -1 = no length
	close     bool  // close the connection after this response
	cancelled bool  // the client failed; the worker was told to stop
	timedOut  bool  // the request ran past --timeout and its worker was killed: 504, not 502
	file      *os.File
	fileCount int64
	res       result
}

// respond relays the worker's frames for the current request to the client and releases
// (or discards) the slot and ends its turn. Each frame, in the order the worker sends them:
//
//	S  status and headers: validated, framing chosen, the head queued
//	D  a body block: framed and handed to the client writer at once, unless more frames
//	   are already buffered (then they go out together)
//	F  a file descriptor: sent with sendfile after the slot was released
//	E  the end: the slot is released, the rest is flushed
//	X  the app failed: 500 if nothing was sent, else the connection is closed
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
	if cn.cw == nil {
		cn.cw = newClientWriter(cn.c, s.cfg.OutputMemory, s.cfg.WriteTimeout, s.cfg.TempDir)
	}
	w := cn.cw
	cn.resp = response{cn: cn, req: &cn.req, w: w, remaining: -1}
	rs := &cn.resp
	rs.res.keepAlive = cn.req.KeepAlive
	cn.out = cn.out[:0]
	// protocolError ends the request for a frame the worker must not send (what: which).
	protocolError := func(what string) result {
		broke()
		s.log.Error("Worker (pid:"+strconv.Itoa(slot.Group.PID)+") broke the worker protocol: "+what,
			"request", string(cn.req.Target))
		return rs.abort(502, "worker protocol error")
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
				return rs.abort(504, "worker timeout")
			}
			s.log.Error("worker failed mid-request", "pid", slot.Group.PID, "err", err)
			return rs.abort(502, "worker failed")
		}
		switch f.Kind {
		case wire.Start:
			if rs.started {
				return protocolError("a second S frame")
			}
			rs.start(f.Payload, rd)
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
			s.log.Error("Error handling request " + string(cn.req.Target) + "\n" + string(bytes.TrimRight(f.Payload, "\n")))
			free()
			return rs.fail()
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

// start handles the S frame: it validates what the app gave start_response and queues the
// response head.
func (rs *response) start(payload []byte, rd *wire.Reader) {
	cn, s := rs.cn, rs.cn.srv
	rs.started = true
	status, headers, err := wire.DecodeStart(payload, cn.startHeaders[:0])
	cn.startHeaders = headers[:0]
	if err != nil || !http1.ValidStatus(status) {
		s.log.Error("invalid status from application", "status", strconv.Quote(string(status)), "err", err)
		rs.appFailed = true
		return
	}
	code, _ := strconv.Atoi(string(status[:3]))
	rs.res.status = code
	if s.access != nil {
		// Copied for {h}o atoms: headers point into the reader's buffer, which the next
		// request pipelined on the slot reuses once this answer was read.
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
		rs.res.headers = cn.accessHeaders
	}
	rs.noBody = cn.req.Method != nil && string(cn.req.Method) == "HEAD" || code < 200 || code == 204 || code == 304

	b := cn.out
	b = append(b, "HTTP/1."...)
	b = append(b, '0'+byte(min(cn.req.Minor, 1)))
	b = append(b, ' ')
	b = append(b, status...)
	b = append(b, "\r\n"...)
	appLength := int64(-1)
	hasServer, hasDate := false, false
	for _, h := range headers {
		name, value := h[0], h[1]
		if !http1.ValidFieldName(name) || !http1.ValidFieldValue(value) {
			// Never emit a header that could split the response (CR/LF/NUL, non-token).
			s.log.Error("invalid response header from application", "name", strconv.Quote(string(name)))
			rs.appFailed = true
			return
		}
		switch {
		case asciiEqualFold(name, "Content-Length"):
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || n < 0 || appLength >= 0 && appLength != n {
				s.log.Error("invalid Content-Length from application", "value", strconv.Quote(string(value)))
				rs.appFailed = true
				return
			}
			appLength = n
		case asciiEqualFold(name, "Connection"):
			// Hop-by-hop: framing is ours. An app may still ask to close.
			if bytes.EqualFold(bytes.TrimSpace(value), []byte("close")) {
				rs.close = true
			}
			continue
		case isHopByHop(name):
			continue // RFC 9110 §7.6.1; PEP 3333 forbids apps to send them
		case asciiEqualFold(name, "Server"):
			hasServer = true
		case asciiEqualFold(name, "Date"):
			hasDate = true
		}
		b = append(b, name...)
		b = append(b, ": "...)
		b = append(b, value...)
		b = append(b, "\r\n"...)
	}
	if !hasDate {
		b = append(b, "Date: "...)
		b = append(b, s.date()...)
		b = append(b, "\r\n"...)
	}
	if !hasServer {
		b = append(b, "Server: gonicorn\r\n"...)
	}
	switch {
	case appLength >= 0:
		rs.remaining = appLength
	case code == 204 || code == 304 || code < 200:
		rs.remaining = 0
	default:
		// A response already complete in the buffer is framed with Content-Length.
		if n, complete := rd.BufferedBody(); complete {
			rs.remaining = int64(n)
			b = append(b, "Content-Length: "...)
			b = strconv.AppendInt(b, int64(n), 10)
			b = append(b, "\r\n"...)
		} else if rs.noBody {
			rs.remaining = 0
		} else if cn.req.Minor >= 1 {
			rs.chunked = true
			b = append(b, "Transfer-Encoding: chunked\r\n"...)
		} else {
			rs.close = true // HTTP/1.0: the end of the body is the end of the connection
		}
	}
	if s.shuttingDown.Load() {
		rs.close = true
	}
	switch {
	case rs.close || !cn.req.KeepAlive:
		rs.res.keepAlive = false
		b = append(b, "Connection: close\r\n"...)
	case cn.req.Minor == 0:
		b = append(b, "Connection: keep-alive\r\n"...)
	}
	b = append(b, "\r\n"...)
	cn.out = b
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
	if rs.appFailed || rs.cancelled {
		return
	}
	cn := rs.cn
	if rs.noBody {
		p = nil
	} else if rs.remaining >= 0 {
		if int64(len(p)) > rs.remaining {
			// More than Content-Length: truncate, and close so the client is not confused.
			p = p[:rs.remaining]
			rs.close = true
			rs.res.keepAlive = false
		}
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
			rs.flushed = true
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
	rs.flushed = true
	rs.w.Write(rs.cn.out)
	rs.cn.out = rs.cn.out[:0]
}

// setFile handles an F frame: the file is sent after the worker's E.
func (rs *response) setFile(fd int, payload []byte) {
	f := os.NewFile(uintptr(fd), "wsgi.file_wrapper")
	if rs.file != nil || rs.appFailed || rs.cancelled || rs.noBody || rs.remaining == 0 {
		f.Close()
		return
	}
	offset := int64(binary.LittleEndian.Uint64(payload[0:8]))
	count := int64(binary.LittleEndian.Uint64(payload[8:16]))
	if count < 0 {
		if st, err := f.Stat(); err == nil {
			count = max(st.Size()-offset, 0)
		}
	}
	if rs.remaining >= 0 {
		count = min(count, rs.remaining)
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		f.Close()
		return
	}
	rs.file, rs.fileCount = f, count
}

// end handles E: the app is done and the slot is back in the pool.
func (rs *response) end() result {
	cn := rs.cn
	if rs.appFailed || !rs.started {
		return rs.abort(500, "internal server error")
	}
	if rs.file != nil {
		if rs.chunked {
			cn.out = strconv.AppendInt(cn.out, rs.fileCount, 16)
			cn.out = append(cn.out, "\r\n"...)
		}
		rs.flush()
		n, _ := rs.w.ReadFrom(io.LimitReader(rs.file, rs.fileCount))
		rs.file.Close()
		rs.res.bodyBytes += n
		if rs.remaining >= 0 {
			rs.remaining -= n
		}
		if n < rs.fileCount {
			rs.close = true
		}
		if rs.chunked {
			cn.out = append(cn.out, "\r\n"...)
		}
	}
	if rs.chunked {
		cn.out = append(cn.out, "0\r\n\r\n"...)
	}
	if rs.remaining > 0 && !rs.noBody {
		// Shorter than its Content-Length: only closing tells the client (RFC 9112 §6.3).
		// (HEAD, 204, 304: the Content-Length describes a body that is never sent.)
		rs.close = true
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

// fail handles X: the app raised. Before any byte was sent the client gets a 500;
// afterwards the connection is closed mid-body, which the client sees as truncated.
func (rs *response) fail() result {
	if !rs.flushed {
		return rs.abort(500, "internal server error")
	}
	rs.w.Wait()
	rs.res.keepAlive = false
	return rs.res
}

// abort answers with an error status if nothing was sent yet, and closes the connection.
func (rs *response) abort(status int, reason string) result {
	if rs.file != nil {
		rs.file.Close()
	}
	if !rs.flushed {
		rs.cn.out = rs.cn.out[:0]
		rs.w.Write(rs.cn.srv.errorResponse(rs.cn.out, status, reason, rs.cn.req.Method))
	}
	rs.w.Wait()
	return result{status: status, keepAlive: false}
}
