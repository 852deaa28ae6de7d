package server

import "github.com/gonicorn/gonicorn/internal/http1"

// resolveForwarded reads the forwarded headers of the current request into cn.fwd when the
// peer is a trusted proxy (package proxy), those of --forwarded-allow-headers only; from any
// other peer, and outside that set, they change nothing and reach the app as plain HTTP_*
// keys. A fault (contradicting scheme headers, a malformed value) is
// a 400, answered before the body is read.
func (cn *conn) resolveForwarded() *http1.Error {
	if !cn.trustedPeer {
		cn.fwd.Reset()
		return nil
	}
	if err := cn.srv.cfg.Trust.Resolve(cn.req.Headers, cn.srv.cfg.ForwardedHeaders, &cn.fwd); err != nil {
		if he, ok := err.(*http1.Error); ok {
			return he
		}
		return &http1.Error{Status: 400, Reason: "invalid forwarded headers"}
	}
	return nil
}

// clientHost returns REMOTE_ADDR of the current request: the client a trusted proxy named,
// else the peer.
func (cn *conn) clientHost() string {
	if cn.fwd.Client != nil {
		return string(cn.fwd.Client)
	}
	return cn.remoteHost
}
