package accesslog

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

// headers is a header list in test-friendly form.
type headers [][2]string

// lookup returns a lookup function over h that, like the server's, is
// case-insensitive and allocation-free.
func (h headers) lookup() func(string) []byte {
	values := make([][]byte, len(h))
	for i, kv := range h {
		values[i] = []byte(kv[1])
	}
	return func(name string) []byte {
		for i, kv := range h {
			if strings.EqualFold(kv[0], name) {
				return values[i]
			}
		}
		return nil
	}
}

// zone is -0700, the zone of the Common Log Format's own example.
var zone = time.FixedZone("", -7*3600)

// testEntry is a typical request: curl through a referring page, with
// Basic credentials for "alice".
func testEntry() *Entry {
	req := headers{
		{"Host", "example.com"},
		{"User-Agent", "curl/8.5.0"},
		{"Referer", "http://example.com/start"},
		{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:s3cr:et"))},
		{"X-Request-Id", "abc123"},
	}
	resp := headers{
		{"Content-Type", "text/plain"},
		{"Content-Length", "12"},
	}
	return &Entry{
		RemoteAddr:     "192.0.2.7:51234",
		Method:         []byte("GET"),
		Target:         []byte("/a%20b?x=1&y=2"),
		Path:           []byte("/a b"),
		Query:          []byte("x=1&y=2"),
		Proto:          []byte("HTTP/1.1"),
		Status:         200,
		BytesSent:      12,
		Start:          time.Date(2000, time.October, 10, 13, 55, 36, 0, zone),
		Duration:       2*time.Second + 345678*time.Microsecond,
		WorkerPID:      12345,
		RequestHeader:  req.lookup(),
		ResponseHeader: resp.lookup(),
	}
}

func mustCompile(t testing.TB, format string, env map[string]string) *Format {
	t.Helper()
	f, err := CompileEnv(format, func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
	if err != nil {
		t.Fatalf("CompileEnv(%q) error: %v", format, err)
	}
	return f
}

func TestAppend(t *testing.T) {
	env := map[string]string{"HOSTNAME": "web-1", "EMPTY": "", "EVIL": "a\"b\nc"}
	tests := []struct {
		name   string
		format string
		edit   func(*Entry) // changes to testEntry, if any
		want   string       // without the trailing newline
	}{
		{"default format", DefaultFormat, nil,
			`192.0.2.7 - alice [10/Oct/2000:13:55:36 -0700] "GET /a%20b?x=1&y=2 HTTP/1.1" 200 12 "http://example.com/start" "curl/8.5.0"`},
		{"default format, nothing known", DefaultFormat, func(e *Entry) { *e = Entry{BytesSent: -1} },
			`- - - - "-" - - "-" "-"`},
		{"literal only", "hello", nil, "hello"},
		{"empty format", "", nil, ""},
		{"percent escape", "100%% %(s)s%%", nil, "100% 200%"},
		{"request line parts", "%(m)s|%(U)s|%(q)s|%(H)s", nil, "GET|/a b|x=1&y=2|HTTP/1.1"},
		{"empty query prints dash", "%(q)s", func(e *Entry) { e.Query = nil }, "-"},
		{"l is always dash", "%(l)s", nil, "-"},
		{"pid in angle brackets, as gunicorn", "%(p)s", nil, "<12345>"},
		{"pid unknown", "%(p)s", func(e *Entry) { e.WorkerPID = 0 }, "-"},
		{"sizes", "%(B)s %(b)s", nil, "12 12"},
		// gunicorn prints 0, not CLF's '-', for an empty body.
		{"sizes, empty body", "%(B)s %(b)s", func(e *Entry) { e.BytesSent = 0 }, "0 0"},
		{"sizes unknown", "%(B)s %(b)s", func(e *Entry) { e.BytesSent = -1 }, "- -"},
		{"durations", "%(T)s %(M)s %(D)s %(L)s", nil, "2 2345 2345678 2.345678"},
		{"durations, sub-microsecond", "%(T)s %(M)s %(D)s %(L)s",
			func(e *Entry) { e.Duration = 999 * time.Nanosecond }, "0 0 0 0.000000"},
		{"durations, negative clamps to zero", "%(T)s %(L)s",
			func(e *Entry) { e.Duration = -time.Second }, "0 0.000000"},
		{"durations, long", "%(T)s %(L)s",
			func(e *Entry) { e.Duration = 90*time.Second + 7*time.Microsecond }, "90 90.000007"},
		{"time in UTC", "%(t)s",
			func(e *Entry) { e.Start = time.Date(2024, time.February, 3, 4, 5, 6, 0, time.UTC) },
			"[03/Feb/2024:04:05:06 +0000]"},
		{"request header, any case", "%({x-request-id}i)s %({X-REQUEST-ID}i)s", nil, "abc123 abc123"},
		{"request header absent", "%({X-Missing}i)s", nil, "-"},
		{"response header", "%({Content-Type}o)s", nil, "text/plain"},
		{"nil header funcs", "%(a)s %(f)s %(u)s %({Host}i)s %({Content-Type}o)s",
			func(e *Entry) { e.RequestHeader, e.ResponseHeader = nil, nil }, "- - - - -"},
		{"environment variable, read at compile time", "%({HOSTNAME}e)s", nil, "web-1"},
		{"environment variable unset", "%({NOPE}e)s", nil, "-"},
		{"environment variable empty", "%({EMPTY}e)s", nil, "-"},
		{"environment variable escaped", "%({EVIL}e)s", nil, `a\x22b\x0ac`},
		// The connection's variables come from the request's environ, as in gunicorn.
		{"request environ: scheme and TLS", "%({wsgi.url_scheme}e)s %({HTTPS}e)s %({ssl_protocol}e)s %({SSL_CLIENT_S_DN}e)s",
			func(e *Entry) {
				e.Environ = headers{{"wsgi.url_scheme", "https"}, {"HTTPS", "on"}, {"SSL_PROTOCOL", "TLSv1.3"}}.lookup()
			}, "https on TLSv1.3 -"},
		{"request environ: none", "%({wsgi.url_scheme}e)s", nil, "-"},

		// h is REMOTE_ADDR: the host without the port.
		{"remote IPv6 with port", "%(h)s", func(e *Entry) { e.RemoteAddr = "[2001:db8::1]:443" }, "2001:db8::1"},
		{"remote bare IPv6", "%(h)s", func(e *Entry) { e.RemoteAddr = "::1" }, "::1"},
		{"remote bare IPv4", "%(h)s", func(e *Entry) { e.RemoteAddr = "127.0.0.1" }, "127.0.0.1"},
		{"remote unix socket", "%(h)s", func(e *Entry) { e.RemoteAddr = "" }, "-"},

		// A client must not be able to end the line or a quoted field:
		// CR/LF, '"' and '\' in anything it sent are written as \xHH.
		{"user agent forging a second line", `"%(a)s"`,
			func(e *Entry) {
				e.RequestHeader = headers{{"User-Agent", "x\"\r\n1.2.3.4 - - [...] \"GET /admin HTTP/1.1\" 200"}}.lookup()
			},
			`"x\x22\x0d\x0a1.2.3.4 - - [...] \x22GET /admin HTTP/1.1\x22 200"`},
		{"backslash escaped so escapes are ours", "%(a)s",
			func(e *Entry) { e.RequestHeader = headers{{"User-Agent", `a\x41`}}.lookup() }, `a\x5cx41`},
		{"NUL, DEL and tab", "%(f)s",
			func(e *Entry) { e.RequestHeader = headers{{"Referer", "a\x00b\x7fc\td"}}.lookup() }, `a\x00b\x7fc\x09d`},
		{"printable UTF-8 passes", "%(U)s", func(e *Entry) { e.Path = []byte("/café/") }, "/café/"},
		{"invalid UTF-8 escaped bytewise", "%(U)s", func(e *Entry) { e.Path = []byte("/caf\xe9\xff/") }, `/caf\xe9\xff/`},
		{"truncated UTF-8 at end", "%(U)s", func(e *Entry) { e.Path = []byte("/\xc3") }, `/\xc3`},
		// CVE-2021-42574 (Trojan Source): bidi overrides reorder what a
		// reader sees.
		{"bidi override escaped", "%(a)s",
			func(e *Entry) { e.RequestHeader = headers{{"User-Agent", "a\u202eb"}}.lookup() }, `a\xe2\x80\xaeb`},
		{"C1 control escaped", "%(a)s",
			func(e *Entry) { e.RequestHeader = headers{{"User-Agent", "a\u0085b"}}.lookup() }, `a\xc2\x85b`},
		{"request line escaped", `"%(r)s"`,
			func(e *Entry) { e.Target = []byte("/\"x") }, `"GET /\x22x HTTP/1.1"`},
		{"remote addr escaped", "%(h)s", func(e *Entry) { e.RemoteAddr = "a\nb" }, `a\x0ab`},

		// u: the user of Basic credentials (RFC 7617), as gunicorn
		// decodes it; anything else is '-'.
		{"basic user, scheme in any case", "%(u)s", func(e *Entry) { setAuth(e, "bAsIc "+b64("bob:pw")) }, "bob"},
		{"basic without colon prints all", "%(u)s", func(e *Entry) { setAuth(e, "Basic "+b64("bob")) }, "bob"},
		{"basic with padding spaces", "%(u)s", func(e *Entry) { setAuth(e, "Basic   "+b64("bob:pw")+" ") }, "bob"},
		{"basic empty user", "%(u)s", func(e *Entry) { setAuth(e, "Basic "+b64(":pw")) }, "-"},
		{"basic UTF-8 user", "%(u)s", func(e *Entry) { setAuth(e, "Basic "+b64("zoë:pw")) }, "zoë"},
		{"basic user escaped", "%(u)s", func(e *Entry) { setAuth(e, "Basic "+b64("a\"\nb:pw")) }, `a\x22\x0ab`},
		{"basic non-UTF-8 user", "%(u)s", func(e *Entry) { setAuth(e, "Basic "+b64("\xff:pw")) }, "-"},
		{"basic bad base64", "%(u)s", func(e *Entry) { setAuth(e, "Basic !!!!") }, "-"},
		{"basic bad length", "%(u)s", func(e *Entry) { setAuth(e, "Basic YWJj=") }, "-"},
		{"basic padding in the middle", "%(u)s", func(e *Entry) { setAuth(e, "Basic YQ==YWJj") }, "-"},
		{"basic no credentials", "%(u)s", func(e *Entry) { setAuth(e, "Basic ") }, "-"},
		{"basic scheme only", "%(u)s", func(e *Entry) { setAuth(e, "Basic") }, "-"},
		{"bearer is not basic", "%(u)s", func(e *Entry) { setAuth(e, "Bearer "+b64("bob:pw")) }, "-"},
		{"basicx is not basic", "%(u)s", func(e *Entry) { setAuth(e, "Basicx "+b64("bob:pw")) }, "-"},
		{"basic long password", "%(u)s",
			func(e *Entry) { setAuth(e, "Basic "+b64("bob:"+strings.Repeat("p", 5000))) }, "bob"},
		{"basic long password, bad tail", "%(u)s",
			func(e *Entry) { setAuth(e, "Basic "+b64("bob:" + strings.Repeat("p", 5000))[:4000]+"!!!!") }, "-"},
		{"basic user longer than the search window", "%(u)s",
			func(e *Entry) { setAuth(e, "Basic "+b64(strings.Repeat("u", 2000)+":pw")) }, "-"},
		{"basic long user without colon fits", "%(u)s",
			func(e *Entry) { setAuth(e, "Basic "+b64(strings.Repeat("u", 700))) }, strings.Repeat("u", 700)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustCompile(t, tt.format, env)
			e := testEntry()
			if tt.edit != nil {
				tt.edit(e)
			}
			got := string(f.Append(nil, e))
			if got != tt.want+"\n" {
				t.Errorf("Append(%q) = %q; want %q", tt.format, got, tt.want+"\n")
			}
		})
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func setAuth(e *Entry, v string) {
	e.RequestHeader = headers{{"Authorization", v}}.lookup()
}

func TestAppendKeepsPrefix(t *testing.T) {
	f := mustCompile(t, "%(s)s", nil)
	got := f.Append([]byte("first\n"), testEntry())
	if want := "first\n200\n"; string(got) != want {
		t.Errorf("Append(%q) = %q; want %q", "first\n", got, want)
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		format string
		offset int
		atom   string
	}{
		{"%(x)s", 0, "%(x)s"},            // unknown atom; gunicorn would print '-'
		{"ok %(h)s %(hh)s", 9, "%(hh)s"}, // unknown atom
		{"%()s", 0, "%()s"},              // empty name
		{"%(h)d", 0, "%(h)d"},            // only 's': gunicorn's atoms are strings
		{"%(h)", 0, "%(h)"},              // no conversion
		{"abc %(h", 4, "%(h"},            // unterminated name
		{"50%", 2, "%"},                  // lone '%' at the end
		{"%s", 0, "%s"},                  // positional: gunicorn passes a mapping
		{"% (h)s", 0, "% "},              // no flags or widths
		{"%({}i)s", 0, "%({}i)s"},        // empty header name
		{"%({X}z)s", 0, "%({X}z)s"},      // unknown brace kind
		{"%({X})s", 0, "%({X})s"},        // missing brace kind
		{"%({X Y}i)s", 0, "%({X Y}i)s"},  // header name is not a token (RFC 9110 5.6.2)
		{"%({X:Y}o)s", 0, "%({X:Y}o)s"},  // header name is not a token
		{"%(é)s", 0, "%(é)s"},            // non-ASCII atom
		{"café %(Z)s", 6, "%(Z)s"},       // offset is in bytes, not runes
	}
	for _, tt := range tests {
		f, err := CompileEnv(tt.format, nil)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("CompileEnv(%q) = %v, %v; want *SyntaxError", tt.format, f, err)
			continue
		}
		if se.Offset != tt.offset || se.Atom != tt.atom {
			t.Errorf("CompileEnv(%q) error at %d naming %q; want %d naming %q (%v)",
				tt.format, se.Offset, se.Atom, tt.offset, tt.atom, err)
		}
		if msg := err.Error(); !strings.Contains(msg, tt.atom) {
			t.Errorf("CompileEnv(%q) error %q does not name %q", tt.format, msg, tt.atom)
		}
	}
}

func TestCompileReadsEnvironment(t *testing.T) {
	t.Setenv("GONICORN_ACCESSLOG_TEST", "blue")
	f, err := Compile("%({GONICORN_ACCESSLOG_TEST}e)s")
	if err != nil {
		t.Fatal(err)
	}
	// Later changes do not matter: the value is part of the format.
	t.Setenv("GONICORN_ACCESSLOG_TEST", "green")
	if got := string(f.Append(nil, &Entry{})); got != "blue\n" {
		t.Errorf("Append = %q; want %q", got, "blue\n")
	}
	if f.String() != "%({GONICORN_ACCESSLOG_TEST}e)s" {
		t.Errorf("String() = %q", f.String())
	}
}

// TestAppendAllocs pins the promise that logging a request costs no
// allocation once the buffer is large enough.
func TestAppendAllocs(t *testing.T) {
	formats := []string{
		DefaultFormat,
		`%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(m)s %(U)s %(q)s %(H)s %(B)s %(T)s %(M)s %(D)s %(L)s %(p)s %({x-request-id}i)s %({content-type}o)s`,
	}
	e := testEntry()
	setAuth(e, "Basic "+b64("bob:"+strings.Repeat("p", 3000)))
	e.RequestHeader = headers{
		{"Authorization", "Basic " + b64("bob:"+strings.Repeat("p", 3000))},
		{"User-Agent", "Mozilla/5.0 \u202e \"quoted\" café\r\n"},
	}.lookup()
	e.Start = time.Now() // the local zone, as the server will use
	for _, format := range formats {
		f := mustCompile(t, format, nil)
		buf := make([]byte, 0, 4096)
		allocs := testing.AllocsPerRun(100, func() {
			buf = f.Append(buf[:0], e)
		})
		if allocs != 0 {
			t.Errorf("Append(%q) allocates %v times per call; want 0", format, allocs)
		}
	}
}

func BenchmarkAppendDefault(b *testing.B) {
	f := mustCompile(b, DefaultFormat, nil)
	e := testEntry()
	e.Start = time.Now()
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = f.Append(buf[:0], e)
	}
	b.SetBytes(int64(len(buf)))
	if !bytes.HasSuffix(buf, []byte("\n")) {
		b.Fatalf("line %q lacks a newline", buf)
	}
}
