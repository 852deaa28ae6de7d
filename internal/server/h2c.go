package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gonicorn/gonicorn/internal/http1"
	"golang.org/x/net/http2"
)

// h2c: HTTP/2 without TLS on plain listeners, with --http2-cleartext (RFC 9113 §3.3, and
// RFC 7540 §3.2's Upgrade, which RFC 9113 deprecates but curl --http2 and some clients
// still use):
//
//   - prior knowledge: a connection whose first bytes are the client preface
//     ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") is HTTP/2 from the start. Bytes that begin
//     like the preface and then differ are read as HTTP/1.1, which rejects them (400) and
//     closes the connection, as RFC 9113 §3.4 asks of an invalid preface.
//   - Upgrade: the first request of a connection, without a body, with "Upgrade: h2c",
//     "Connection: Upgrade, HTTP2-Settings" and one valid HTTP2-Settings field gets
//     101 Switching Protocols and is answered as stream 1 of the HTTP/2 connection that
//     follows. A request with a body, or a later request, is served as HTTP/1.1 (the
//     server may ignore an Upgrade, RFC 9110 §7.8).

// errH2Preface is readHead's report of the HTTP/2 client preface on an h2c connection.
var errH2Preface = errors.New("HTTP/2 client preface")

// h2c reports whether the connection may turn to HTTP/2 without TLS now: h2c is on, it is a
// plain connection and no request was read on it yet.
func (cn *conn) h2c() bool {
	h := cn.srv.cfg.HTTP2
	return h != nil && h.Cleartext && !cn.isTLS() && !cn.served
}

// sniffPreface tells readHead what the buffered first bytes of the connection are:
// the whole client preface (errH2Preface), a beginning of it (wait: read on), or neither.
func (cn *conn) sniffPreface() (wait bool, err error) {
	b := cn.buf[cn.r:cn.w]
	if !cn.h2c() || !isH2Preface(b) {
		return false, nil
	}
	if len(b) >= len(http2.ClientPreface) {
		return false, errH2Preface
	}
	return true, nil
}

// serveH2C serves the connection as HTTP/2 after the preface, which x/net reads again from
// the buffered bytes.
func (cn *conn) serveH2C(ctx context.Context) {
	cn.serveH2(ctx, cn.takeBuffered(), http2.ServeConnOpts{})
}

// takeBuffered returns the connection with the bytes buffered but not parsed yet read
// first, and lets the input buffer go.
func (cn *conn) takeBuffered() net.Conn {
	pre := bytes.Clone(cn.buf[cn.r:cn.w])
	cn.r, cn.w = 0, 0
	cn.releaseBuffers()
	return &replayConn{Conn: cn.c, pre: pre, raw: cn.raw}
}

// upgradeH2C switches the connection to HTTP/2 when the request just read asks for it (see
// above), answering it as stream 1; it reports whether it did.
func (cn *conn) upgradeH2C(ctx context.Context) bool {
	req := &cn.req
	if !cn.h2c() || req.ContentLength > 0 || req.Chunked || req.Minor < 1 {
		return false
	}
	upgrade, connection := fieldValues(req, "Upgrade"), fieldValues(req, "Connection")
	settings := fieldValues(req, "HTTP2-Settings")
	if !hasToken(upgrade, "h2c") || !hasToken(connection, "upgrade") || !hasToken(connection, "http2-settings") || len(settings) != 1 {
		return false
	}
	// RFC 9113 §3.2.1 of RFC 7540: token68 of base64url, without padding.
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(settings[0], "="))
	if err != nil || len(payload)%6 != 0 {
		return false
	}
	r, err := cn.upgradeRequest()
	if err != nil {
		return false
	}
	cn.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err = io.WriteString(cn.c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
	cn.c.SetWriteDeadline(time.Time{})
	if err != nil {
		return true // gone: the connection ends
	}
	cn.serveH2(ctx, cn.takeBuffered(), http2.ServeConnOpts{UpgradeRequest: r, Settings: payload})
	return true
}

// upgradeRequest makes the *http.Request x/net serves as stream 1 of an upgraded
// connection from the HTTP/1.1 request read (without the fields of the upgrade itself).
func (cn *conn) upgradeRequest() (*http.Request, error) {
	req := &cn.req
	u, err := url.ParseRequestURI(string(req.Target))
	if err != nil {
		return nil, err
	}
	r := &http.Request{Method: string(req.Method), URL: u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: make(http.Header, len(req.Headers)), RequestURI: string(req.Target), Body: http.NoBody,
		RemoteAddr: cn.clientAddr()}
	for _, h := range req.Headers {
		name := http.CanonicalHeaderKey(string(h.Name))
		switch name {
		case "Host":
			r.Host = string(h.Value)
		case "Connection", "Upgrade", "Http2-Settings", "Keep-Alive", "Te", "Transfer-Encoding", "Content-Length":
		default:
			r.Header[name] = append(r.Header[name], string(h.Value))
		}
	}
	return r, nil
}

// fieldValues returns the values of the request's fields called name.
func fieldValues(req *http1.Request, name string) []string {
	var vs []string
	for _, h := range req.Headers {
		if asciiEqualFold(h.Name, name) {
			vs = append(vs, string(h.Value))
		}
	}
	return vs
}

// hasToken reports whether the comma-separated lists in values hold token, ignoring case.
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
