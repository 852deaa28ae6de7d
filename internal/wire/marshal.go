package wire

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// Python marshal type codes used on the wire (CPython Python/marshal.c).
const (
	typeDict       = '{'
	typeNull       = '0' // ends a dict
	typeTuple      = '('
	typeList       = '['
	typeUnicode    = 'u' // int32 length + UTF-8; what marshal version 2 writes for str
	typeInterned   = 't' // same payload as 'u'
	typeInt        = 'i' // int32
	typeTrue       = 'T'
	typeFalse      = 'F'
	typeNone       = 'N'
	typeShortASCII = 'z' // 1-byte length; the bytes become a 1-byte-kind (latin-1) str
	typeASCII      = 'a' // int32 length; likewise
)

// maxDepth bounds the nesting Decode accepts. The worker's payloads nest
// three deep; the bound keeps hostile input from exhausting the stack.
const maxDepth = 32

// AppendDictStart starts a marshal dict. Follow it with key/value pairs
// written by AppendString or AppendBytes and end it with AppendDictEnd.
func AppendDictStart(b []byte) []byte { return append(b, typeDict) }

// AppendDictEnd ends a marshal dict.
func AppendDictEnd(b []byte) []byte { return append(b, typeNull) }

// AppendString appends s as a marshal str whose code points are the bytes of
// s (PEP 3333 native string: latin-1, no transcoding). It uses 'z' below 256
// bytes and 'a' above; CPython builds a one-byte-kind str from either.
// len(s) must be below 2 GiB.
func AppendString(b []byte, s string) []byte { return appendStr(b, s) }

// AppendBytes is AppendString for a byte slice.
func AppendBytes(b []byte, s []byte) []byte { return appendStr(b, s) }

func appendStr[T string | []byte](b []byte, s T) []byte {
	if len(s) < 256 {
		b = append(b, typeShortASCII, byte(len(s)))
	} else {
		b = append(b, typeASCII)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
	}
	return append(b, s...)
}

// decoder reads the marshal version 2 subset the worker writes.
type decoder struct {
	b   []byte
	off int // next byte to read
}

func (d *decoder) errorf(format string, args ...any) error {
	return fmt.Errorf("wire: marshal: "+format+" (offset %d of %d)", append(args, d.off, len(d.b))...)
}

func (d *decoder) byte() (byte, error) {
	if d.off >= len(d.b) {
		return 0, d.errorf("truncated: want a type code")
	}
	c := d.b[d.off]
	d.off++
	return c, nil
}

// int32 reads a signed little-endian int32.
func (d *decoder) int32() (int32, error) {
	if len(d.b)-d.off < 4 {
		return 0, d.errorf("truncated: want 4 bytes of int32, have %d", len(d.b)-d.off)
	}
	v := int32(binary.LittleEndian.Uint32(d.b[d.off:]))
	d.off += 4
	return v, nil
}

// count reads a container or string length: non-negative and, since every
// element or byte takes at least one byte, not beyond the input.
func (d *decoder) count(what string) (int, error) {
	n, err := d.int32()
	if err != nil {
		return 0, err
	}
	if n < 0 || int(n) > len(d.b)-d.off {
		return 0, d.errorf("%s length %d exceeds the %d bytes left", what, n, len(d.b)-d.off)
	}
	return int(n), nil
}

// utf8 reads the payload of a 'u' or 't' string, without copying.
func (d *decoder) utf8() ([]byte, error) {
	n, err := d.count("string")
	if err != nil {
		return nil, err
	}
	s := d.b[d.off : d.off+n]
	d.off += n
	return s, nil
}

func (d *decoder) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, d.errorf("nested deeper than %d", maxDepth)
	}
	c, err := d.byte()
	if err != nil {
		return nil, err
	}
	switch c {
	case typeUnicode, typeInterned:
		s, err := d.utf8()
		return string(s), err
	case typeInt:
		v, err := d.int32()
		return int64(v), err
	case typeTrue:
		return true, nil
	case typeFalse:
		return false, nil
	case typeNone:
		return nil, nil
	case typeTuple, typeList:
		n, err := d.count("tuple/list")
		if err != nil {
			return nil, err
		}
		items := make([]any, n)
		for i := range items {
			if items[i], err = d.value(depth + 1); err != nil {
				return nil, err
			}
		}
		return items, nil
	case typeDict:
		m := make(map[string]any)
		for {
			if d.off < len(d.b) && d.b[d.off] == typeNull {
				d.off++
				return m, nil
			}
			k, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			key, ok := k.(string)
			if !ok {
				return nil, d.errorf("dict key is %T, want str", k)
			}
			if m[key], err = d.value(depth + 1); err != nil {
				return nil, err
			}
		}
	case typeNull:
		return nil, d.errorf("unexpected end-of-dict code '0'")
	}
	d.off--
	return nil, d.errorf("unsupported type code %q", rune(c))
}

// Decode decodes a marshal version 2 value from the subset the worker
// writes: dict (→ map[string]any, str keys only), tuple and list (→ []any),
// str (→ string holding the UTF-8 bytes as Python wrote them, unvalidated),
// int32 (→ int64), True/False (→ bool) and None (→ nil). All of b must be
// one value.
func Decode(b []byte) (any, error) {
	d := decoder{b: b}
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	if d.off != len(b) {
		return nil, d.errorf("%d trailing bytes", len(b)-d.off)
	}
	return v, nil
}

// expect reads a type code and, for a tuple or list, its length.
func (d *decoder) expect(code byte, n int, what string) (int, error) {
	c, err := d.byte()
	if err != nil {
		return 0, err
	}
	if c != code {
		d.off--
		return 0, d.errorf("%s: type code %q, want %q", what, rune(c), rune(code))
	}
	if code != typeTuple && code != typeList {
		return 0, nil
	}
	got, err := d.count(what)
	if err != nil {
		return 0, err
	}
	if n >= 0 && got != n {
		return 0, d.errorf("%s has %d items, want %d", what, got, n)
	}
	return got, nil
}

// latin1 reads a str and returns its code points as bytes (PEP 3333 native
// string). An ASCII string is returned as a sub-slice of the input.
func (d *decoder) latin1(what string) ([]byte, error) {
	c, err := d.byte()
	if err != nil {
		return nil, err
	}
	if c != typeUnicode && c != typeInterned {
		d.off--
		return nil, d.errorf("%s: type code %q, want str", what, rune(c))
	}
	start := d.off
	s, err := d.utf8()
	if err != nil {
		return nil, err
	}
	i := 0
	for i < len(s) && s[i] < utf8.RuneSelf {
		i++
	}
	if i == len(s) {
		return s, nil
	}
	out := make([]byte, i, len(s))
	copy(out, s)
	for i < len(s) {
		if s[i] < utf8.RuneSelf {
			out = append(out, s[i])
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size <= 1 {
			return nil, fmt.Errorf("wire: marshal: %s: invalid UTF-8 at offset %d", what, start+4+i)
		}
		if r > 0xFF {
			return nil, fmt.Errorf("wire: marshal: %s: %U at offset %d is not latin-1", what, r, start+4+i)
		}
		out = append(out, byte(r))
		i += size
	}
	return out, nil
}

// DecodeStart decodes an S payload, marshal (status, [(name, value), ...]),
// into latin-1 bytes (each code point one byte; above U+00FF is an error).
// ASCII strings are sub-slices of b, not copies. The pairs are appended to
// headers[:0], so a caller can reuse one slice across requests. Checking
// the bytes against HTTP's rules is the caller's job.
func DecodeStart(b []byte, headers [][2][]byte) (status []byte, out [][2][]byte, err error) {
	d := decoder{b: b}
	out = headers[:0]
	if _, err = d.expect(typeTuple, 2, "start"); err != nil {
		return nil, out, err
	}
	if status, err = d.latin1("status"); err != nil {
		return nil, out, err
	}
	n, err := d.expect(typeList, -1, "headers")
	if err != nil {
		return nil, out, err
	}
	for range n {
		var h [2][]byte
		if _, err = d.expect(typeTuple, 2, "header"); err != nil {
			return nil, out, err
		}
		if h[0], err = d.latin1("header name"); err != nil {
			return nil, out, err
		}
		if h[1], err = d.latin1("header value"); err != nil {
			return nil, out, err
		}
		out = append(out, h)
	}
	if d.off != len(b) {
		return nil, out, d.errorf("%d trailing bytes", len(b)-d.off)
	}
	return status, out, nil
}

// ReadyInfo is the worker's Y frame: the result of its handshake.
type ReadyInfo struct {
	PID    int    // the worker process id
	Python string // implementation and version, e.g. "cpython 3.11.7"
	OK     bool   // the vector matched and the application loaded (or, in --reload, serves its error page)
	Error  string // why not, when !OK: a traceback or a vector mismatch; with OK (--reload only), the app's load error, whose page it serves

	// Django is what the worker read from a Django application's settings (the Y frame's
	// optional "django" key); nil when the app did not configure Django's settings.
	Django *Django
}

// Django is the "django" dict of a Y frame (docs/protocol.md): the settings of a Django
// application that the master acts on.
type Django struct {
	Settings        string // the settings module (settings.SETTINGS_MODULE); "" for settings.configure()
	WSGIApplication string // settings.WSGI_APPLICATION; "" = None (Django's get_wsgi_application())
	Static          DjangoStatic
	// DevStatic: in --reload, the worker serves STATIC_URL itself through Django's finders
	// (StaticFilesHandler, DEBUG on), as runserver does; the optional key "dev_static".
	DevStatic bool
}

// DjangoStatic are a Django application's static and media settings. The URLs are the
// settings as written ("" when None): a path ("/static/"), a path relative to the app's
// root ("static/", which Django serves under SCRIPT_NAME + "/"), or a URL on another host
// ("https://cdn.example.com/static/", not served here). The roots are absolute paths, ""
// when unset; a root need not exist (STATIC_ROOT is made by collectstatic).
type DjangoStatic struct {
	StaticURL  string // STATIC_URL
	StaticRoot string // STATIC_ROOT: where collectstatic puts the files
	MediaURL   string // MEDIA_URL
	MediaRoot  string // MEDIA_ROOT: the users' uploads
}

// DecodeReady decodes a Y payload. All four keys must be present with
// their types; "django", when present, must be a dict holding every key
// of Django as a str.
func DecodeReady(payload []byte) (ReadyInfo, error) {
	v, err := Decode(payload)
	if err != nil {
		return ReadyInfo{}, fmt.Errorf("decoding ready frame: %w", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return ReadyInfo{}, fmt.Errorf("wire: ready frame is %T, want dict", v)
	}
	pid, ok1 := m["pid"].(int64)
	python, ok2 := m["python"].(string)
	okv, ok3 := m["ok"].(bool)
	msg, ok4 := m["error"].(string)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return ReadyInfo{}, fmt.Errorf("wire: ready frame %v: want pid int, python str, ok bool, error str", m)
	}
	info := ReadyInfo{PID: int(pid), Python: python, OK: okv, Error: msg}
	if d, ok := m["django"]; ok {
		if info.Django, err = decodeDjango(d); err != nil {
			return ReadyInfo{}, err
		}
	}
	return info, nil
}

// decodeDjango decodes the "django" value of a Y frame.
func decodeDjango(v any) (*Django, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("wire: ready frame's django is %T, want dict", v)
	}
	var d Django
	for key, field := range map[string]*string{
		"settings": &d.Settings, "wsgi_application": &d.WSGIApplication,
		"static_url": &d.Static.StaticURL, "static_root": &d.Static.StaticRoot,
		"media_url": &d.Static.MediaURL, "media_root": &d.Static.MediaRoot,
	} {
		s, ok := m[key].(string)
		if !ok {
			return nil, fmt.Errorf("wire: ready frame's django %v: want %s str", m, key)
		}
		*field = s
	}
	if v, ok := m["dev_static"]; ok {
		if d.DevStatic, ok = v.(bool); !ok {
			return nil, fmt.Errorf("wire: ready frame's django %v: want dev_static bool", m)
		}
	}
	return &d, nil
}
