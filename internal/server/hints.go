package server

import (
	"strconv"

	"github.com/gonicorn/gonicorn/internal/http1"
	"github.com/gonicorn/gonicorn/internal/wire"
)

// hints handles an H frame: the app called wsgi.early_hints (gunicorn 25's API) before its
// response started. An HTTP/1.1 client gets a 103 (Early Hints) interim response with those
// headers at once (RFC 8297; RFC 9110 §15.2: any number of 1xx may precede the final
// response). An HTTP/1.0 client gets nothing: it would take the 103 for the final response
// (RFC 9110 §15.2: a server must not send a 1xx to an HTTP/1.0 client). Headers that could
// split the response (a non-token name, CR, LF or NUL in a value) drop the whole hint,
// logged, as the hint is only advice; the final response is not affected.
func (rs *response) hints(payload []byte) {
	cn := rs.cn
	if cn.req.Major == 1 && cn.req.Minor < 1 {
		return
	}
	_, headers, err := wire.DecodeStart(payload, cn.startHeaders[:0])
	cn.startHeaders = headers[:0]
	if err != nil {
		cn.srv.log.Error("invalid early hints from application", "err", err, "request", requestLine(&cn.req))
		return
	}
	if cn.h2 != nil {
		cn.h2.writeHints(cn, headers)
		return
	}
	b := append(cn.out[:0], "HTTP/1.1 103 Early Hints\r\n"...)
	for _, h := range headers {
		if !http1.ValidFieldName(h[0]) || !http1.ValidFieldValue(h[1]) {
			cn.srv.log.Error("invalid early hints header from application", "name", strconv.Quote(string(h[0])), "request", requestLine(&cn.req))
			cn.out = b[:0]
			return
		}
		b = append(b, h[0]...)
		b = append(b, ": "...)
		b = append(b, h[1]...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	rs.w.Write(b) // does not wait for the client: a slow one costs no worker
	cn.out = b[:0]
}
