package proxy

import (
	"testing"

	"github.com/gonicorn/gonicorn/internal/http1"
)

func TestParseForwarder(t *testing.T) {
	for _, tc := range []struct {
		in    string
		keeps []string // names kept
		drops []string // names with '_' not kept
		isNil bool
	}{
		{in: DefaultForwarderHeaders, keeps: []string{"SCRIPT_NAME", "script_name", "Path_Info"}, drops: []string{"REMOTE_USER", "X_FOO"}},
		{in: "REMOTE_USER, script_name", keeps: []string{"REMOTE_USER", "SCRIPT_NAME"}, drops: []string{"PATH_INFO"}},
		{in: "*", keeps: []string{"X_ANYTHING", "SCRIPT_NAME"}},
		{in: "", isNil: true},
		{in: "X-Forwarded-Prefix", isNil: true}, // no '_': reaches the app anyway, as in gunicorn
	} {
		f, err := ParseForwarder(tc.in)
		if err != nil {
			t.Errorf("ParseForwarder(%q) = %v", tc.in, err)
			continue
		}
		if (f == nil) != tc.isNil {
			t.Errorf("ParseForwarder(%q) = %v; want nil %v", tc.in, f, tc.isNil)
		}
		for _, n := range tc.keeps {
			if !f.Keeps([]byte(n)) {
				t.Errorf("ParseForwarder(%q).Keeps(%q) = false; want true", tc.in, n)
			}
		}
		for _, n := range tc.drops {
			if f.Keeps([]byte(n)) {
				t.Errorf("ParseForwarder(%q).Keeps(%q) = true; want false", tc.in, n)
			}
		}
	}
	for _, bad := range []string{"SCRIPT NAME:", "PATH_INFO,a@b", "x;y"} {
		if _, err := ParseForwarder(bad); err == nil {
			t.Errorf("ParseForwarder(%q) = nil error; want one", bad)
		}
	}
}

func TestForwarderResolve(t *testing.T) {
	hdr := func(kv ...string) []http1.Header {
		var hs []http1.Header
		for i := 0; i < len(kv); i += 2 {
			hs = append(hs, http1.Header{Name: []byte(kv[i]), Value: []byte(kv[i+1])})
		}
		return hs
	}
	all, _ := ParseForwarder("SCRIPT_NAME,PATH_INFO,REMOTE_USER")
	def, _ := ParseForwarder(DefaultForwarderHeaders)
	for _, tc := range []struct {
		name                 string
		f                    *Forwarder
		hs                   []http1.Header
		script, path, remote string // "<nil>" = not set
		fail                 bool
	}{
		{"all three", all, hdr("Host", "h", "SCRIPT_NAME", "/app", "PATH_INFO", "/x", "REMOTE_USER", "bob"), "/app", "/x", "bob", false},
		{"trailing slash dropped", all, hdr("script_name", "/app/"), "/app", "<nil>", "<nil>", false},
		{"root is empty", all, hdr("SCRIPT_NAME", "/"), "", "<nil>", "<nil>", false},
		{"not listed", def, hdr("REMOTE_USER", "bob"), "<nil>", "<nil>", "<nil>", false},
		{"none configured", nil, hdr("SCRIPT_NAME", "/app"), "<nil>", "<nil>", "<nil>", false},
		{"relative script name", all, hdr("SCRIPT_NAME", "app"), "", "", "", true},
		// RFC 9110 §5.3: a singleton sent twice: the client's copy passed through.
		{"sent twice", all, hdr("SCRIPT_NAME", "/app", "Script_Name", "/evil"), "", "", "", true},
	} {
		var e Environ
		err := tc.f.Resolve(tc.hs, &e)
		if (err != nil) != tc.fail {
			t.Errorf("%s: Resolve = %v; want failure %v", tc.name, err, tc.fail)
			continue
		}
		if tc.fail {
			continue
		}
		show := func(b []byte) string {
			if b == nil {
				return "<nil>"
			}
			return string(b)
		}
		if show(e.ScriptName) != tc.script || show(e.PathInfo) != tc.path || show(e.RemoteUser) != tc.remote {
			t.Errorf("%s: Resolve = %q %q %q; want %q %q %q", tc.name, show(e.ScriptName), show(e.PathInfo), show(e.RemoteUser), tc.script, tc.path, tc.remote)
		}
	}
}

func TestSplitPath(t *testing.T) {
	for _, tc := range []struct {
		path, script, info string
		ok                 bool
	}{
		{"/app/x", "/app", "/x", true},
		{"/app", "/app", "", true},
		{"/app/", "/app", "/", true},
		{"/x", "", "/x", true},
		{"/application", "/app", "/application", false}, // not a segment boundary
		{"/x", "/app", "/x", false},
		{"/ap", "/app", "/ap", false},
	} {
		info, ok := SplitPath([]byte(tc.path), []byte(tc.script))
		if string(info) != tc.info || ok != tc.ok {
			t.Errorf("SplitPath(%q, %q) = %q, %v; want %q, %v", tc.path, tc.script, info, ok, tc.info, tc.ok)
		}
	}
}
