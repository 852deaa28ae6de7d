package http1

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// dechunk reads in through a ChunkedReader, with a bufio.Reader of the
// given size, and returns the body, the error (nil for a clean io.EOF)
// and what is left in the stream.
func dechunk(in string, size int, lim *Limits) (body string, err error, rest string) {
	br := bufio.NewReaderSize(iotest.HalfReader(strings.NewReader(in)), size)
	b, err := io.ReadAll(NewChunkedReader(br, lim))
	left, _ := io.ReadAll(br)
	return string(b), err, string(left)
}

func TestChunkedReader(t *testing.T) {
	long := strings.Repeat("x", 5000)
	tests := []struct {
		in, body string
		want     int // 0: success; -1: io.ErrUnexpectedEOF; else *Error status
		rest     string
	}{
		// RFC 9112 §7.1 chunked-body = *chunk last-chunk trailer-section CRLF.
		{"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nNEXT", "hello world", 0, "NEXT"},
		{"0\r\n\r\n", "", 0, ""},
		{"000\r\n\r\n", "", 0, ""},
		{"0005\r\nhello\r\n0\r\n\r\n", "hello", 0, ""},        // leading zeros (1*HEXDIG)
		{"A\r\n0123456789\r\n0\r\n\r\n", "0123456789", 0, ""}, // HEXDIG is case-insensitive
		{"a\r\n0123456789\r\n0\r\n\r\n", "0123456789", 0, ""},
		{"1388\r\n" + long + "\r\n0\r\n\r\n", long, 0, ""},
		// RFC 9112 §7.1.1 chunk extensions are parsed and ignored.
		{"5; a; b=c\r\nhello\r\n0;x=\"y z\"\r\n\r\n", "hello", 0, ""},
		{"5 ; a = b\r\nhello\r\n0\r\n\r\n", "hello", 0, ""}, // BWS around ';' and '='
		{"5;a=\"q\\\"\"\r\nhello\r\n0\r\n\r\n", "hello", 0, ""},
		{"5;\r\nhello\r\n0\r\n\r\n", "", 400, ""},            // empty ext name
		{"5;a=\r\nhello\r\n0\r\n\r\n", "", 400, ""},          // empty ext value
		{"5;a=\"x\r\nhello\r\n0\r\n\r\n", "", 400, ""},       // unterminated quoted-string
		{"5;a b\r\nhello\r\n0\r\n\r\n", "", 400, ""},         // junk after a name
		{"5;ext=val\rue\r\nhello\r\n0\r\n\r\n", "", 400, ""}, // bare CR (corpus invalid/chunked_14)
		{"5;a=\"\x00\"\r\nhello\r\n0\r\n\r\n", "", 400, ""},
		{"5;" + strings.Repeat("a", MaxChunkLine) + "\r\nhello\r\n0\r\n\r\n", "", 400, ""}, // extension too long
		{"5;" + strings.Repeat("a", MaxChunkLine-5) + "\r\nhello\r\n0\r\n\r\n", "hello", 0, ""},
		// RFC 9112 §7.1 chunk-size = 1*HEXDIG: no sign, space, prefix or
		// underscore (corpus invalid/chunked_01, 09, 10, 12, 13, *_sign_01).
		{"6_0\r\n", "", 400, ""},
		{"0 \r\n\r\n", "", 400, ""},
		{" 0\r\n\r\n", "", 400, ""},
		{"\r\nhello\r\n0\r\n\r\n", "", 400, ""},
		{" ;foo=bar\r\nhello\r\n0\r\n\r\n", "", 400, ""},
		{"-5\r\nhello\r\n0\r\n\r\n", "", 400, ""},
		{"+5\r\nhello\r\n0\r\n\r\n", "", 400, ""},
		{"0x5\r\nhello\r\n0\r\n\r\n", "", 400, ""},
		// RFC 9112 §7.1: "prevent parsing errors due to integer conversion
		// overflows": at most 16 hex digits and the size fits an int64.
		{"ffffffffffffffffff\r\n", "", 400, ""},
		{"10000000000000000\r\n", "", 400, ""},
		{"8000000000000000\r\n", "", 400, ""},
		{"00000000000000000\r\n", "", 400, ""}, // 17 digits, even if zero
		{"7fffffffffffffff\r\n", "", -1, ""},   // fits; then the stream ends
		// RFC 9112 §2.2: CRLF only (corpus invalid/chunked_11).
		{"5\nhello\r\n0\r\n\r\n", "", 400, ""},
		{"5\n;\r\nhello\r\n0\r\n\r\n", "", 400, ""},
		// RFC 9112 §7.1: CRLF must follow the chunk data exactly.
		{"5\r\nhello0\r\n\r\n", "hello", 400, ""},
		{"5\r\nhelloXY0\r\n\r\n", "hello", 400, ""},
		{"5\r\nhello\n0\r\n\r\n", "hello", 400, ""},
		{"3\r\nhello\r\n0\r\n\r\n", "hel", 400, ""},
		// A stream that ends early is io.ErrUnexpectedEOF, never a short
		// body reported as complete (corpus rfc9112_chunked_missing_final_crlf_01).
		{"", "", -1, ""},
		{"5", "", -1, ""},
		{"5\r\nhel", "hel", -1, ""},
		{"5\r\nhello", "hello", -1, ""},
		{"5\r\nhello\r", "hello", -1, ""},
		{"5\r\nhello\r\n", "hello", -1, ""},
		{"0\r\n", "", -1, ""},
		{"0\r\nA: b\r\n", "", -1, ""},
		// RFC 9112 §7.1.2 trailer fields are validated and discarded.
		{"5\r\nhello\r\n0\r\nVary: *\r\nContent-Type: text/plain\r\n\r\nNEXT", "hello", 0, "NEXT"},
		{"0\r\nX_Y: 1\r\n\r\n", "", 0, ""},       // dropped like a header
		{"0\r\nX : 1\r\n\r\n", "", 400, ""},      // RFC 9112 §5.1
		{"0\r\nX: 1\r\n y\r\n\r\n", "", 400, ""}, // RFC 9112 §5.2 obs-fold
		{"0\r\nX: a\x00b\r\n\r\n", "", 400, ""},  // RFC 9110 §5.5
		{"0\r\nX: 1\n\r\n", "", 400, ""},         // RFC 9112 §2.2
		{"0\r\nX\r\n\r\n", "", 400, ""},          // no colon
		// RFC 9110 §6.5.1 fields that must not be trailers.
		{"0\r\nContent-Length: 99\r\n\r\n", "", 400, ""},
		{"0\r\ntransfer-encoding: chunked\r\n\r\n", "", 400, ""},
		{"0\r\nHOST: evil\r\n\r\n", "", 400, ""},
		{"0\r\nTrailer: x\r\n\r\n", "", 400, ""},
		{"0\r\nAuthorization: x\r\n\r\n", "", 400, ""},
		// ...but a forbidden name with '_' is just dropped.
		{"0\r\nContent_Length: 99\r\n\r\n", "", 0, ""},
		// Trailer size limits reuse Limits (431 like a header section).
		{"0\r\nX: " + strings.Repeat("v", 8185) + "\r\n\r\n", "", 0, ""},
		{"0\r\nX: " + strings.Repeat("v", 8186) + "\r\n\r\n", "", 431, ""},
		{"0\r\n" + strings.Repeat("X: 1\r\n", 100) + "\r\n", "", 0, ""},
		{"0\r\n" + strings.Repeat("X: 1\r\n", 101) + "\r\n", "", 431, ""},
	}
	for _, size := range []int{16, 4096} { // 16: lines longer than the bufio buffer
		for _, tt := range tests {
			body, err, rest := dechunk(tt.in, size, nil)
			var got int
			var he *Error
			switch {
			case err == nil:
			case errors.Is(err, io.ErrUnexpectedEOF):
				got = -1
			case errors.As(err, &he):
				got = he.Status
			default:
				got = -2
			}
			if got != tt.want || body != tt.body || got == 0 && rest != tt.rest {
				t.Errorf("dechunk(%.60q, bufsize %d) = %.30q, %v, rest %q; want %.30q, status %d, rest %q",
					tt.in, size, body, err, rest, tt.body, tt.want, tt.rest)
			}
		}
	}
}

func TestChunkedReaderSticky(t *testing.T) {
	cr := NewChunkedReader(bufio.NewReader(strings.NewReader("5\r\nhelloXX")), nil)
	b, err := io.ReadAll(cr)
	if string(b) != "hello" || err == nil {
		t.Fatalf("ReadAll = %q, %v; want hello, error", b, err)
	}
	if n, err2 := cr.Read(make([]byte, 10)); n != 0 || err2 != err {
		t.Errorf("Read after error = %d, %v; want 0, %v", n, err2, err)
	}

	// After io.EOF, EOF stays, and Reset makes the reader usable again.
	cr.Reset(bufio.NewReader(strings.NewReader("0\r\n\r\n")), nil)
	for i := 0; i < 2; i++ {
		if n, err := cr.Read(make([]byte, 10)); n != 0 || err != io.EOF {
			t.Errorf("Read %d = %d, %v; want 0, io.EOF", i, n, err)
		}
	}
	if n, err := cr.Read(nil); n != 0 || err != io.EOF {
		t.Errorf("Read(nil) at EOF = %d, %v; want 0, io.EOF", n, err)
	}
}

func TestChunkedReaderLimits(t *testing.T) {
	lim := &Limits{Fields: 1, FieldSize: 10, HeaderBlock: 15}
	tests := []struct {
		in   string
		want int
	}{
		{"0\r\nA: 12345\r\n\r\n", 0},       // 10-byte field line
		{"0\r\nA: 123456\r\n\r\n", 431},    // 11-byte field line
		{"0\r\nA: 1\r\nB: 2\r\n\r\n", 431}, // 2 fields
		{"0\r\nA: 12345\r\n\r\n", 0},       // 12 bytes of trailer section
	}
	for _, tt := range tests {
		_, err, _ := dechunk(tt.in, 4096, lim)
		if got := status(err); got != tt.want {
			t.Errorf("dechunk(%q, %+v) = %v; want status %d", tt.in, lim, err, tt.want)
		}
	}
	_, err, _ := dechunk("0\r\nA: 1234\r\nB: 1234\r\n\r\n", 4096, &Limits{FieldSize: 10, HeaderBlock: 15})
	if status(err) != 431 {
		t.Errorf("dechunk over HeaderBlock = %v; want status 431", err)
	}
}
