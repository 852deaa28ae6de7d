package proxy

import (
	"fmt"
	"strings"

	"github.com/gonicorn/gonicorn/internal/http1"
)

// This file is gunicorn's forwarder_headers (--forwarder-headers, gunicorn 22+): header
// names with '_' that a trusted proxy sets to pass on CGI variables, e.g. nginx's
// proxy_set_header SCRIPT_NAME /app. A name with '_' is otherwise dropped (--header-map,
// package http1): CGI writes '-' and '_' alike, so X_Forwarded_For could pose as
// X-Forwarded-For. From a trusted peer the listed names are kept, and three of them set
// the environ key of their name: SCRIPT_NAME (the mount point, which the request path must
// start with), PATH_INFO and REMOTE_USER. docs/proxy.md documents the rules.

// DefaultForwarderHeaders is gunicorn's default forwarder_headers.
const DefaultForwarderHeaders = "SCRIPT_NAME,PATH_INFO"

// Forwarder is a parsed --forwarder-headers. The nil *Forwarder keeps no header.
type Forwarder struct {
	names []string // the names with '_', lower-case
	any   bool     // "*": every name with '_'
}

// ParseForwarder parses a list of header names separated by commas or spaces ("SCRIPT_NAME,
// PATH_INFO"); names are matched ignoring case (gunicorn compares them upper-cased, so it
// wants them written upper-case). '*' keeps every name with '_'. A name without '_' is
// accepted and changes nothing, as in gunicorn: such a header reaches the app anyway. It
// returns nil for a list without a name with '_'.
func ParseForwarder(s string) (*Forwarder, error) {
	f := &Forwarder{}
	for _, item := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		switch {
		case item == "*":
			f.any = true
		case !isFieldName(item):
			return nil, fmt.Errorf("invalid header name %q", item)
		case strings.Contains(item, "_"):
			f.names = append(f.names, strings.ToLower(item))
		}
	}
	if !f.any && len(f.names) == 0 {
		return nil, nil
	}
	return f, nil
}

// isFieldName reports whether s is a field name (a token, RFC 9110 §5.1).
func isFieldName(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return s != ""
}

// Keeps reports whether a trusted proxy's field named name (which contains '_') is kept.
func (f *Forwarder) Keeps(name []byte) bool {
	if f == nil {
		return false
	}
	if f.any {
		return true
	}
	for _, n := range f.names {
		if equalFold(name, n) {
			return true
		}
	}
	return false
}

// Environ is what a trusted proxy's forwarder headers set in the WSGI environ; a nil field
// was not sent (or is not listed).
type Environ struct {
	ScriptName []byte // SCRIPT_NAME without a trailing '/'; empty (not nil) for "/"
	PathInfo   []byte // PATH_INFO as sent
	RemoteUser []byte // REMOTE_USER as sent
}

// Reset clears e for the next request.
func (e *Environ) Reset() { *e = Environ{} }

// Resolve reads the forwarder headers of a trusted peer's request into e. A SCRIPT_NAME
// that is neither empty nor starts with '/', or any of the three sent twice (a client's
// copy the proxy passed through beside its own), is an error: the proxy is misconfigured,
// and guessing which copy is the proxy's would let the client choose.
func (f *Forwarder) Resolve(hs []http1.Header, e *Environ) error {
	e.Reset()
	if f == nil {
		return nil
	}
	for i := range hs {
		name := hs[i].Name
		var dst *[]byte
		switch {
		case equalFold(name, "script_name"):
			dst = &e.ScriptName
		case equalFold(name, "path_info"):
			dst = &e.PathInfo
		case equalFold(name, "remote_user"):
			dst = &e.RemoteUser
		default:
			continue
		}
		if !f.Keeps(name) {
			continue
		}
		if *dst != nil {
			return fmt.Errorf("%s sent twice", strings.ToUpper(string(name)))
		}
		*dst = hs[i].Value[:len(hs[i].Value):len(hs[i].Value)]
	}
	if s := e.ScriptName; s != nil {
		if len(s) > 0 && s[0] != '/' {
			return fmt.Errorf("SCRIPT_NAME %q does not start with '/'", s)
		}
		for len(s) > 0 && s[len(s)-1] == '/' {
			s = s[:len(s)-1]
		}
		e.ScriptName = s
	}
	return nil
}

// SplitPath splits the percent-decoded request path into SCRIPT_NAME and PATH_INFO under
// the mount point script ("" = the root): PATH_INFO is what follows script, which must be
// the whole path or a prefix of it ending where a segment ends (so /app does not match
// /application). ok is false when path does not start with script: gunicorn answers such a
// request 500 (a proxy's SCRIPT_NAME that does not match the path is a configuration
// error).
func SplitPath(path, script []byte) (pathInfo []byte, ok bool) {
	if len(path) < len(script) || string(path[:len(script)]) != string(script) {
		return path, false
	}
	if len(path) > len(script) && path[len(script)] != '/' {
		return path, false
	}
	return path[len(script):], true
}
