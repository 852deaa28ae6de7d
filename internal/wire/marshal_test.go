package wire

import (
	"bytes"
	"encoding/hex"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// python runs script with the real python3 and returns its stdout.
func python(t testing.TB, script string, stdin []byte) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found")
	}
	cmd := exec.Command(py, "-c", script)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, stderr.String())
	}
	return string(out)
}

// latin1Cases are environ strings: empty, ASCII, every non-ASCII latin-1
// byte, the 255/256 boundary between 'z' and 'a', and long strings.
var latin1Cases = func() []string {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	return []string{
		"", "GET", "/caf\xe9/\xff\x80", string(all[:128]), string(all[128:]), string(all),
		strings.Repeat("a", 255), strings.Repeat("\xe9", 256), strings.Repeat("x\xff", 40000),
	}
}()

// TestEncodeAgainstPython checks that CPython's marshal.loads turns the
// Go-encoded environ into str whose code points are exactly our bytes.
func TestEncodeAgainstPython(t *testing.T) {
	var env []byte
	env = AppendDictStart(env)
	for i, s := range latin1Cases {
		env = AppendString(env, strings.Repeat("k", i)+s) // distinct keys
		env = AppendBytes(env, []byte(s))
	}
	env = AppendDictEnd(env)
	out := python(t, `
import marshal, sys
d = marshal.loads(sys.stdin.buffer.read())
assert type(d) is dict, type(d)
for k, v in d.items():
    assert type(k) is str and type(v) is str
    print(k.encode('latin-1').hex() + ':' + v.encode('latin-1').hex())
`, env)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(latin1Cases) {
		t.Fatalf("python saw %d pairs; want %d", len(lines), len(latin1Cases))
	}
	for i, s := range latin1Cases {
		want := hex.EncodeToString([]byte(strings.Repeat("k", i)+s)) + ":" + hex.EncodeToString([]byte(s))
		if lines[i] != want {
			t.Errorf("pair %d: python decoded %.80s; want %.80s", i, lines[i], want)
		}
	}
}

func TestVectorFrameMatchesWorker(t *testing.T) {
	v := VectorFrame()
	if len(v) < HeaderSize || Kind(v[4]) != Vector || int(v[0])|int(v[1])<<8 != len(v)-HeaderSize {
		t.Fatalf("VectorFrame header = % x", v[:HeaderSize])
	}
	dir, _ := filepath.Abs("../../python")
	out := python(t, `
import marshal, sys
sys.path.insert(0, '`+dir+`')
import gonicorn_wire
print(marshal.loads(sys.stdin.buffer.read()[5:]) == gonicorn_wire.VECTOR)
`, v)
	if strings.TrimSpace(out) != "True" {
		t.Fatalf("worker VECTOR differs from VectorFrame: %s", out)
	}
}

func TestAppendRequest(t *testing.T) {
	env := AppendDictEnd(AppendString(AppendString(AppendDictStart(nil), "A"), "b"))
	got := AppendRequest([]byte("x"), env, []byte("body"))
	want := append([]byte("x\x10\x00\x00\x00R\x08\x00\x00\x00"), env...)
	want = append(want, "body"...)
	if !bytes.Equal(got, want) {
		t.Fatalf("AppendRequest = %q; want %q", got, want)
	}
}

// TestDecodeFromPython decodes what CPython's marshal.dumps(obj, 2) writes.
func TestDecodeFromPython(t *testing.T) {
	out := python(t, `
import marshal
cases = [
    ('200 OK', [('Content-Type', 'text/plain'), ('X-Latin', 'caf\xe9 \xff\x80'), ('', '')]),
    ('404 Not Found', []),
    ('200 OK', [('X-Long', 'v' * 70000), ('X-Long-Latin', '\xe9' * 300)]),
    {'pid': 1234, 'python': 'cpython 3.11.7', 'ok': True, 'error': ''},
    {'pid': -1, 'python': 'x', 'ok': False, 'error': 'Traceback\n  caf\xe9 \u20ac \U0001f600'},
    [None, True, False, 2**31 - 1, -2**31, (), [], {}, ('a', ['b', {'c': 'd'}])],
    {'pid': 7, 'python': 'cpython 3.11.7', 'ok': True, 'error': '',
     'django': {'settings': 'mysite.settings', 'wsgi_application': 'mysite.wsgi.application',
                'static_url': 'static/', 'static_root': '/srv/caf\xe9/static',
                'media_url': '', 'media_root': ''}},
    {'pid': 8, 'python': 'cpython 3.11.7', 'ok': True, 'error': 'Traceback\nSyntaxError: x',
     'django': {'settings': 's', 'wsgi_application': '', 'static_url': '/static/', 'static_root': '',
                'media_url': '', 'media_root': '', 'dev_static': True}},
]
for c in cases:
    print(marshal.dumps(c, 2).hex())
`, nil)
	var enc [][]byte
	for _, l := range strings.Fields(out) {
		b, err := hex.DecodeString(l)
		if err != nil {
			t.Fatal(err)
		}
		enc = append(enc, b)
	}
	type hdrs = [][2]string
	starts := []struct {
		status  string
		headers hdrs
	}{
		{"200 OK", hdrs{{"Content-Type", "text/plain"}, {"X-Latin", "caf\xe9 \xff\x80"}, {"", ""}}},
		{"404 Not Found", nil},
		{"200 OK", hdrs{{"X-Long", strings.Repeat("v", 70000)}, {"X-Long-Latin", strings.Repeat("\xe9", 300)}}},
	}
	reuse := make([][2][]byte, 0, 4)
	for i, want := range starts {
		status, headers, err := DecodeStart(enc[i], reuse)
		if err != nil {
			t.Fatalf("DecodeStart(case %d): %v", i, err)
		}
		var got hdrs
		for _, h := range headers {
			got = append(got, [2]string{string(h[0]), string(h[1])})
		}
		if string(status) != want.status || !reflect.DeepEqual(got, want.headers) {
			t.Errorf("DecodeStart(case %d) = %q %q; want %q %q", i, status, got, want.status, want.headers)
		}
		reuse = headers
	}

	info, err := DecodeReady(enc[3])
	if want := (ReadyInfo{PID: 1234, Python: "cpython 3.11.7", OK: true}); err != nil || info != want {
		t.Errorf("DecodeReady = %+v, %v; want %+v", info, err, want)
	}
	info, err = DecodeReady(enc[4])
	if want := (ReadyInfo{PID: -1, Python: "x", Error: "Traceback\n  café € 😀"}); err != nil || info != want {
		t.Errorf("DecodeReady = %+v, %v; want %+v", info, err, want)
	}
	info, err = DecodeReady(enc[6])
	wantDjango := &Django{Settings: "mysite.settings", WSGIApplication: "mysite.wsgi.application",
		Static: DjangoStatic{StaticURL: "static/", StaticRoot: "/srv/café/static"}}
	if err != nil || info.PID != 7 || !info.OK || !reflect.DeepEqual(info.Django, wantDjango) {
		t.Errorf("DecodeReady(with django) = %+v (django %+v), %v; want pid 7, ok, django %+v", info, info.Django, err, wantDjango)
	}
	// --reload: a worker that serves its app's load error is ok with the error; one that
	// serves static files through Django's finders says dev_static.
	info, err = DecodeReady(enc[7])
	if err != nil || !info.OK || info.Error != "Traceback\nSyntaxError: x" || info.Django == nil || !info.Django.DevStatic {
		t.Errorf("DecodeReady(--reload) = %+v (django %+v), %v; want ok, the error, dev_static", info, info.Django, err)
	}
	if info, _ := DecodeReady(enc[6]); info.Django == nil || info.Django.DevStatic {
		t.Errorf("DecodeReady(without dev_static) = django %+v; want DevStatic false", info.Django)
	}
	v, err := Decode(enc[5])
	wantV := []any{nil, true, false, int64(1<<31 - 1), int64(-1 << 31), []any{}, []any{}, map[string]any{},
		[]any{"a", []any{"b", map[string]any{"c": "d"}}}}
	if err != nil || !reflect.DeepEqual(v, wantV) {
		t.Errorf("Decode = %#v, %v; want %#v", v, err, wantV)
	}
}

// TestDecodeStartNoCopy: ASCII strings are sub-slices of the input.
func TestDecodeStartNoCopy(t *testing.T) {
	b := []byte("(\x02\x00\x00\x00u\x06\x00\x00\x00200 OK[\x01\x00\x00\x00(\x02\x00\x00\x00u\x01\x00\x00\x00Au\x01\x00\x00\x00b")
	status, h, err := DecodeStart(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if &status[0] != &b[10] || &h[0][1][0] != &b[len(b)-1] {
		t.Errorf("DecodeStart copied ASCII strings")
	}
}

func TestDecodeErrors(t *testing.T) {
	start := "(\x02\x00\x00\x00u\x06\x00\x00\x00200 OK[\x00\x00\x00\x00"
	tests := []struct {
		name, in, want string
		start          bool // DecodeStart instead of Decode
	}{
		{"empty input", "", "truncated", false},
		{"truncated int", "i\x01\x00", "truncated", false},
		{"truncated string", "u\x05\x00\x00\x00abc", "string length 5 exceeds the 3 bytes left", false},
		{"negative length", "(\xff\xff\xff\xff", "length -1", false},
		{"huge list count", "[\x00\x00\x00\x40", "exceeds", false},
		{"dict without end", "{u\x01\x00\x00\x00aN", "truncated", false},
		{"dict int key", "{i\x01\x00\x00\x00N0", "dict key is int64", false},
		{"bytes type", "s\x01\x00\x00\x00a", "unsupported type code 's'", false},
		{"float type", "g\x00\x00\x00\x00\x00\x00\x00\x00", "unsupported type code 'g'", false},
		{"ref flag", "\xf5\x01\x00\x00\x00a", "unsupported type code", false},
		{"stray null", "0", "end-of-dict", false},
		{"trailing bytes", "NN", "1 trailing bytes", false},
		{"too deep", strings.Repeat("[\x01\x00\x00\x00", 40) + "N", "nested deeper", false},

		{"start ok", start, "", true},
		{"start truncated", start[:len(start)-1], "truncated", true},
		{"start trailing", start + "N", "trailing", true},
		{"start is list", "[" + start[1:], "start: type code '['", true},
		{"start 3 items", "(\x03" + start[2:], "start has 3 items, want 2", true},
		{"status bytes", "(\x02\x00\x00\x00s\x06\x00\x00\x00200 OK[\x00\x00\x00\x00", "status: type code 's'", true},
		{"status rune > 0xFF", "(\x02\x00\x00\x00u\x03\x00\x00\x00\xe2\x82\xac[\x00\x00\x00\x00", "U+20AC at offset 10 is not latin-1", true},
		{"status bad UTF-8", "(\x02\x00\x00\x00u\x01\x00\x00\x00\xe9[\x00\x00\x00\x00", "invalid UTF-8", true},
		{"status surrogate", "(\x02\x00\x00\x00u\x03\x00\x00\x00\xed\xa0\x80[\x00\x00\x00\x00", "invalid UTF-8", true},
		{"headers tuple", start[:len(start)-5] + "(\x00\x00\x00\x00", "headers: type code '('", true},
		{"header 3-tuple", start[:len(start)-4] + "\x01\x00\x00\x00(\x03\x00\x00\x00NNN", "header has 3 items", true},
		{"header int value", start[:len(start)-4] + "\x01\x00\x00\x00(\x02\x00\x00\x00u\x01\x00\x00\x00Ai\x05\x00\x00\x00", "header value: type code 'i'", true},
		{"header name rune", start[:len(start)-4] + "\x01\x00\x00\x00(\x02\x00\x00\x00u\x02\x00\x00\x00\xc4\x80u\x00\x00\x00\x00", "header name: U+0100", true},
	}
	for _, tt := range tests {
		var err error
		if tt.start {
			_, _, err = DecodeStart([]byte(tt.in), nil)
		} else {
			_, err = Decode([]byte(tt.in))
		}
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: err = %v; want nil", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: err = %v; want one containing %q", tt.name, err, tt.want)
		}
	}
}

func TestDecodeReadyErrors(t *testing.T) {
	// A valid ready dict without its closing '0'.
	ready := "{u\x03\x00\x00\x00pidi\x01\x00\x00\x00u\x06\x00\x00\x00pythonu\x00\x00\x00\x00u\x02\x00\x00\x00okTu\x05\x00\x00\x00erroru\x00\x00\x00\x00"
	if _, err := DecodeReady([]byte(ready + "0")); err != nil {
		t.Fatalf("DecodeReady(valid) = %v", err)
	}
	for _, in := range []string{
		"N",
		"{u\x03\x00\x00\x00pidi\x01\x00\x00\x000", // keys missing
		"{u\x03\x00\x00\x00pidu\x01\x00\x00\x001u\x06\x00\x00\x00pythonu\x00\x00\x00\x00u\x02\x00\x00\x00okTu\x05\x00\x00\x00erroru\x00\x00\x00\x000",
		ready + "u\x06\x00\x00\x00djangoN0",                            // django not a dict
		ready + "u\x06\x00\x00\x00django{u\x08\x00\x00\x00settingsN00", // keys missing, settings None
	} {
		if _, err := DecodeReady([]byte(in)); err == nil {
			t.Errorf("DecodeReady(%q) = nil error; want one", in)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte("(\x02\x00\x00\x00u\x06\x00\x00\x00200 OK[\x01\x00\x00\x00(\x02\x00\x00\x00u\x01\x00\x00\x00Au\x02\x00\x00\x00\xc3\xa9"))
	f.Add([]byte("{u\x03\x00\x00\x00pidi\x01\x00\x00\x00u\x02\x00\x00\x00okTu\x01\x00\x00\x00eN0"))
	f.Add([]byte("[\x02\x00\x00\x00(\x00\x00\x00\x00{0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		Decode(b)
		status, headers, err := DecodeStart(b, nil)
		if err == nil {
			// A valid start re-decodes through Decode as (str, [(str, str)...]).
			v, err := Decode(b)
			if err != nil {
				t.Fatalf("DecodeStart ok (%q, %d headers) but Decode: %v", status, len(headers), err)
			}
			if tup, ok := v.([]any); !ok || len(tup) != 2 {
				t.Fatalf("Decode = %#v; want a 2-tuple", v)
			}
		}
		DecodeReady(b)
	})
}
