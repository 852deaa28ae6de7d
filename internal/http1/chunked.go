package http1

import (
	"bufio"
	"io"
	"math"
)

// MaxChunkLine caps one chunk-size line, chunk extensions and CRLF
// included. RFC 9112 §7.1.1 lets a server limit extensions; without a cap a
// client could make us scan an endless line (compare CVE-2023-39326, where
// Go's net/http had to start bounding chunk extension overhead).
const MaxChunkLine = 4096

// maxHexDigits is the most hex digits of a chunk-size we read: 16 digits
// are 64 bits, and the value must also fit an int64 (RFC 9112 §7.1: "a
// recipient MUST anticipate potentially large hexadecimal numerals and
// prevent parsing errors due to integer conversion overflows").
const maxHexDigits = 16

var (
	errChunkSize      = &Error{400, "invalid chunk size"}
	errChunkExt       = &Error{400, "invalid chunk extension"}
	errChunkLineLong  = &Error{400, "chunk line too long"}
	errChunkCRLF      = &Error{400, "missing CRLF after chunk data"}
	errTrailerName    = &Error{400, "forbidden trailer field"}
	errTrailerTooMany = &Error{431, "too many trailer fields"}
	errTrailerLong    = &Error{431, "trailer field too long"}
	errTrailerLarge   = &Error{431, "trailer section too large"}
)

// chunkState is where a ChunkedReader is in the body.
type chunkState uint8

const (
	stateSize chunkState = iota // before a chunk-size line
	stateData                   // inside chunk data; n bytes remain
	stateCRLF                   // after chunk data, before its CRLF
	stateDone                   // last chunk and trailer section consumed
)

// ChunkedReader de-chunks a chunked request body (RFC 9112 §7.1) read from
// a *bufio.Reader. Read returns io.EOF once the last chunk and the trailer
// section are consumed, leaving r at the next request. Trailer fields are
// validated and discarded. Malformed framing gives an *Error with status
// 400 (431 for an oversized trailer section); a stream that ends early gives
// io.ErrUnexpectedEOF. Errors are sticky.
//
// The zero ChunkedReader is not usable; use NewChunkedReader or Reset.
type ChunkedReader struct {
	r     *bufio.Reader
	lim   Limits     // normalised limits for the trailer section
	state chunkState // position in the body
	n     int64      // bytes left in the current chunk (stateData)
	err   error      // sticky error, io.EOF when done
	line  []byte     // scratch for lines longer than r's buffer; reused across Reset
}

// NewChunkedReader returns a ChunkedReader reading from r. lim bounds the
// trailer section like a header section; nil means the defaults.
func NewChunkedReader(r *bufio.Reader, lim *Limits) *ChunkedReader {
	cr := new(ChunkedReader)
	cr.Reset(r, lim)
	return cr
}

// Reset makes cr read a new chunked body from r, keeping its scratch buffer.
func (cr *ChunkedReader) Reset(r *bufio.Reader, lim *Limits) {
	*cr = ChunkedReader{r: r, lim: lim.norm(), line: cr.line[:0]}
}

// Read reads de-chunked body bytes into p.
func (cr *ChunkedReader) Read(p []byte) (int, error) {
	for cr.err == nil {
		switch cr.state {
		case stateSize:
			size, err := cr.readSize()
			if err != nil {
				return 0, cr.fail(err)
			}
			if size == 0 {
				// RFC 9112 §7.1: last-chunk, then the trailer section.
				if err := cr.readTrailers(); err != nil {
					return 0, cr.fail(err)
				}
				cr.state = stateDone
				cr.err = io.EOF
				return 0, io.EOF
			}
			cr.n, cr.state = size, stateData
		case stateData:
			if len(p) == 0 {
				return 0, nil
			}
			if int64(len(p)) > cr.n {
				p = p[:cr.n]
			}
			n, err := cr.r.Read(p)
			cr.n -= int64(n)
			if cr.n == 0 {
				cr.state = stateCRLF
			}
			if n > 0 {
				return n, nil // a read error shows again on the next call
			}
			if err == nil {
				continue
			}
			return 0, cr.fail(err)
		case stateCRLF:
			// RFC 9112 §7.1: chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF.
			// Exactly CRLF must follow the data; anything else means the
			// sender and we disagree on the chunk size.
			if err := cr.expect('\r'); err != nil {
				return 0, cr.fail(err)
			}
			if err := cr.expect('\n'); err != nil {
				return 0, cr.fail(err)
			}
			cr.state = stateSize
		default:
			return 0, cr.fail(io.EOF)
		}
	}
	return 0, cr.err
}

// fail records err as the sticky error, turning an early EOF into
// io.ErrUnexpectedEOF.
func (cr *ChunkedReader) fail(err error) error {
	if err == io.EOF && cr.state != stateDone {
		err = io.ErrUnexpectedEOF
	}
	cr.err = err
	return err
}

// expect reads one byte that must be c.
func (cr *ChunkedReader) expect(c byte) error {
	b, err := cr.r.ReadByte()
	if err != nil {
		return err
	}
	if b != c {
		return errChunkCRLF
	}
	return nil
}

// readLine reads one line, LF included, of at most max bytes. The result
// is valid until the next read from cr.r. tooLong is returned if the line
// is longer.
func (cr *ChunkedReader) readLine(max int, tooLong error) ([]byte, error) {
	line, err := cr.r.ReadSlice('\n')
	if err == nil {
		if len(line) > max {
			return nil, tooLong
		}
		return line, nil
	}
	if err != bufio.ErrBufferFull {
		return nil, err
	}
	// The line is longer than r's buffer: gather it in cr.line.
	cr.line = append(cr.line[:0], line...)
	for {
		if len(cr.line) >= max {
			return nil, tooLong // at least one more byte (the LF) is to come
		}
		line, err = cr.r.ReadSlice('\n')
		cr.line = append(cr.line, line...)
		if err == nil {
			if len(cr.line) > max {
				return nil, tooLong
			}
			return cr.line, nil
		}
		if err != bufio.ErrBufferFull {
			return nil, err
		}
	}
}

// crlfLine strips the CRLF from a line read by readLine, or reports a bare
// LF (RFC 9112 §2.2; corpus invalid/chunked_11).
func crlfLine(line []byte) ([]byte, bool) {
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, false
	}
	return line[:len(line)-2], true
}

// readSize reads a chunk-size line (RFC 9112 §7.1, §7.1.1):
//
//	chunk-size [ chunk-ext ] CRLF
//	chunk-size = 1*HEXDIG
//	chunk-ext  = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//
// Extensions are checked and ignored.
func (cr *ChunkedReader) readSize() (int64, error) {
	line, err := cr.readLine(MaxChunkLine, errChunkLineLong)
	if err != nil {
		return 0, err
	}
	line, ok := crlfLine(line)
	if !ok {
		return 0, errChunkSize
	}
	// 1*HEXDIG with no sign, no whitespace before it and no underscore
	// (corpus invalid/chunked_01, 10, 12, 13, rfc9112_chunked_size_*_sign_01).
	var size uint64
	i := 0
	for ; i < len(line); i++ {
		v, ok := Unhex(line[i])
		if !ok {
			break
		}
		if i == maxHexDigits {
			return 0, errChunkSize
		}
		size = size<<4 | uint64(v)
	}
	if i == 0 || size > math.MaxInt64 {
		return 0, errChunkSize
	}
	if !validChunkExt(line[i:]) {
		if i < len(line) && line[i] != ';' && line[i] != ' ' && line[i] != '\t' {
			return 0, errChunkSize // e.g. "6_0": gunicorn's InvalidChunkSize
		}
		return 0, errChunkExt
	}
	return int64(size), nil
}

// validChunkExt checks chunk-ext (RFC 9112 §7.1.1). BWS is allowed only
// around ';' and '=', so "0 " with trailing whitespace and nothing after it
// is refused (corpus invalid/chunked_09), and a bare CR inside is refused
// (invalid/chunked_14).
func validChunkExt(b []byte) bool {
	for len(b) > 0 {
		b = skipBWS(b)
		if len(b) == 0 || b[0] != ';' {
			return false
		}
		b = skipBWS(b[1:])
		n := tokenLen(b) // chunk-ext-name = token
		if n == 0 {
			return false
		}
		b = b[n:]
		if rest := skipBWS(b); len(rest) > 0 && rest[0] == '=' {
			rest = skipBWS(rest[1:])
			if len(rest) > 0 && rest[0] == '"' {
				n = quotedStringLen(rest)
			} else {
				n = tokenLen(rest)
			}
			if n == 0 {
				return false
			}
			b = rest[n:]
		}
	}
	return true
}

func skipBWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

// tokenLen returns the length of the token at the start of b.
func tokenLen(b []byte) int {
	n := 0
	for n < len(b) && charClass[b[n]]&classToken != 0 {
		n++
	}
	return n
}

// quotedStringLen returns the length of the quoted-string (RFC 9110
// §5.6.4) at the start of b, quotes included, or 0 if it is malformed.
func quotedStringLen(b []byte) int {
	for i := 1; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1
		case c == '\\':
			// quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
			if i+1 == len(b) || charClass[b[i+1]]&classFieldValue == 0 {
				return 0
			}
			i++
		case charClass[c]&classFieldValue == 0:
			return 0 // qdtext excludes CTLs and DEL
		}
	}
	return 0
}

// readTrailers reads the trailer section after the last chunk (RFC 9112
// §7.1.2), with the limits of a header section.
func (cr *ChunkedReader) readTrailers() error {
	fields, total := 0, 0
	for {
		line, err := cr.readLine(cr.lim.FieldSize, errTrailerLong)
		if err != nil {
			return err
		}
		total += len(line)
		if total > cr.lim.HeaderBlock {
			return errTrailerLarge
		}
		line, ok := crlfLine(line)
		if !ok {
			return errBareLF // RFC 9112 §2.2
		}
		if len(line) == 0 {
			return nil
		}
		fields++
		if fields > cr.lim.Fields {
			return errTrailerTooMany
		}
		name, _, drop, err := parseField(line)
		if err != nil {
			return err
		}
		if !drop && forbiddenTrailer(name) {
			return errTrailerName
		}
	}
}

// forbiddenTrailer reports whether a field must not appear in a trailer
// section. RFC 9110 §6.5.1 forbids fields needed before the content is
// processed: framing, routing, authentication, request modifiers and
// connection control. Accepting them invites smuggling if anything
// downstream merges trailers into the header
// (corpus invalid/rfc9110_trailer_forbidden_cl_01, _host_01, _te_01).
// Content-Type is allowed although it describes the content: gunicorn
// accepts it (corpus valid/012), and trailers are discarded anyway.
func forbiddenTrailer(name []byte) bool {
	for _, f := range forbiddenTrailers {
		if equalFold(name, f) {
			return true
		}
	}
	return false
}

var forbiddenTrailers = [...]string{
	// framing, RFC 9112 §6
	"content-length", "transfer-encoding", "trailer",
	// routing, RFC 9110 §7.2
	"host",
	// connection control, RFC 9110 §7.6
	"connection", "keep-alive", "upgrade", "te",
	// request modifiers, RFC 9110 §10.1 and §13
	"expect", "max-forwards", "range", "if-match", "if-none-match",
	"if-modified-since", "if-unmodified-since", "if-range",
	"cache-control", "pragma",
	// authentication, RFC 9110 §11
	"authorization", "proxy-authorization", "cookie",
	// content coding, RFC 9110 §8.4
	"content-encoding", "content-range",
}
