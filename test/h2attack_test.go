package e2e

import (
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// The known HTTP/2 attacks, each against the real server with one worker thread: the
// attacking connection is closed or its streams reset, the master's memory stays bounded,
// the app is not called for what the attacker cancelled, and a second client is served
// while (or right after) the attack runs.

// attackTarget is a server of h2app over h2c with one worker thread, counting the app's calls.
type attackTarget struct {
	*server
	count string // the file the app appends a line to per /count call
}

func startAttackTarget(t *testing.T, extra ...string) *attackTarget {
	t.Helper()
	count := filepath.Join(t.TempDir(), "count")
	args := append([]string{"--http-protocols", "h1,h2", "--http2-cleartext", "--workers", "1", "--threads", "1",
		"--python", python(t)}, extra...)
	args = append(args, "h2app")
	s := startIn(t, appsDir(t), []string{"COUNT_FILE=" + count}, args...)
	return &attackTarget{server: s, count: count}
}

// calls is how many times the app ran /count.
func (a *attackTarget) calls() int {
	b, _ := os.ReadFile(a.count)
	return bytes.Count(b, []byte("\n"))
}

// servesOthers checks that another client gets an answer from the app within 5 s.
func (a *attackTarget) servesOthers(t *testing.T, when string) {
	t.Helper()
	h := dialH2Raw(t, a.server, nil)
	h.request(1, "GET", "/env", nil)
	if ans := h.answer(1, 5*time.Second); ans.status != 200 {
		t.Errorf("%s: another client got %v; want 200 from the app", when, ans)
	}
	h.c.Close()
}

// rss is the master's resident memory in KiB.
func (a *attackTarget) rss(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(a.cmd.Process.Pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// bounded checks that the master grew by less than 64 MiB since before (KiB).
func (a *attackTarget) bounded(t *testing.T, before int, what string) {
	t.Helper()
	if after := a.rss(t); after-before > 64<<10 {
		t.Errorf("%s: the master grew from %d to %d KiB", what, before, after)
	}
}

// closedWithin reports whether the server ends the connection (EOF, reset or GOAWAY)
// within d, reading and dropping what it sends meanwhile.
func closedWithin(h *h2Raw, d time.Duration) bool {
	h.c.SetReadDeadline(time.Now().Add(d))
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			return !isTimeout(err)
		}
		if g, ok := f.(*http2.GoAwayFrame); ok && g.ErrCode != http2.ErrCodeNo {
			return true
		}
	}
}

func isTimeout(err error) bool {
	type timeout interface{ Timeout() bool }
	t, ok := err.(timeout)
	return ok && t.Timeout()
}

// CVE-2023-44487 (rapid reset): streams opened and reset at once never reach the app and
// cost the connection its life; the worker stays free for others.
func TestH2RapidReset(t *testing.T) {
	a := startAttackTarget(t)
	before := a.rss(t)
	h := dialH2Raw(t, a.server, nil)
	const n = 5000
	blk := h.block("GET", "/count")
	go func() {
		for i := range n {
			id := uint32(2*i + 1)
			if h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: blk, EndHeaders: true, EndStream: true}) != nil ||
				h.fr.WriteRSTStream(id, http2.ErrCodeCancel) != nil {
				return
			}
		}
	}()
	closed := closedWithin(h, 15*time.Second)
	a.servesOthers(t, "after a rapid reset")
	calls := a.calls()
	t.Logf("rapid reset: %d streams reset, the app ran %d of them, connection closed: %v", n, calls, closed)
	if !closed {
		t.Errorf("rapid reset: the connection is still open")
	}
	if calls > n/10 {
		t.Errorf("the app ran %d of %d reset streams; want few (a reset stream is not dispatched)", calls, n)
	}
	a.bounded(t, before, "rapid reset")
}

// CVE-2024-27316 (CONTINUATION flood): a header block that never ends is bounded by
// --http2-max-header-list-size, then the connection is closed.
func TestH2ContinuationFlood(t *testing.T) {
	a := startAttackTarget(t)
	before := a.rss(t)
	h := dialH2Raw(t, a.server, nil)
	junk := bytes.Repeat([]byte{0x40, 0x01, 'x', 0x7f, 0x7f}, 16000/5) // literal fields with incremental indexing
	go func() {
		if h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: h.block("GET", "/count")}) != nil {
			return
		}
		for range 20000 { // 320 MB if nobody stopped it
			if h.fr.WriteContinuation(1, false, junk) != nil {
				return
			}
		}
	}()
	if !closedWithin(h, 20*time.Second) {
		t.Errorf("CONTINUATION flood: the connection is still open")
	}
	a.servesOthers(t, "after a CONTINUATION flood")
	if c := a.calls(); c != 0 {
		t.Errorf("the app ran %d times; want 0", c)
	}
	a.bounded(t, before, "CONTINUATION flood")
}

// HPACK bomb: one big field in the dynamic table referenced thousands of times (a few bytes
// each) decodes to far more than --http2-max-header-list-size: the request is refused (431 or
// a reset) without being decoded into memory, and the app is not called.
func TestH2HPACKBomb(t *testing.T) {
	a := startAttackTarget(t)
	before := a.rss(t)
	h := dialH2Raw(t, a.server, nil)
	var blk bytes.Buffer
	enc := hpack.NewEncoder(&blk)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":path", "/count"}, {":authority", "h"}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	enc.WriteField(hpack.HeaderField{Name: "x-bomb", Value: strings.Repeat("b", 4000)}) // indexed: dynamic entry 62
	for range 14000 {
		blk.WriteByte(0x80 | 62) // indexed field: the 4000-byte entry again (56 MB decoded)
	}
	b := blk.Bytes()
	max := int(h.settings[http2.SettingMaxFrameSize])
	h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: b[:max], EndStream: true})
	for b = b[max:]; len(b) > 0; {
		n := min(len(b), max)
		h.fr.WriteContinuation(1, n == len(b), b[:n])
		b = b[n:]
	}
	ans := h.answer(1, 10*time.Second)
	if ans.status != 431 && !ans.reset && !ans.closed && !ans.goaway {
		t.Errorf("HPACK bomb: %v; want 431, a reset or the connection closed", ans)
	}
	a.servesOthers(t, "after an HPACK bomb")
	if c := a.calls(); c != 0 {
		t.Errorf("the app ran %d times; want 0", c)
	}
	a.bounded(t, before, "HPACK bomb")
}

// SETTINGS, PING and WINDOW_UPDATE floods from a client that reads nothing: the master stops
// queueing answers and closes the connection; a WINDOW_UPDATE flood past 2^31-1 is a
// FLOW_CONTROL_ERROR (RFC 9113 §6.9.1).
func TestH2ControlFloods(t *testing.T) {
	a := startAttackTarget(t)
	for _, flood := range []struct {
		name  string
		frame func(h *h2Raw, i int) error
	}{
		{"SETTINGS", func(h *h2Raw, i int) error {
			return h.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: uint32(i)})
		}},
		{"PING", func(h *h2Raw, i int) error { return h.fr.WritePing(false, [8]byte{byte(i)}) }},
		{"WINDOW_UPDATE", func(h *h2Raw, i int) error { return h.fr.WriteWindowUpdate(0, 1<<20) }},
	} {
		t.Run(flood.name, func(t *testing.T) {
			before := a.rss(t)
			h := dialH2Raw(t, a.server, nil)
			done := make(chan int, 1)
			go func() {
				i := 0
				for ; i < 500000; i++ {
					if flood.frame(h, i) != nil {
						break
					}
				}
				done <- i
			}()
			// The client reads nothing until the flood ends (or the server ends it).
			var sent int
			select {
			case sent = <-done:
			case <-time.After(30 * time.Second):
				t.Fatalf("%s flood: still writing after 30 s", flood.name)
			}
			if !closedWithin(h, 10*time.Second) {
				t.Errorf("%s flood of %d frames: the connection is still open", flood.name, sent)
			}
			t.Logf("%s flood: %d frames written before the server stopped taking them", flood.name, sent)
			h.c.Close()
			a.servesOthers(t, "after a "+flood.name+" flood")
			a.bounded(t, before, flood.name+" flood")
		})
	}
}

// A zero-window stall (a slow reader that never opens its window): the worker's answer is
// taken off it at once (the other client is served meanwhile by the only worker thread), and
// the stalled stream is reset after --write-timeout.
func TestH2ZeroWindow(t *testing.T) {
	a := startAttackTarget(t, "--write-timeout", "2")
	before := a.rss(t)
	h := dialH2Raw(t, a.server, nil, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
	h.request(1, "GET", "/big?n=20000000", nil)
	time.Sleep(200 * time.Millisecond) // let the request start; nothing waits on it
	a.servesOthers(t, "while a 20 MB answer waits for a zero window")
	start := time.Now()
	ans := h.answer(1, 20*time.Second)
	if !ans.reset && !ans.closed && !ans.goaway {
		t.Errorf("zero window: %v; want the stream reset", ans)
	}
	t.Logf("zero window: %v after %v", ans, time.Since(start))
	a.bounded(t, before, "zero window")
}

// More streams than --http2-max-concurrent-streams: the excess ones are refused, and only
// the admitted ones reach the app.
func TestH2TooManyStreams(t *testing.T) {
	a := startAttackTarget(t, "--http2-max-concurrent-streams", "5")
	release := filepath.Join(t.TempDir(), "release")
	h := dialH2Raw(t, a.server, nil)
	for i := range 20 {
		h.request(uint32(2*i+1), "GET", "/count?wait="+release, nil)
	}
	// Every stream past the fifth is refused with RST_STREAM (REFUSED_STREAM or
	// PROTOCOL_ERROR, RFC 9113 §5.1.2), or the connection is closed.
	refused := 0
	h.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for refused < 15 {
		f, err := h.fr.ReadFrame()
		if err != nil {
			break
		}
		if r, ok := f.(*http2.RSTStreamFrame); ok && r.StreamID > 9 {
			refused++
		}
	}
	if refused < 15 {
		t.Errorf("%d of 15 streams over the limit refused", refused)
	}
	os.WriteFile(release, nil, 0o644)
	deadline := time.Now().Add(10 * time.Second)
	for a.calls() < 5 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	if c := a.calls(); c != 5 {
		t.Errorf("the app ran %d times; want the 5 admitted streams", c)
	}
}

// TERM during an HTTP/2 request: the connection gets GOAWAY, the stream in flight runs to
// its end and is answered, and the server exits.
func TestH2GracefulStop(t *testing.T) {
	a := startAttackTarget(t)
	release := filepath.Join(t.TempDir(), "release")
	h := dialH2Raw(t, a.server, nil)
	h.request(1, "GET", "/count?wait="+release, nil)
	deadline := time.Now().Add(10 * time.Second)
	for a.calls() < 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	a.cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(300 * time.Millisecond)
	os.WriteFile(release, nil, 0o644)
	ans := h.answer(1, 10*time.Second)
	if ans.status != 200 || string(ans.body) != "counted" {
		t.Errorf("the stream in flight at TERM: %v; want 200 counted", ans)
	}
	if !ans.goaway {
		t.Errorf("no GOAWAY before the answer")
	}
	select {
	case <-a.done:
	case <-time.After(10 * time.Second):
		t.Errorf("the server did not exit after its last stream")
	}
}

// A connection that reads nothing while its streams' answers pile up: together they hold at
// most --max-response-spool (in memory and temp files), as one HTTP/1.1 connection does;
// past it the workers wait for the client (backpressure), until --write-timeout resets the
// streams.
func TestH2SpoolSharedByStreams(t *testing.T) {
	const spool = 4 << 20
	a := startAttackTarget(t, "--workers", "2", "--max-response-spool", itoa(spool), "--write-timeout", "5")
	h := dialH2Raw(t, a.server, nil, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
	for i := range 5 {
		h.request(uint32(2*i+1), "GET", "/big?n=3000000", nil)
	}
	time.Sleep(1500 * time.Millisecond)
	held := spooledBytes(t, a.cmd.Process.Pid)
	t.Logf("5 answers of 3 MB to a connection that reads nothing: %d bytes in the master's temp files", held)
	if held > spool {
		t.Errorf("the connection's streams hold %d bytes in temp files; want at most --max-response-spool %d", held, spool)
	}
}

// spooledBytes is the size of the response temp files the process pid has open.
func spooledBytes(t *testing.T, pid int) int64 {
	t.Helper()
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil || !strings.Contains(target, "gonicorn-response-") {
			continue
		}
		if st, err := os.Stat(filepath.Join(dir, e.Name())); err == nil {
			total += st.Size()
		}
	}
	return total
}

// A connection that turns to HTTP/2 after a graceful stop began (its preface arrives after
// TERM) gets its GOAWAY too, instead of holding the stop up until --graceful-timeout.
func TestH2GracefulStopLateConnection(t *testing.T) {
	a := startAttackTarget(t)
	release := filepath.Join(t.TempDir(), "release")
	defer os.WriteFile(release, nil, 0o644)
	busy := dialH2Raw(t, a.server, nil)
	busy.request(1, "GET", "/count?wait="+release, nil) // keeps the stop draining
	deadline := time.Now().Add(10 * time.Second)
	for a.calls() < 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	late, err := net.Dial("tcp", a.addr) // accepted now, preface later
	if err != nil {
		t.Fatal(err)
	}
	defer late.Close()
	time.Sleep(200 * time.Millisecond)
	a.cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(300 * time.Millisecond)
	io.WriteString(late, http2.ClientPreface)
	fr := http2.NewFramer(late, late)
	fr.WriteSettings()
	late.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("the late connection got no GOAWAY within 5 s: %v", err)
		}
		if _, ok := f.(*http2.GoAwayFrame); ok {
			return
		}
	}
}

// What an idle HTTP/2 connection (h2c, one request answered) costs the master: x/net's
// connection state and buffers, the guard's, the goroutines. Logged for docs/http2.md, and
// bounded loosely.
func TestH2IdleConnMemory(t *testing.T) {
	const idleConns = 500
	raiseFDLimit(t, 2*idleConns+1000)
	a := startAttackTarget(t)
	for range 10 {
		h := dialH2Raw(t, a.server, nil)
		h.request(1, "GET", "/env", nil)
		h.answer(1, 10*time.Second)
		h.c.Close()
	}
	time.Sleep(500 * time.Millisecond)
	before := vmRSS(t, a.cmd.Process.Pid)
	for range idleConns {
		h := dialH2Raw(t, a.server, nil)
		h.request(1, "GET", "/env", nil)
		if ans := h.answer(1, 10*time.Second); ans.status != 200 {
			t.Fatalf("request before idling: %v", ans)
		}
	}
	time.Sleep(2 * time.Second) // let the runtime settle (GC, stack shrinking)
	after := vmRSS(t, a.cmd.Process.Pid)
	per := float64(after-before) / idleConns / 1024
	t.Logf("master VmRSS %d KiB → %d KiB with %d idle HTTP/2 connections: %.1f KiB per connection", before>>10, after>>10, idleConns, per)
	if per > 256 {
		t.Errorf("%.1f KiB per idle HTTP/2 connection; want well below 256 KiB", per)
	}
}

// Small answers to a client with a zero window: each fits x/net's handler buffer, so the
// relay hands it over without waiting (streamWriter.TryWrite) and the worker is free at once;
// the streams, whose DATA the client never lets through, are reset after --write-timeout
// like a big answer's, so a client cannot hold streams and their goroutines for ever.
func TestH2SmallAnswersZeroWindow(t *testing.T) {
	a := startAttackTarget(t, "--write-timeout", "2")
	before := a.rss(t)
	h := dialH2Raw(t, a.server, nil, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
	const streams = 20
	for i := uint32(0); i < streams; i++ {
		h.request(1+2*i, "GET", "/big?n=1000", nil)
	}
	time.Sleep(200 * time.Millisecond)
	a.servesOthers(t, "while 20 small answers wait for a zero window")
	// The resets come in any order: read frames until every stream was reset.
	reset := map[uint32]bool{}
	h.c.SetReadDeadline(time.Now().Add(20 * time.Second))
	for len(reset) < streams {
		f, err := h.fr.ReadFrame()
		if err != nil {
			t.Fatalf("after %d of %d streams reset: %v", len(reset), streams, err)
		}
		switch f := f.(type) {
		case *http2.RSTStreamFrame:
			reset[f.StreamID] = true
		case *http2.DataFrame:
			t.Fatalf("stream %d: DATA through a zero window", f.StreamID)
		case *http2.GoAwayFrame:
			t.Fatalf("GOAWAY after %d of %d streams reset; want the streams reset", len(reset), streams)
		}
	}
	a.bounded(t, before, "small answers, zero window")
}
