package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// gunicorn's parser leniency settings (docs/limits.md): asking for one stops gonicorn with
// exit status 1 and one line naming it and saying why; their default, False, is accepted
// silently, and casefold_http_method is accepted (it changes nothing: a lower-case method is
// refused before it could be folded, as in gunicorn).
func TestParserLeniencySettings(t *testing.T) {
	refused := filepath.Join(t.TempDir(), "gunicorn.conf.py")
	writeConfig(t, refused, "permit_obsolete_folding = True\n")
	for _, tc := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"--strip-header-spaces", "app"}, "gonicorn: error: --strip-header-spaces: gonicorn refuses whitespace between a header name and its colon with 400 (RFC 9112 §5.1)"},
		{[]string{"GUNICORN_CMD_ARGS=--permit-unconventional-http-version"}, []string{"app"}, "gonicorn: error: --permit-unconventional-http-version: gonicorn serves HTTP/1.0 and HTTP/1.1 only"},
		{nil, []string{"--permit-unconventional-http-method", "app"}, "gonicorn: error: --permit-unconventional-http-method: gonicorn takes gunicorn's default methods only"},
		{nil, []string{"--python", python(t), "-c", refused, "app"}, "gonicorn: error: config file " + refused + ": permit_obsolete_folding = True: gonicorn refuses folded header lines with 400 (RFC 9112 §5.2)"},
	} {
		_, stderr, code := runCLI(t, tc.env, tc.args...)
		if code != 1 || !strings.HasPrefix(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("gonicorn %v (env %v): exit %d, stderr %q; want 1 and the one line %q...", tc.args, tc.env, code, stderr, tc.want)
		}
	}

	defaults := filepath.Join(t.TempDir(), "gunicorn.conf.py")
	writeConfig(t, defaults, "permit_obsolete_folding = False\nstrip_header_spaces = False\npermit_unconventional_http_method = False\npermit_unconventional_http_version = False\ncasefold_http_method = True\n")
	s := start(t, "--python", python(t), "--chdir", appsDir(t), "-c", defaults, "--casefold-http-method", "basic")
	if r := s.get("/"); r.status != 200 {
		t.Errorf("GET / = %d; want 200", r.status)
	}
	if out := s.raw("get / HTTP/1.1\r\nHost: t\r\n\r\n", 2*time.Second); !strings.HasPrefix(out, "HTTP/1.1 400 ") {
		t.Errorf("a lower-case method answered %q; want 400, as gunicorn's casefold_http_method does without permit_unconventional_http_method", firstLine(out))
	}
	if log := s.log.String(); strings.Contains(log, "WARNING") {
		t.Errorf("gunicorn's defaults and casefold_http_method were warned about:\n%s", log)
	}
}
