package e2e

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2Raw is an HTTP/2 client built from x/net's Framer, which sends what a test asks, however
// wrong, and reads the server's frames one by one.
type h2Raw struct {
	t        *testing.T
	c        net.Conn
	fr       *http2.Framer
	hb       bytes.Buffer
	enc      *hpack.Encoder
	dec      *hpack.Decoder             // the server's header blocks, in order
	settings map[http2.SettingID]uint32 // the server's first SETTINGS
	bodies   map[uint32][]byte          // DATA received per stream (readResponse)
}

// dialH2Raw connects to s (TLS with ALPN h2 when ts is not nil, else h2c with prior
// knowledge), sends the preface and settings, and reads the server's SETTINGS.
func dialH2Raw(t *testing.T, s *server, ts *tlsSetup, settings ...http2.Setting) *h2Raw {
	t.Helper()
	var c net.Conn
	var err error
	if ts != nil {
		cfg := ts.clientConfig(nil)
		cfg.NextProtos = []string{"h2"}
		c, err = tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", s.addr, cfg)
	} else {
		c, err = net.DialTimeout("tcp", s.addr, 10*time.Second)
	}
	if err != nil {
		t.Fatalf("dial %s: %v", s.addr, err)
	}
	t.Cleanup(func() { c.Close() })
	h := &h2Raw{t: t, c: c, fr: http2.NewFramer(c, c), settings: map[http2.SettingID]uint32{}, bodies: map[uint32][]byte{}}
	h.fr.SetMaxReadFrameSize(1 << 24)
	h.enc = hpack.NewEncoder(&h.hb)
	h.dec = hpack.NewDecoder(4096, nil)
	c.SetDeadline(time.Now().Add(30 * time.Second))
	io.WriteString(c, http2.ClientPreface)
	h.fr.WriteSettings(settings...)
	f, err := h.fr.ReadFrame()
	sf, ok := f.(*http2.SettingsFrame)
	if err != nil || !ok {
		t.Fatalf("the server's first frame: %v, %v; want SETTINGS", f, err)
	}
	sf.ForeachSetting(func(s http2.Setting) error { h.settings[s.ID] = s.Val; return nil })
	h.fr.WriteSettingsAck()
	return h
}

// block encodes a header block: the pseudo-header fields of method and path, then fields
// (name, value pairs).
func (h *h2Raw) block(method, path string, fields ...string) []byte {
	h.hb.Reset()
	all := append([]string{":method", method, ":scheme", "https", ":path", path, ":authority", "localhost"}, fields...)
	for i := 0; i < len(all); i += 2 {
		h.enc.WriteField(hpack.HeaderField{Name: all[i], Value: all[i+1]})
	}
	return bytes.Clone(h.hb.Bytes())
}

// request sends a request's HEADERS on stream id, ending the stream when body is nil, and
// the body in one DATA frame otherwise.
func (h *h2Raw) request(id uint32, method, path string, body []byte, fields ...string) {
	h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: h.block(method, path, fields...),
		EndHeaders: true, EndStream: body == nil})
	if body != nil {
		h.fr.WriteData(id, true, body)
	}
}

// h2Answer is how a stream ended: its status and body, or the code of its RST_STREAM, or
// the connection's GOAWAY code or end.
type h2Answer struct {
	status  int
	body    []byte
	reset   bool
	code    http2.ErrCode
	goaway  bool
	closed  bool // the connection ended (EOF or an error)
	headers []hpack.HeaderField
	frames  int // DATA frames of the stream, empty ones included
}

// answer reads frames until stream id ends (END_STREAM, RST_STREAM) or the connection does,
// answering PINGs and acknowledging SETTINGS, within timeout.
func (h *h2Raw) answer(id uint32, timeout time.Duration) h2Answer {
	h.c.SetReadDeadline(time.Now().Add(timeout))
	var a h2Answer
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			a.closed = true
			if errors.Is(err, os.ErrDeadlineExceeded) {
				h.t.Fatalf("stream %d: no end within %v", id, timeout)
			}
			return a
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				h.fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				h.fr.WritePing(true, f.Data)
			}
		case *http2.GoAwayFrame:
			a.goaway, a.code = true, f.ErrCode
			if f.LastStreamID < id {
				return a
			}
		case *http2.RSTStreamFrame:
			if f.StreamID == id {
				a.reset, a.code = true, f.ErrCode
				return a
			}
		case *http2.HeadersFrame:
			fields, _ := h.dec.DecodeFull(f.HeaderBlockFragment())
			if f.StreamID != id {
				continue
			}
			for _, hf := range fields {
				if hf.Name == ":status" {
					a.status, _ = strconv.Atoi(hf.Value)
				}
			}
			if a.status >= 200 {
				a.headers = fields
			}
			if f.StreamEnded() {
				return a
			}
		case *http2.DataFrame:
			if len(f.Data()) > 0 {
				h.fr.WriteWindowUpdate(0, uint32(len(f.Data())))
				h.fr.WriteWindowUpdate(f.StreamID, uint32(len(f.Data())))
			}
			if f.StreamID != id {
				continue
			}
			a.frames++
			a.body = append(a.body, f.Data()...)
			if f.StreamEnded() {
				return a
			}
		}
	}
}

func (a h2Answer) String() string {
	switch {
	case a.reset:
		return "RST_STREAM " + a.code.String()
	case a.goaway && a.status == 0:
		return "GOAWAY " + a.code.String()
	case a.closed && a.status == 0:
		return "connection closed"
	}
	return strconv.Itoa(a.status) + " " + strings.TrimSpace(string(a.body))
}
