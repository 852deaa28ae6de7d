package wire

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// FuzzEncodeEnviron checks the marshal encoder of the environ: for any key and value bytes
// (the latin-1 wire bytes of a header), the dict it writes has the exact layout CPython's
// marshal reads — '{', a 'z' (length < 256, 1-byte length) or 'a' (4-byte length) string per
// key and value carrying the bytes unchanged, '0' — so a header can never spill into the
// next key or shift the stream. TestEncodeAgainstPython checks the same layout with the real
// interpreter.
func FuzzEncodeEnviron(f *testing.F) {
	f.Add([]byte("HTTP_HOST"), []byte("example.com"))
	f.Add([]byte("PATH_INFO"), []byte("/caf\xc3\xa9"))
	f.Add([]byte(""), bytes.Repeat([]byte{0xff}, 300))
	f.Add([]byte("0{z"), []byte("a\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, key, value []byte) {
		b := AppendDictStart(nil)
		b = AppendBytes(b, key)
		b = AppendString(b, string(value))
		b = AppendDictEnd(b)

		if b[0] != '{' || b[len(b)-1] != '0' {
			t.Fatalf("dict = %q...%q; want '{' ... '0'", b[:1], b[len(b)-1:])
		}
		p := b[1 : len(b)-1]
		for _, want := range [][]byte{key, value} {
			var got []byte
			var ok bool
			got, p, ok = readStr(p)
			if !ok || !bytes.Equal(got, want) {
				t.Fatalf("string = %q (ok %v); want %q", got, ok, want)
			}
		}
		if len(p) != 0 {
			t.Fatalf("%d bytes left after the pair", len(p))
		}
	})
}

// readStr reads one 'z' or 'a' string as CPython's marshal would.
func readStr(p []byte) (s, rest []byte, ok bool) {
	if len(p) < 2 {
		return nil, nil, false
	}
	switch p[0] {
	case 'z':
		n := int(p[1])
		if len(p) < 2+n || n >= 256 {
			return nil, nil, false
		}
		return p[2 : 2+n], p[2+n:], true
	case 'a':
		if len(p) < 5 {
			return nil, nil, false
		}
		n := int(binary.LittleEndian.Uint32(p[1:]))
		if n < 256 || len(p) < 5+n {
			return nil, nil, false // 'a' is only used from 256 bytes on
		}
		return p[5 : 5+n], p[5+n:], true
	}
	return nil, nil, false
}
