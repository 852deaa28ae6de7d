package h2guard

import (
	"bytes"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

var lim = Limits{MaxFrameSize: 16384, MaxHeaderList: 65536}

// client writes a client's bytes: the preface, then frames.
type client struct {
	buf bytes.Buffer
	fr  *http2.Framer
	enc *hpack.Encoder
	hb  bytes.Buffer
}

func newClient() *client {
	c := &client{}
	c.buf.WriteString(http2.ClientPreface)
	c.fr = http2.NewFramer(&c.buf, nil)
	c.enc = hpack.NewEncoder(&c.hb)
	return c
}

func (c *client) block(fields ...string) []byte {
	c.hb.Reset()
	for i := 0; i < len(fields); i += 2 {
		c.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	return bytes.Clone(c.hb.Bytes())
}

// frames reads what the guard passes on, as frames, after checking the preface.
func frames(t *testing.T, in []byte) []any {
	t.Helper()
	out, err := io.ReadAll(New(bytes.NewReader(in), lim))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, []byte(http2.ClientPreface)) {
		t.Fatalf("preface not passed on: %q", out[:min(len(out), 24)])
	}
	fr := http2.NewFramer(nil, bytes.NewReader(out[len(http2.ClientPreface):]))
	var fs []any
	for {
		f, err := fr.ReadFrame()
		if err == io.EOF {
			return fs
		}
		if err != nil {
			t.Fatalf("reading the guard's output: %v", err)
		}
		switch f := f.(type) {
		case *http2.HeadersFrame:
			fs = append(fs, &http2.HeadersFrame{FrameHeader: f.FrameHeader, Priority: f.Priority})
		case *http2.SettingsFrame:
			var ss []http2.Setting
			f.ForeachSetting(func(s http2.Setting) error { ss = append(ss, s); return nil })
			fs = append(fs, settingsOf(ss))
		default:
			fs = append(fs, f)
		}
	}
}

// settingsOf is a SETTINGS frame's settings, in order.
type settingsOf []http2.Setting

// RFC 9113 §8.2.2: a connection-specific field makes the request malformed, which must be a
// stream error: its HEADERS frame is marked as depending on itself (§5.3.1), and the block
// is passed on unchanged. A valid request and TE: trailers pass untouched.
func TestConnectionSpecificFields(t *testing.T) {
	base := []string{":method", "GET", ":scheme", "https", ":path", "/", ":authority", "h"}
	for _, tc := range []struct {
		extra     []string
		malformed bool
	}{
		{nil, false},
		{[]string{"te", "trailers"}, false},
		{[]string{"connection", "keep-alive"}, true},
		{[]string{"te", "gzip"}, true},
		{[]string{"transfer-encoding", "chunked"}, true},
		{[]string{"upgrade", "h2c"}, true},
		{[]string{"keep-alive", "5"}, true},
		{[]string{"proxy-connection", "x"}, true},
	} {
		c := newClient()
		blk := c.block(append(base, tc.extra...)...)
		c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk, EndStream: true, EndHeaders: true})
		fs := frames(t, c.buf.Bytes())
		if len(fs) != 1 {
			t.Fatalf("%v: %d frames; want 1", tc.extra, len(fs))
		}
		h := fs[0].(*http2.HeadersFrame)
		self := h.Flags.Has(http2.FlagHeadersPriority) && h.Priority.StreamDep == 1
		if self != tc.malformed {
			t.Errorf("%v: self-dependent = %v; want %v", tc.extra, self, tc.malformed)
		}
	}
}

// A malformed block split over CONTINUATION frames, with padding and a priority of its own:
// the priority is made self-dependent in place; the HPACK state of later blocks is kept.
func TestContinuationAndPriority(t *testing.T) {
	c := newClient()
	blk := c.block(":method", "GET", ":scheme", "https", ":path", "/", ":authority", "h", "connection", "close")
	c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: blk[:5], PadLength: 3,
		Priority: http2.PriorityParam{StreamDep: 0, Weight: 15}})
	c.fr.WriteContinuation(3, true, blk[5:])
	// The next request reuses the dynamic table: decoding must still be in step.
	blk2 := c.block(":method", "GET", ":scheme", "https", ":path", "/", ":authority", "h")
	c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 5, BlockFragment: blk2, EndStream: true, EndHeaders: true})
	fs := frames(t, c.buf.Bytes())
	if len(fs) != 3 {
		t.Fatalf("%d frames; want 3", len(fs))
	}
	if h := fs[0].(*http2.HeadersFrame); h.Priority.StreamDep != 3 || h.Priority.Weight != 15 {
		t.Errorf("first HEADERS priority %+v; want a dependency on stream 3, weight 15", h.Priority)
	}
	if h := fs[2].(*http2.HeadersFrame); h.Flags.Has(http2.FlagHeadersPriority) {
		t.Errorf("the valid request's HEADERS was marked: %+v", h.FrameHeader)
	}
}

// RFC 9113 §6.5.3: settings are processed in order; a repeated one passes once, with its
// last value, where it first appeared.
func TestSettingsDuplicates(t *testing.T) {
	c := newClient()
	c.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 100},
		http2.Setting{ID: http2.SettingMaxFrameSize, Val: 20000},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1})
	c.fr.WriteSettings(http2.Setting{ID: http2.SettingEnablePush, Val: 0})
	fs := frames(t, c.buf.Bytes())
	want := []http2.Setting{{ID: http2.SettingInitialWindowSize, Val: 1}, {ID: http2.SettingMaxFrameSize, Val: 20000}}
	if got := fs[0].(settingsOf); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("settings %v; want %v", got, want)
	}
	if got := fs[1].(settingsOf); len(got) != 1 || got[0].ID != http2.SettingEnablePush {
		t.Errorf("second SETTINGS %v; want ENABLE_PUSH unchanged", got)
	}
}

// A frame over the maximum size is passed on as it is, and so is everything after it: x/net
// answers FRAME_SIZE_ERROR.
func TestOversizeFramePassesThrough(t *testing.T) {
	c := newClient()
	c.fr.WriteData(1, false, make([]byte, 20000))
	c.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1}, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 2})
	in := c.buf.Bytes()
	out, err := io.ReadAll(New(bytes.NewReader(in), lim))
	if err != nil || !bytes.Equal(out, in) {
		t.Errorf("oversize frame: output differs from input (%d vs %d bytes), %v", len(out), len(in), err)
	}
}

// RFC 9113 §10.5: a flood of control frames overdraws the budget and ends the stream of
// bytes with ErrFlood; a client within it reads on.
func TestControlBudget(t *testing.T) {
	c := newClient()
	for i := range ControlBurst {
		c.fr.WritePing(false, [8]byte{byte(i)})
	}
	if _, err := io.ReadAll(New(bytes.NewReader(c.buf.Bytes()), lim)); err != nil {
		t.Errorf("%d PINGs: %v; want them passed", ControlBurst, err)
	}
	for range 10 {
		c.fr.WriteRSTStream(1, http2.ErrCodeCancel)
	}
	if _, err := io.ReadAll(New(bytes.NewReader(c.buf.Bytes()), lim)); err != ErrFlood {
		t.Errorf("%d control frames at once: %v; want ErrFlood", ControlBurst+10, err)
	}
}

// metaHeaders reads the guard's output of in (under l) as x/net's server would: each header
// block whole and decoded, with its HEADERS frame's priority.
func metaHeaders(t *testing.T, in []byte, l Limits) []*http2.MetaHeadersFrame {
	t.Helper()
	out, err := io.ReadAll(New(bytes.NewReader(in), l))
	if err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(nil, bytes.NewReader(out[len(http2.ClientPreface):]))
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	fr.MaxHeaderListSize = 1 << 20
	var hs []*http2.MetaHeadersFrame
	for {
		f, err := fr.ReadFrame()
		if err == io.EOF {
			return hs
		}
		if err != nil {
			t.Fatalf("reading the guard's output: %v", err)
		}
		if h, ok := f.(*http2.MetaHeadersFrame); ok {
			hs = append(hs, h)
		}
	}
}

// A request whose header list is over MaxHeaderList, counted as x/net counts it (name, value
// and 32 bytes a field, RFC 9113 §6.5.2), is marked self-dependent, so that x/net resets it
// rather than answer 431 from its own handler, which the server's logs never see. A list of
// exactly MaxHeaderList passes.
func TestHeaderListOverLimit(t *testing.T) {
	l := Limits{MaxFrameSize: 16384, MaxHeaderList: 4096}
	base := []string{":method", "GET", ":scheme", "https", ":path", "/", ":authority", "h"}
	size := 0
	for i := 0; i < len(base); i += 2 {
		size += len(base[i]) + len(base[i+1]) + 32
	}
	for _, tc := range []struct {
		extra int // the size of one more field, "x-big"
		over  bool
	}{
		{4096 - size, false},
		{4096 - size + 1, true},
		{3 * 4096, true}, // in 3 fields: one value over MaxHeaderList is a decoding error (x/net's too)
	} {
		fields := append([]string(nil), base...)
		for n := 3; n > 0; n-- {
			if tc.extra <= 4096 {
				n = 1
			}
			fields = append(fields, "x-big", strings.Repeat("v", tc.extra/n-len("x-big")-32))
			tc.extra -= tc.extra / n
		}
		c := newClient()
		c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: c.block(fields...), EndStream: true, EndHeaders: true})
		hs := metaHeaders(t, c.buf.Bytes(), l)
		if len(hs) != 1 {
			t.Fatalf("%d fields: %d header blocks; want 1", len(fields)/2, len(hs))
		}
		if self := hs[0].HasPriority() && hs[0].Priority.StreamDep == 1; self != tc.over {
			t.Errorf("%d fields over %d bytes: self-dependent = %v; want %v", len(fields)/2, size, self, tc.over)
		}
	}
}

// A malformed request whose HEADERS frame is at the maximum frame size has no room for the
// priority: the block is split over one more frame (RFC 9113 §6.10), marked, and decodes to
// the same fields, with END_STREAM kept and the padding dropped.
func TestMarkFullFrame(t *testing.T) {
	for _, pad := range []uint8{0, 7} {
		fields := []string{":method", "GET", ":scheme", "https", ":path", "/", ":authority", "h", "connection", "close"}
		// A filler field that brings the frame's payload to exactly 16384 bytes, found with
		// a fresh encoder each time (encoding changes the encoder's dynamic table).
		room := 16384 - int(pad) - boolInt(pad > 0)
		var c *client
		var blk []byte
		filler := room
		for filler > 0 {
			c = newClient()
			blk = c.block(append(fields, "x", strings.Repeat("~", filler))...) // "~": no Huffman coding
			if len(blk) <= room {
				break
			}
			filler -= len(blk) - room
		}
		if len(blk) != room {
			t.Fatalf("pad %d: a block of %d bytes; want %d", pad, len(blk), room)
		}
		c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk, EndStream: true, EndHeaders: true, PadLength: pad})
		hs := metaHeaders(t, c.buf.Bytes(), Limits{MaxFrameSize: 16384, MaxHeaderList: 65536})
		if len(hs) != 1 {
			t.Fatalf("pad %d: %d header blocks; want 1", pad, len(hs))
		}
		h := hs[0]
		if !h.HasPriority() || h.Priority.StreamDep != 1 || !h.StreamEnded() {
			t.Errorf("pad %d: priority %v %+v, END_STREAM %v; want self-dependent, ended", pad, h.HasPriority(), h.Priority, h.StreamEnded())
		}
		if got := len(h.Fields); got != len(fields)/2+1 || h.Fields[4].Name != "connection" || len(h.Fields[5].Value) != filler {
			t.Errorf("pad %d: %d fields decoded; want the %d sent", pad, got, len(fields)/2+1)
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// A header block that grows past MaxHeaderList plus one frame (a CONTINUATION flood,
// CVE-2024-27316) ends the client's bytes with ErrHeaderBlock.
func TestContinuationFloodEnds(t *testing.T) {
	c := newClient()
	c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: c.block(":method", "GET", ":scheme", "https", ":path", "/", ":authority", "h")})
	junk := bytes.Repeat(c.block("x-junk", strings.Repeat("j", 1000)), 15) // literal fields with incremental indexing
	for range 10 {
		c.fr.WriteContinuation(1, false, junk)
	}
	if _, err := io.ReadAll(New(bytes.NewReader(c.buf.Bytes()), Limits{MaxFrameSize: 16384, MaxHeaderList: 65536})); err != ErrHeaderBlock {
		t.Errorf("160 KB of CONTINUATION: %v; want ErrHeaderBlock", err)
	}
}

// scripted is a client's bytes with read timeouts between them: each nil chunk is one read
// that times out (os.ErrDeadlineExceeded).
type scripted struct{ chunks [][]byte }

func (s *scripted) Read(p []byte) (int, error) {
	if len(s.chunks) == 0 {
		return 0, io.EOF
	}
	c := s.chunks[0]
	if c == nil {
		s.chunks = s.chunks[1:]
		return 0, os.ErrDeadlineExceeded
	}
	n := copy(p, c)
	if s.chunks[0] = c[n:]; len(s.chunks[0]) == 0 {
		s.chunks = s.chunks[1:]
	}
	return n, nil
}

// A read that times out asks OnTimeout where it was: between frames (Idle), where GoAway
// hands x/net a client GOAWAY (NO_ERROR); in a header block (InBlock); in a frame (InFrame),
// after which the guard asks again at the next frame's start. Resume reads on, losing nothing.
func TestOnTimeout(t *testing.T) {
	c := newClient()
	c.fr.WriteWindowUpdate(0, 100)
	wu := bytes.Clone(c.buf.Bytes())
	c.buf.Reset()
	c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: c.block(":method", "GET", ":scheme", "https", ":path", "/", ":authority", "h")})
	headers := bytes.Clone(c.buf.Bytes())
	c.buf.Reset()
	c.fr.WriteContinuation(1, true, nil)
	cont := bytes.Clone(c.buf.Bytes())

	src := &scripted{chunks: [][]byte{wu[:len(http2.ClientPreface)+9], nil, wu[len(http2.ClientPreface)+9:], // in a frame
		headers, nil, cont, // in a block
		nil, // between frames: GoAway
		nil, // between frames again: Resume
	}}
	var asked []ReadState
	g := New(src, lim)
	g.OnTimeout = func(at ReadState) TimeoutAction {
		asked = append(asked, at)
		if at == Idle && len(asked) == 4 {
			return GoAway
		}
		return Resume
	}
	out, err := io.ReadAll(g)
	if err != nil {
		t.Fatal(err)
	}
	if want := []ReadState{InFrame, Idle, InBlock, Idle, Idle}; !slices.Equal(asked, want) {
		t.Errorf("OnTimeout asked with %v; want %v", asked, want)
	}
	fr := http2.NewFramer(nil, bytes.NewReader(out[len(http2.ClientPreface):]))
	var types []http2.FrameType
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			break
		}
		types = append(types, f.Header().Type)
		if ga, ok := f.(*http2.GoAwayFrame); ok && (ga.ErrCode != http2.ErrCodeNo || ga.LastStreamID != 0) {
			t.Errorf("GOAWAY %v, last stream %d; want NO_ERROR, 0", ga.ErrCode, ga.LastStreamID)
		}
	}
	if want := []http2.FrameType{http2.FrameWindowUpdate, http2.FrameHeaders, http2.FrameContinuation, http2.FrameGoAway}; !slices.Equal(types, want) {
		t.Errorf("frames passed %v; want %v", types, want)
	}
}
