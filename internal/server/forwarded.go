package server

import (
	"fmt"

	"github.com/gonicorn/gonicorn/internal/http1"
	"github.com/gonicorn/gonicorn/internal/proxy"
)

// resolveForwarded reads the forwarded headers of the current request into cn.fwd when the
// peer is a trusted proxy (package proxy), those of --forwarded-allow-headers only; from any
// other peer, and outside that set, they change nothing and reach the app as plain HTTP_*
// keys. A fault (contradicting scheme headers, a malformed value) is
// a 400, answered before the body is read.
func (cn *conn) resolveForwarded() *http1.Error {
	if !cn.trustedPeer {
		cn.fwd.Reset()
		cn.fwdEnv.Reset()
		return nil
	}
	if err := cn.srv.cfg.Trust.Resolve(cn.req.Headers, cn.srv.cfg.ForwardedHeaders, &cn.fwd); err != nil {
		if he, ok := err.(*http1.Error); ok {
			return he
		}
		return &http1.Error{Status: 400, Reason: "invalid forwarded headers"}
	}
	return cn.resolveForwarder()
}

// resolveForwarder reads a trusted peer's forwarder headers (--forwarder-headers) into
// cn.fwdEnv. A SCRIPT_NAME that the request path does not start with (without a PATH_INFO
// saying what the path is), one not starting with '/', or one sent twice is the proxy's
// misconfiguration: gunicorn answers it 500 ("Configuration problem"), and so does
// gonicorn, with an error log line saying what is wrong.
func (cn *conn) resolveForwarder() *http1.Error {
	e := &cn.fwdEnv
	err := cn.srv.cfg.Forwarder.Resolve(cn.req.Headers, e)
	if err == nil && e.ScriptName != nil && e.PathInfo == nil {
		cn.scratch = http1.DecodePath(cn.scratch[:0], cn.req.Path)
		if _, ok := proxy.SplitPath(cn.scratch, e.ScriptName); !ok {
			err = fmt.Errorf("the request path %q does not start with the SCRIPT_NAME %q", cn.scratch, e.ScriptName)
		}
	}
	if err != nil {
		cn.reqLog().Error("forwarder headers of a trusted proxy (--forwarder-headers): "+err.Error()+"; answered 500", "remote", cn.remoteHost)
		e.Reset()
		return &http1.Error{Status: 500, Reason: "forwarder headers"}
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
