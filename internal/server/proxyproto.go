package server

import (
	"fmt"
	"strconv"
	"time"

	"github.com/gonicorn/gonicorn/internal/proxyproto"
)

// ProxyProtocol is the --proxy-protocol mode: whether a connection starts with a PROXY
// protocol header (package proxyproto) and which versions count. See docs/proxy.md.
type ProxyProtocol int

const (
	ProxyOff  ProxyProtocol = iota // no header is read; the zero value
	ProxyV1                        // every connection must start with a v1 header
	ProxyV2                        // every connection must start with a v2 header
	ProxyAuto                      // a v1 or v2 header is read when there is one (gunicorn's proxy_protocol = True)
)

// ParseProxyProtocol parses a --proxy-protocol value: off, v1, v2 or auto.
func ParseProxyProtocol(s string) (ProxyProtocol, error) {
	switch s {
	case "off", "":
		return ProxyOff, nil
	case "v1":
		return ProxyV1, nil
	case "v2":
		return ProxyV2, nil
	case "auto":
		return ProxyAuto, nil
	}
	return ProxyOff, fmt.Errorf("want off, v1, v2 or auto")
}

// readProxyHeader reads the PROXY header a connection starts with, when the mode and the peer
// call for one, and makes its source address the connection's client. It reports whether the
// connection goes on; on false the connection is closed without a response, since the peer
// is not speaking HTTP to us (and an error page would tell a scanner what we expect).
//
// The rules (docs/proxy.md):
//   - Only a peer in --proxy-allow-from may send a header. From any other peer, in v1 and v2
//     modes the connection is closed at once; in auto mode it is served as plain HTTP, unless
//     it starts with a header, which closes it.
//   - In v1 and v2 modes the header is required and must be that version; in auto mode either
//     version is read and a connection without one is plain HTTP (as in gunicorn).
//   - A malformed header, or one that does not arrive within --header-timeout, closes it.
//
// The bytes after the header stay in cn.buf for readHead.
func (cn *conn) readProxyHeader() bool {
	s := cn.srv
	mode := s.cfg.ProxyProtocol
	allowed := s.cfg.ProxyAllow.TrustedPeer(cn.c.RemoteAddr())
	if !allowed && mode != ProxyAuto {
		return cn.proxyReject("peer not in --proxy-allow-from")
	}
	if cn.buf == nil {
		cn.buf = make([]byte, initialBufSize)
	}
	cn.c.SetReadDeadline(time.Now().Add(s.cfg.HeaderTimeout))
	var h proxyproto.Header
	for {
		if cn.w > 0 {
			if v, err := proxyproto.Detect(cn.buf[:cn.w]); err == nil && !allowed {
				return cn.proxyReject(fmt.Sprintf("PROXY v%d header from a peer not in --proxy-allow-from", v))
			}
			n, err := proxyproto.Parse(cn.buf[:cn.w], &h)
			switch {
			case err == nil:
				if (mode == ProxyV1 && h.Version != 1) || (mode == ProxyV2 && h.Version != 2) {
					return cn.proxyReject(fmt.Sprintf("PROXY v%d header; --proxy-protocol is %s", h.Version, []string{"", "v1", "v2"}[mode]))
				}
				cn.r = n
				cn.applyProxy(&h)
				return true
			case err == proxyproto.ErrNoHeader:
				if mode == ProxyAuto {
					return true // plain HTTP: readHead parses what was read
				}
				return cn.proxyReject("no PROXY header")
			case err != proxyproto.ErrNeedMore:
				return cn.proxyReject(err.Error())
			}
		}
		if cn.w == len(cn.buf) {
			// A v2 header may carry up to 64 KiB of TLVs; Parse bounds it.
			nb := make([]byte, min(2*len(cn.buf), proxyproto.MaxV2))
			copy(nb, cn.buf[:cn.w])
			cn.buf = nb
		}
		if cn.w == 0 {
			cn.awaitRequest() // the first request: a graceful stop gives it a grace period
		}
		n, err := cn.readClear(cn.buf[cn.w:])
		cn.wait.Store(waitNone)
		cn.w += n
		if n == 0 {
			if cn.w > 0 || err != nil {
				s.log.Debug("no complete PROXY header", "remote", cn.remoteHost, "err", err)
			}
			return false
		}
	}
}

// readClear reads bytes sent before TLS begins (the PROXY header) like cn.read.
func (cn *conn) readClear(p []byte) (int, error) {
	if cn.isTLS() {
		return cn.nc.Read(p)
	}
	return cn.read(p)
}

func (cn *conn) proxyReject(reason string) bool {
	cn.srv.log.Debug("closing connection: "+reason, "remote", cn.remoteHost)
	cn.srv.observeRejected("proxy_protocol")
	return false
}

// applyProxy makes the header's source the connection's client: REMOTE_ADDR and REMOTE_PORT,
// and the address --forwarded-allow-ips is checked against, because the HTTP headers on this
// connection were written by that client, not by the layer-4 proxy that relayed them. A
// header without addresses (v2 LOCAL, UNSPEC, v1 UNKNOWN) leaves the peer's own.
func (cn *conn) applyProxy(h *proxyproto.Header) {
	if h.Local {
		return
	}
	a := h.Source.Addr().Unmap()
	cn.remoteHost = a.String()
	cn.remotePort = strconv.Itoa(int(h.Source.Port()))
	cn.trustedPeer = cn.srv.cfg.Trust.Trusted(a)
}
