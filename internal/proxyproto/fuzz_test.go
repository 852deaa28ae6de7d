package proxyproto

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzParse feeds arbitrary bytes: Parse must never panic; it fails only with ErrNeedMore,
// ErrNoHeader or an *Error; a header it accepts is within the size limits, ends where a
// header can end, has addresses of the right family, and parses the same without the bytes
// after it. Seeds: the corpus's pp_* cases and the table tests' headers.
//
//	go test ./internal/proxyproto -run '^$' -fuzz FuzzParse -fuzztime 2m
func FuzzParse(f *testing.F) {
	for _, raw := range corpusPP(f) {
		f.Add(raw)
	}
	f.Add([]byte("PROXY TCP6 2001:db8::1 ::1 1 65535\r\n"))
	f.Add([]byte("PROXY UNKNOWN\r\n"))
	f.Add([]byte(v2(0x21, 0x11, append(append([]byte{}, tcp4Addrs...), 0x04, 0, 2, 0, 0)...)))
	f.Add([]byte(v2(0x20, 0x00)))
	f.Fuzz(func(t *testing.T, b []byte) {
		var h Header
		n, err := Parse(b, &h)
		if err != nil {
			var pe *Error
			if n != 0 || (err != ErrNeedMore && err != ErrNoHeader && !errors.As(err, &pe)) {
				t.Fatalf("Parse = %d, %v (%T)", n, err, err)
			}
			return
		}
		if n <= 0 || n > len(b) {
			t.Fatalf("Parse = %d for %d bytes", n, len(b))
		}
		switch h.Version {
		case 1:
			if n > MaxV1 || !bytes.HasSuffix(b[:n], []byte("\r\n")) || !bytes.HasPrefix(b, []byte("PROXY ")) {
				t.Fatalf("v1 header of %d bytes %q", n, b[:n])
			}
		case 2:
			if n < 16 || n > MaxV2 || !bytes.HasPrefix(b, v2Sig) {
				t.Fatalf("v2 header of %d bytes", n)
			}
		default:
			t.Fatalf("version %d", h.Version)
		}
		if h.Local != !h.Source.IsValid() || h.Local != !h.Dest.IsValid() {
			t.Fatalf("Local %v with source %v, dest %v", h.Local, h.Source, h.Dest)
		}
		if !h.Local && (h.Source.Addr().Is4() != h.Dest.Addr().Is4() || h.Source.Addr().Zone() != "") {
			t.Fatalf("mixed or zoned addresses %v, %v", h.Source, h.Dest)
		}
		var h2 Header
		if n2, err2 := Parse(b[:n], &h2); n2 != n || err2 != nil || h2 != h {
			t.Fatalf("Parse(header only) = %d, %+v, %v; want %d, %+v", n2, h2, err2, n, h)
		}
	})
}
