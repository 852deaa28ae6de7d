// Package h2guard reads an HTTP/2 client's bytes ahead of golang.org/x/net/http2's server and
// rewrites the few frames on which that server departs from RFC 9113, so that the client
// gets what the RFC asks for (h2spec checks each):
//
//   - A request whose header block carries a connection-specific field (Connection,
//     Keep-Alive, Proxy-Connection, Transfer-Encoding, Upgrade, or TE other than
//     "trailers") is malformed and must be a stream error of type PROTOCOL_ERROR (RFC 9113
//     §8.2.2, §8.1.1); x/net answers it with a 400 response instead. The guard decodes each
//     header block with an HPACK decoder of its own (in step with x/net's, as both decode
//     the same blocks) and marks such a HEADERS frame as depending on its own stream,
//     which x/net answers with RST_STREAM PROTOCOL_ERROR (RFC 9113 §5.3.1) before any
//     handler runs. The header block itself is passed on unchanged (only split over one
//     more frame when its HEADERS frame has no room for the 5 priority bytes), so x/net's
//     HPACK state stays right.
//   - A SETTINGS frame that names a setting twice must be processed in order (RFC 9113
//     §6.5.3); x/net closes the connection instead (a defence of its own). The guard
//     passes each setting's last value once, in the order of the first occurrence, which
//     leaves the connection in the same state.
//   - A request whose decoded header list (RFC 9113 §6.5.2: names, values and 32 bytes per
//     field, as x/net counts it) is over MaxHeaderList would be answered 431 by x/net's own
//     handler, which the server never sees (no access log line, no metrics). The guard marks
//     its HEADERS frame as self-dependent too, so that x/net resets the stream instead; the
//     server sets MaxHeaderList above the limit it advertises and answers the requests in
//     between 431 itself (internal/server/h2.go). With the connection-specific fields above,
//     this leaves x/net no status of its own to answer a request with.
//
// It also bounds what a client may ask of the connection without asking for a response
// (RFC 9113 §10.5: "an endpoint MAY treat activity that is suspicious as a connection
// error"): SETTINGS, PING, PRIORITY and RST_STREAM frames draw on a budget of
// ControlBurst frames that refills at ControlRate a second; a client that overdraws it (a
// SETTINGS or PING flood, CVE-2023-44487's rapid reset) gets a read error, which makes x/net
// close the connection. WINDOW_UPDATE frames are not counted: a client downloading fast
// sends many, and x/net ends an overflowing window itself (FLOW_CONTROL_ERROR).
//
// Anything the guard does not follow (a frame larger than the maximum, a header block it
// cannot decode, frames out of order) switches it to passing bytes through unread for the
// rest of the connection: x/net then reports the error itself, and ends the connection. The
// guard buffers one frame, and one header block of at most MaxHeaderList plus one frame's
// bytes: a longer block (a CONTINUATION flood, CVE-2024-27316) is a read error
// (ErrHeaderBlock), which ends the connection.
package h2guard

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Frame types and flags (RFC 9113 §6).
const (
	typeHeaders      = 0x1
	typePriority     = 0x2
	typeRSTStream    = 0x3
	typeSettings     = 0x4
	typePing         = 0x6
	typeGoAway       = 0x7
	typeContinuation = 0x9

	flagEndStream  = 0x1
	flagEndHeaders = 0x4
	flagPadded     = 0x8
	flagPriority   = 0x20
	flagAck        = 0x1
)

// The control-frame budget (see the package doc): a burst of ControlBurst frames, refilled
// at ControlRate a second. A browser sends a handful of SETTINGS, PING and RST_STREAM frames
// per page; h2spec a few dozen per connection.
const (
	ControlBurst = 1000
	ControlRate  = 100
)

// ErrFlood is the read error of a client that overdrew the control-frame budget.
var ErrFlood = errors.New("h2guard: too many control frames (SETTINGS, PING, PRIORITY, RST_STREAM)")

// ErrHeaderBlock is the read error of a client whose header block grew past the guard's
// bound (MaxHeaderList plus one frame's bytes).
var ErrHeaderBlock = errors.New("h2guard: header block too long")

// Limits are the connection's own settings, as x/net's server has them.
type Limits struct {
	MaxFrameSize uint32 // SETTINGS_MAX_FRAME_SIZE
	// MaxHeaderList is the header list size x/net decodes before it truncates a request and
	// answers 431 itself (its SETTINGS_MAX_HEADER_LIST_SIZE before the server rewrites it).
	MaxHeaderList  uint32
	HeaderTableMax uint32 // SETTINGS_HEADER_TABLE_SIZE (x/net's default 4096)
}

// TimeoutAction is what a Reader does when a read of the client's bytes times out: see
// Reader.OnTimeout.
type TimeoutAction int

const (
	// Fail returns the timeout to x/net, which ends the connection.
	Fail TimeoutAction = iota
	// Resume reads on (the caller cleared the deadline).
	Resume
	// GoAway hands x/net a GOAWAY (NO_ERROR) frame as from the client, and reads on (the
	// caller cleared the deadline). x/net answers it as it does its own idle timeout: a
	// GOAWAY of its own with the last stream it processed (RFC 9113 §6.8), and the close
	// once its streams are done. It ends an idle connection gracefully, which x/net has no
	// other way to be asked for, one connection at a time.
	GoAway
)

// ReadState is where a read of the client's bytes that timed out was: see Reader.OnTimeout.
type ReadState int

const (
	// Idle: waiting for the first byte of a frame, with no header block begun: nothing of
	// a request is on its way.
	Idle ReadState = iota
	// InBlock: waiting for the next frame of a header block: a request is arriving.
	InBlock
	// InFrame: in the middle of a frame. A Resume here asks again at the next frame's start
	// (with Idle or InBlock), once x/net has processed this frame.
	InFrame
)

// Reader is the guarded client stream: x/net reads it instead of the connection.
type Reader struct {
	// OnTimeout, when set, decides what a read of the client's bytes that timed out does
	// (a read deadline set to close an idle connection); GoAway counts only when Idle.
	// nil: Fail. Set before the first Read.
	OnTimeout func(ReadState) TimeoutAction
	recheck   bool // a timeout InFrame was resumed: ask OnTimeout again at the next frame

	src io.Reader
	lim Limits
	dec *hpack.Decoder

	out []byte // bytes ready for the reader: out[off:]
	off int

	preface int  // bytes of the client preface still to pass before the first frame
	pass    bool // passing bytes through unread from now on

	block       []byte // the frames of a header block buffered until END_HEADERS
	blockStream uint32
	malformed   bool // the block being decoded has a connection-specific field
	tooLong     bool // the block grew past MaxHeaderList plus one frame: the connection ends
	// listSize and trailerSize are the decoded size of the block so far, as x/net counts
	// it: each field's name, value and 32 bytes (RFC 9113 §6.5.2), the "trailer" field's
	// names counted as fields of their own in a budget apart.
	listSize, trailerSize uint64

	hdr     [9]byte
	payload []byte

	budget   float64   // control frames the client may still send now
	refilled time.Time // when budget was last refilled
}

// New guards src, whose first bytes are the client preface (RFC 9113 §3.4).
func New(src io.Reader, lim Limits) *Reader {
	if lim.HeaderTableMax == 0 {
		lim.HeaderTableMax = 4096
	}
	g := &Reader{src: src, lim: lim, preface: len(http2.ClientPreface), budget: ControlBurst}
	g.dec = hpack.NewDecoder(lim.HeaderTableMax, g.field)
	g.dec.SetMaxStringLength(int(lim.MaxHeaderList))
	return g
}

// Read returns the client's bytes, rewritten as the package doc says.
func (g *Reader) Read(p []byte) (int, error) {
	for g.off == len(g.out) {
		g.out, g.off = g.out[:0], 0
		if g.pass {
			return g.src.Read(p)
		}
		if err := g.next(); err != nil {
			if g.off < len(g.out) {
				break // give out what is ready; the error comes again on the next read
			}
			return 0, err
		}
	}
	n := copy(p, g.out[g.off:])
	g.off += n
	return n, nil
}

// next reads the preface or one frame and puts what x/net is to read in out (nothing while
// a header block is buffered).
func (g *Reader) next() error {
	if g.tooLong {
		return ErrHeaderBlock
	}
	if g.preface > 0 {
		buf := make([]byte, g.preface)
		n, err := io.ReadFull(g.src, buf)
		g.preface -= n
		g.out = append(g.out, buf[:n]...)
		return err
	}
	if n, err := g.readFull(g.hdr[:], true); err != nil {
		if err == errGoAway {
			g.out = append(g.out, clientGoAway[:]...)
			return nil
		}
		g.giveUp()
		g.out = append(g.out, g.hdr[:n]...) // a short read: what came of the header, if anything
		if err == io.ErrUnexpectedEOF {
			return io.EOF
		}
		return err
	}
	length := uint32(g.hdr[0])<<16 | uint32(g.hdr[1])<<8 | uint32(g.hdr[2])
	typ, flags := g.hdr[3], g.hdr[4]
	stream := binary.BigEndian.Uint32(g.hdr[5:9]) & (1<<31 - 1)
	if length > g.lim.MaxFrameSize {
		g.giveUp() // x/net answers FRAME_SIZE_ERROR
		g.out = append(g.out, g.hdr[:]...)
		return nil
	}
	if cap(g.payload) < int(length) {
		g.payload = make([]byte, length)
	}
	payload := g.payload[:length]
	if _, err := g.readFull(payload, false); err != nil {
		g.giveUp()
		return err
	}
	switch typ {
	case typeSettings, typePing:
		if flags&flagAck == 0 && !g.spend() {
			return ErrFlood
		}
	case typePriority, typeRSTStream:
		if !g.spend() {
			return ErrFlood
		}
	}
	if len(g.block) > 0 && typ != typeContinuation {
		g.giveUp() // RFC 9113 §6.10: only CONTINUATION may follow; x/net says so
		g.appendFrame(g.hdr[:], payload)
		return nil
	}
	switch typ {
	case typeSettings:
		g.settings(flags, stream, payload)
	case typeHeaders:
		g.headers(flags, stream, payload)
	case typeContinuation:
		g.continuation(flags, stream, payload)
		if g.tooLong {
			return ErrHeaderBlock
		}
	default:
		g.appendFrame(g.hdr[:], payload)
	}
	return nil
}

// clientGoAway is a GOAWAY frame (RFC 9113 §6.8) as from a client that opened no stream
// of the server's: last stream 0, NO_ERROR.
var clientGoAway = [9 + 8]byte{0, 0, 8, typeGoAway}

// errGoAway is readFull's report that OnTimeout asked for GoAway.
var errGoAway = errors.New("h2guard: go away")

// readFull reads len(p) bytes of the client's like io.ReadFull, asking OnTimeout what to do
// when a read times out. boundary says whether p is a frame's header.
func (g *Reader) readFull(p []byte, boundary bool) (int, error) {
	if boundary && g.recheck {
		g.recheck = false
		if g.OnTimeout(g.state(boundary, 0)) == GoAway && len(g.block) == 0 {
			return 0, errGoAway
		}
	}
	n := 0
	for {
		m, err := io.ReadFull(g.src, p[n:])
		n += m
		if err == nil || g.OnTimeout == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
			return n, err
		}
		state := g.state(boundary, n)
		switch g.OnTimeout(state) {
		case Resume:
			g.recheck = state == InFrame
		case GoAway:
			if state == Idle {
				return 0, errGoAway
			}
		default:
			return n, err
		}
	}
}

// state is where a read that timed out was, n bytes into a frame's header (boundary) or
// payload.
func (g *Reader) state(boundary bool, n int) ReadState {
	switch {
	case !boundary || n > 0:
		return InFrame
	case len(g.block) > 0:
		return InBlock
	}
	return Idle
}

// spend takes one control frame from the budget and reports whether there was one.
func (g *Reader) spend() bool {
	now := time.Now()
	if !g.refilled.IsZero() {
		g.budget = min(g.budget+now.Sub(g.refilled).Seconds()*ControlRate, ControlBurst)
	}
	g.refilled = now
	if g.budget < 1 {
		return false
	}
	g.budget--
	return true
}

// giveUp passes everything buffered and everything after it through unread.
func (g *Reader) giveUp() {
	g.out = append(g.out, g.block...)
	g.block = g.block[:0]
	g.pass = true
}

func (g *Reader) appendFrame(hdr, payload []byte) {
	g.out = append(g.out, hdr...)
	g.out = append(g.out, payload...)
}

// settings passes a SETTINGS frame with each setting once: its last value, at the place of
// its first occurrence.
func (g *Reader) settings(flags byte, stream uint32, payload []byte) {
	if flags&flagAck != 0 || stream != 0 || len(payload)%6 != 0 || len(payload) > 6*100 {
		g.appendFrame(g.hdr[:], payload) // x/net judges it
		return
	}
	var ids []uint16
	vals := map[uint16][]byte{}
	for i := 0; i < len(payload); i += 6 {
		id := binary.BigEndian.Uint16(payload[i:])
		if _, seen := vals[id]; !seen {
			ids = append(ids, id)
		}
		vals[id] = payload[i+2 : i+6]
	}
	if len(ids)*6 == len(payload) {
		g.appendFrame(g.hdr[:], payload)
		return
	}
	out := make([]byte, 0, len(ids)*6)
	for _, id := range ids {
		out = binary.BigEndian.AppendUint16(out, id)
		out = append(out, vals[id]...)
	}
	hdr := g.hdr
	hdr[0], hdr[1], hdr[2] = byte(len(out)>>16), byte(len(out)>>8), byte(len(out))
	g.appendFrame(hdr[:], out)
}

// headers starts a header block with a HEADERS frame.
func (g *Reader) headers(flags byte, stream uint32, payload []byte) {
	frag, ok := fragment(flags, payload)
	if !ok {
		g.giveUp()
		g.appendFrame(g.hdr[:], payload)
		return
	}
	g.blockStream, g.malformed, g.listSize, g.trailerSize = stream, false, 0, 0
	g.block = append(g.block[:0], g.hdr[:]...)
	g.block = append(g.block, payload...)
	g.decode(frag, flags)
}

// continuation goes on with the header block.
func (g *Reader) continuation(flags byte, stream uint32, payload []byte) {
	if len(g.block) == 0 || stream != g.blockStream {
		g.giveUp()
		g.appendFrame(g.hdr[:], payload)
		return
	}
	g.block = append(g.block, g.hdr[:]...)
	g.block = append(g.block, payload...)
	if len(g.block) > int(g.lim.MaxHeaderList)+int(g.lim.MaxFrameSize) {
		g.tooLong = true // a CONTINUATION flood (CVE-2024-27316): next returns ErrHeaderBlock
		return
	}
	g.decode(payload, flags)
}

// decode feeds a fragment to the decoder and, at the block's end, passes the block on,
// marked when it is malformed.
func (g *Reader) decode(frag []byte, flags byte) {
	if _, err := g.dec.Write(frag); err != nil {
		g.giveUp() // x/net answers COMPRESSION_ERROR
		return
	}
	if flags&flagEndHeaders == 0 {
		return
	}
	if err := g.dec.Close(); err != nil {
		g.giveUp()
		return
	}
	if over := uint64(g.lim.MaxHeaderList); g.malformed || g.listSize > over || g.trailerSize > over {
		g.markSelfDependent()
	}
	g.out = append(g.out, g.block...)
	g.block = g.block[:0]
}

// field notes a connection-specific field of the block being decoded (RFC 9113 §8.2.2), and
// counts the field's size as x/net does.
func (g *Reader) field(f hpack.HeaderField) {
	if f.Name == "trailer" {
		n := uint64(strings.Count(f.Value, ",") + 1)
		g.trailerSize += uint64(len(f.Value)) - n + 1 + n*32
	} else {
		g.listSize += uint64(f.Size())
	}
	switch f.Name {
	case "connection", "proxy-connection", "keep-alive", "transfer-encoding", "upgrade":
		g.malformed = true
	case "te":
		if f.Value != "trailers" {
			g.malformed = true
		}
	}
}

// markSelfDependent makes the block's HEADERS frame depend on its own stream: x/net answers
// RST_STREAM PROTOCOL_ERROR (RFC 9113 §5.3.1) and runs no handler. A frame already at the
// maximum size cannot take the 5 priority bytes: the block is split anew (splitMarked).
func (g *Reader) markSelfDependent() {
	b := g.block
	length := int(b[0])<<16 | int(b[1])<<8 | int(b[2])
	flags := b[4]
	at := 9
	if flags&flagPadded != 0 {
		at++
	}
	if flags&flagPriority != 0 {
		binary.BigEndian.PutUint32(b[at:], g.blockStream)
		return
	}
	if uint32(length+5) > g.lim.MaxFrameSize {
		g.block = g.splitMarked()
		return
	}
	prio := binary.BigEndian.AppendUint32(nil, g.blockStream)
	prio = append(prio, 0) // weight
	nb := make([]byte, 0, len(b)+5)
	nb = append(nb, b[:at]...)
	nb = append(nb, prio...)
	nb = append(nb, b[at:]...)
	length += 5
	nb[0], nb[1], nb[2] = byte(length>>16), byte(length>>8), byte(length)
	nb[4] |= flagPriority
	g.block = nb
}

// splitMarked returns the buffered block as a self-dependent HEADERS frame and as many
// CONTINUATION frames as its fragment needs at the maximum frame size, without padding
// (RFC 9113 §6.2, §6.10): the same header block, so x/net's HPACK state stays in step.
func (g *Reader) splitMarked() []byte {
	var frag []byte
	first := g.block[4]
	for b := g.block; len(b) >= 9; {
		length := int(b[0])<<16 | int(b[1])<<8 | int(b[2])
		payload := b[9 : 9+length]
		if b[3] == typeHeaders {
			payload, _ = fragment(b[4], payload)
		}
		frag = append(frag, payload...)
		b = b[9+length:]
	}
	max := int(g.lim.MaxFrameSize)
	out := make([]byte, 0, len(frag)+5+9*(len(frag)/max+2))
	appendHeader := func(length int, typ, flags byte) {
		out = append(out, byte(length>>16), byte(length>>8), byte(length), typ, flags)
		out = binary.BigEndian.AppendUint32(out, g.blockStream)
	}
	n := min(len(frag), max-5)
	flags := first&flagEndStream | flagPriority
	if n == len(frag) {
		flags |= flagEndHeaders
	}
	appendHeader(n+5, typeHeaders, flags)
	out = binary.BigEndian.AppendUint32(out, g.blockStream)
	out = append(out, 0) // weight
	out = append(out, frag[:n]...)
	for frag = frag[n:]; len(frag) > 0; frag = frag[n:] {
		n = min(len(frag), max)
		flags = 0
		if n == len(frag) {
			flags = flagEndHeaders
		}
		appendHeader(n, typeContinuation, flags)
		out = append(out, frag[:n]...)
	}
	return out
}

// fragment returns the header block fragment of a HEADERS frame's payload (RFC 9113 §6.2).
func fragment(flags byte, p []byte) ([]byte, bool) {
	pad := 0
	if flags&flagPadded != 0 {
		if len(p) < 1 {
			return nil, false
		}
		pad = int(p[0])
		p = p[1:]
	}
	if flags&flagPriority != 0 {
		if len(p) < 5 {
			return nil, false
		}
		p = p[5:]
	}
	if pad > len(p) {
		return nil, false
	}
	return p[:len(p)-pad], true
}

// Advertise returns the server's bytes p with the value of setting id in the SETTINGS frame
// that p begins with replaced by val, or nil when p does not begin with a whole SETTINGS
// frame that has the setting. The server's connection preface is a SETTINGS frame, the first
// frame it sends (RFC 9113 §3.4), so that the server can advertise a limit (RFC 9113 §6.5.2)
// other than the one x/net enforces itself.
func Advertise(p []byte, id http2.SettingID, val uint32) []byte {
	if len(p) < 9 || p[3] != typeSettings || p[4]&flagAck != 0 {
		return nil
	}
	length := int(p[0])<<16 | int(p[1])<<8 | int(p[2])
	if length%6 != 0 || len(p) < 9+length {
		return nil
	}
	for at := 9; at < 9+length; at += 6 {
		if binary.BigEndian.Uint16(p[at:]) == uint16(id) {
			q := bytes.Clone(p)
			binary.BigEndian.PutUint32(q[at+2:], val)
			return q
		}
	}
	return nil
}
