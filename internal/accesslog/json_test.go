package accesslog

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// jsonLine is the object a JSON access log line decodes to, with the types promised.
type jsonLine struct {
	Time              *string  `json:"time"`
	RemoteAddr        string   `json:"remote_addr"`
	Method            string   `json:"method"`
	Path              string   `json:"path"`
	Query             string   `json:"query"`
	Protocol          string   `json:"protocol"`
	Status            *int     `json:"status"`
	BodyBytesSent     *int64   `json:"body_bytes_sent"`
	BodyBytesReceived int64    `json:"body_bytes_received"`
	Referer           string   `json:"referer"`
	UserAgent         string   `json:"user_agent"`
	Duration          float64  `json:"duration_seconds"`
	Queue             *float64 `json:"queue_seconds"`
	App               *float64 `json:"app_seconds"`
	PID               *int     `json:"pid"`
	RequestID         string   `json:"request_id"`
}

// decodeJSONLine checks that line is one JSON object on one line, of printable text, with
// exactly the documented fields, and decodes it.
func decodeJSONLine(t *testing.T, line []byte) jsonLine {
	t.Helper()
	if !bytes.HasSuffix(line, []byte("\n")) || bytes.Count(line, []byte("\n")) != 1 {
		t.Fatalf("line %q is not one line ending in a newline", line)
	}
	if !utf8.Valid(line) {
		t.Fatalf("line %q is not valid UTF-8", line)
	}
	for _, r := range string(line[:len(line)-1]) {
		if !unicode.IsPrint(r) {
			t.Fatalf("line %q holds the unprintable %U", line, r)
		}
	}
	var fields map[string]any
	if err := json.Unmarshal(line, &fields); err != nil {
		t.Fatalf("json.Unmarshal(%q): %v", line, err)
	}
	want := []string{"time", "remote_addr", "method", "path", "query", "protocol", "status",
		"body_bytes_sent", "body_bytes_received", "referer", "user_agent", "duration_seconds",
		"queue_seconds", "app_seconds", "pid", "request_id"}
	if len(fields) != len(want) {
		t.Errorf("line %s has %d fields; want %d: %v", line, len(fields), len(want), want)
	}
	for _, k := range want {
		if _, ok := fields[k]; !ok {
			t.Errorf("line %s lacks the field %q", line, k)
		}
	}
	var l jsonLine
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		t.Fatalf("decoding %s: %v", line, err)
	}
	return l
}

func TestJSON(t *testing.T) {
	f := mustCompile(t, JSONFormat, nil)
	e := testEntry()
	e.Start = time.Date(2000, time.October, 10, 13, 55, 36, 789e6, zone)
	e.BodyBytes = 42
	e.QueueTime = 1500 * time.Microsecond
	e.AppTime = 2 * time.Second
	e.RequestID = []byte("0123456789abcdef0123456789abcdef")
	got := string(f.Append(nil, e))
	want := `{"time":"2000-10-10T20:55:36.789Z","remote_addr":"192.0.2.7","method":"GET","path":"/a b","query":"x=1&y=2",` +
		`"protocol":"HTTP/1.1","status":200,"body_bytes_sent":12,"body_bytes_received":42,"referer":"http://example.com/start",` +
		`"user_agent":"curl/8.5.0","duration_seconds":2.345678,"queue_seconds":0.001500,"app_seconds":2.000000,"pid":12345,` +
		`"request_id":"0123456789abcdef0123456789abcdef"}` + "\n"
	if got != want {
		t.Errorf("Append(json) =\n%s; want\n%s", got, want)
	}
	decodeJSONLine(t, []byte(got))
	if f.String() != "json" {
		t.Errorf("String() = %q; want \"json\"", f.String())
	}
}

// TestJSONUnknown checks what a request rejected before anything was known looks like:
// every number that did not happen is null, every string "".
func TestJSONUnknown(t *testing.T) {
	f := mustCompile(t, JSONFormat, nil)
	got := string(f.Append(nil, &Entry{BytesSent: -1, QueueTime: -1, AppTime: -1}))
	want := `{"time":null,"remote_addr":"","method":"","path":"","query":"","protocol":"","status":null,` +
		`"body_bytes_sent":null,"body_bytes_received":0,"referer":"","user_agent":"","duration_seconds":0.000000,` +
		`"queue_seconds":null,"app_seconds":null,"pid":null,"request_id":""}` + "\n"
	if got != want {
		t.Errorf("Append(json) of an empty entry =\n%s; want\n%s", got, want)
	}
	decodeJSONLine(t, []byte(got))
}

// TestJSONEscaping sends hostile values through every string field: each line must decode
// to the value sent (invalid UTF-8 and backslashes as \xHH), and stay one printable line.
func TestJSONEscaping(t *testing.T) {
	tests := []struct {
		name string
		in   string
		raw  string // the JSON string as written
		want string // as decoded
	}{
		{"plain", "abc", `"abc"`, "abc"},
		{"quote forging a field", `x","status":999,"y":"`, `"x\",\"status\":999,\"y\":\""`, `x","status":999,"y":"`},
		{"line break forging a line", "a\r\n{\"status\":200}", `"a\r\n{\"status\":200}"`, "a\r\n{\"status\":200}"},
		{"tab, NUL, ESC, DEL", "\t\x00\x1b\x7f", `"\t\u0000\u001b\u007f"`, "\t\x00\x1b\x7f"},
		{"backslash is \\x5c", `a\"b`, `"a\\x5c\"b"`, `a\x5c"b`},
		{"invalid UTF-8 bytes", "/caf\xe9\xff", `"/caf\\xe9\\xff"`, `/caf\xe9\xff`},
		{"truncated rune at end", "/\xc3", `"/\\xc3"`, `/\xc3`},
		{"overlong slash", "/\xc0\xaf", `"/\\xc0\\xaf"`, `/\xc0\xaf`},
		{"surrogate half in CESU-8", "\xed\xa0\x80", `"\\xed\\xa0\\x80"`, `\xed\xa0\x80`},
		{"printable UTF-8 passes", "café ☕ 𝄞", `"café ☕ 𝄞"`, "café ☕ 𝄞"},
		{"U+FFFD itself passes", "\uFFFD", "\"\uFFFD\"", "\uFFFD"},
		{"bidi override", "a\u202eb", `"a\u202eb"`, "a\u202eb"},
		{"line separator", "a\u2028b", `"a\u2028b"`, "a\u2028b"},
		{"C1 control", "a\u0085b", `"a\u0085b"`, "a\u0085b"},
		{"unprintable beyond the BMP", "\U000E0001", `"\udb40\udc01"`, "\U000E0001"},
	}
	f := mustCompile(t, JSONFormat, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := testEntry()
			e.Path = []byte(tt.in)
			e.Query = []byte(tt.in)
			e.Method = []byte(tt.in)
			e.Proto = []byte(tt.in)
			e.RemoteAddr = tt.in
			e.RequestID = []byte(tt.in)
			e.RequestHeader = headers{{"User-Agent", tt.in}, {"Referer", tt.in}}.lookup()
			line := f.Append(nil, e)
			if raw := string(appendJSONString(nil, tt.in)); raw != tt.raw {
				t.Errorf("appendJSONString(%q) = %s; want %s", tt.in, raw, tt.raw)
			}
			l := decodeJSONLine(t, line)
			for name, got := range map[string]string{"path": l.Path, "query": l.Query, "method": l.Method,
				"protocol": l.Protocol, "user_agent": l.UserAgent, "referer": l.Referer, "request_id": l.RequestID} {
				if got != tt.want {
					t.Errorf("%s of %q decodes to %q; want %q", name, tt.in, got, tt.want)
				}
			}
			if l.Status == nil || *l.Status != 200 {
				t.Errorf("status = %v; want 200 (no field forged)", l.Status)
			}
		})
	}
}

// TestJSONEveryByte escapes every byte value alone and after a valid rune: each line must
// stay valid, printable, one-line JSON.
func TestJSONEveryByte(t *testing.T) {
	f := mustCompile(t, JSONFormat, nil)
	for c := 0; c < 256; c++ {
		for _, v := range []string{string([]byte{byte(c)}), "é" + string([]byte{byte(c)}) + "x"} {
			e := testEntry()
			e.Path = []byte(v)
			decodeJSONLine(t, f.Append(nil, e))
		}
	}
}

func TestJSONDurations(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0.000000"},
		{999 * time.Nanosecond, "0.000000"},
		{time.Microsecond, "0.000001"},
		{90*time.Second + 7*time.Microsecond, "90.000007"},
		{-1, "null"},
	}
	for _, tt := range tests {
		if got := string(appendJSONSeconds(nil, tt.d)); got != tt.want {
			t.Errorf("appendJSONSeconds(%v) = %s; want %s", tt.d, got, tt.want)
		}
	}
}

// TestJSONAllocs pins that a JSON line costs no allocation once the buffer is large enough.
func TestJSONAllocs(t *testing.T) {
	f := mustCompile(t, JSONFormat, nil)
	e := testEntry()
	e.Start = time.Now()
	e.RequestID = []byte("0123456789abcdef0123456789abcdef")
	e.RequestHeader = headers{{"User-Agent", strings.Repeat("Mozilla/5.0 \u202e \"quoted\" café\xff\r\n", 20)}}.lookup()
	buf := make([]byte, 0, 4096)
	if allocs := testing.AllocsPerRun(100, func() { buf = f.Append(buf[:0], e) }); allocs != 0 {
		t.Errorf("Append(json) allocates %v times per call; want 0", allocs)
	}
}
