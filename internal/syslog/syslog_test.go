package syslog

import (
	"bufio"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseAddress(t *testing.T) {
	for _, tc := range []struct {
		in      string
		network string
		addr    string
		err     string
	}{
		// gunicorn's parse_syslog_address (glogging.py)
		{"unix:///dev/log", "unix", "/dev/log", ""},
		{"unix:///dev/log#dgram", "unixgram", "/dev/log", ""},
		{"unix:///run/syslog.sock#stream", "unix", "/run/syslog.sock", ""},
		{"udp://localhost:514", "udp", "localhost:514", ""}, // gunicorn's default on Linux
		{"udp://LogHost", "udp", "loghost:514", ""},         // port 514 when left out; host lower-cased
		{"udp://", "udp", "localhost:514", ""},
		{"tcp://10.0.0.1:6514", "tcp", "10.0.0.1:6514", ""},
		{"tcp://[::1]:1514", "tcp", "[::1]:1514", ""},
		{"tcp://[::1]", "tcp", "[::1]:514", ""},
		// as --bind
		{"unix:/dev/log", "unix", "/dev/log", ""},
		// errors name the value
		{"udp://host:http", "", "", `"udp://host:http": "http" is not a valid port number`},
		{"tcp://host:99999", "", "", "not a valid port number"},
		{"tcp://[::1", "", "", "no ]"},
		{"unix:///dev/log#seqpacket", "", "", "dgram or stream"},
		{"unix://", "", "", "no socket path"},
		{"/dev/log", "", "", "want unix://PATH, udp://HOST:PORT or tcp://HOST:PORT"},
		{"syslog.example.com:514", "", "", "want unix://PATH"},
	} {
		a, err := ParseAddress(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseAddress(%q) = %+v, %v; want an error with %q", tc.in, a, err, tc.err)
			}
			continue
		}
		if err != nil || a.Network != tc.network || a.Addr != tc.addr {
			t.Errorf("ParseAddress(%q) = %+v, %v; want %s %s", tc.in, a, err, tc.network, tc.addr)
		}
	}
}

func TestFacility(t *testing.T) {
	for name, want := range map[string]int{"user": 1, "DAEMON": 3, "local7": 23, "security": 4, "authpriv": 10} {
		if got, err := Facility(name); err != nil || got != want {
			t.Errorf("Facility(%q) = %d, %v; want %d", name, got, err, want)
		}
	}
	if _, err := Facility("local8"); err == nil || !strings.Contains(err.Error(), `"local8"`) {
		t.Errorf("Facility(local8) = %v; want an error naming it", err)
	}
}

// message is what the test's listeners receive.
const traceback = "Error handling request /boom\nTraceback (most recent call last):\nValueError: boom"

func TestSendDatagrams(t *testing.T) {
	dir := t.TempDir()
	unixgram, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "log"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer unixgram.Close()
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	for _, tc := range []struct {
		addr string
		conn net.PacketConn
	}{
		{"unix://" + filepath.Join(dir, "log"), unixgram}, // no #dgram: tried as a datagram socket first
		{"udp://" + udp.LocalAddr().String(), udp},
	} {
		a, err := ParseAddress(tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		s, err := Open(a, 16, nil) // local0
		if err != nil {
			t.Fatalf("Open(%s): %v", tc.addr, err)
		}
		s.Send(Message{Tag: "gunicorn.app.error", Severity: Error, PID: 42, Text: traceback})
		s.Send(Message{Tag: "gunicorn.app.access", Severity: Info, PID: 42, Text: `127.0.0.1 - - "GET / HTTP/1.1" 200 2`})
		s.Close()
		for _, want := range []string{
			"<131>gunicorn.app.error: [42] " + traceback, // 16*8+3: one datagram, the traceback whole
			`<134>gunicorn.app.access: [42] 127.0.0.1 - - "GET / HTTP/1.1" 200 2`,
		} {
			tc.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			b := make([]byte, 4096)
			n, _, err := tc.conn.ReadFrom(b)
			if err != nil || string(b[:n]) != want {
				t.Errorf("%s received %q, %v; want %q", tc.addr, b[:n], err, want)
			}
		}
	}
}

func TestSendTCPFramesLines(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a, _ := ParseAddress("tcp://" + ln.Addr().String())
	s, err := Open(a, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s.Send(Message{Tag: "gunicorn.app.error", Severity: Warning, PID: 7, Text: traceback + "\n"})
	s.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var got []string
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		got = append(got, sc.Text())
	}
	want := []string{ // one message per line, each ended by a line feed (RFC 6587 §3.4.2)
		"<12>gunicorn.app.error: [7] Error handling request /boom",
		"<12>gunicorn.app.error: [7] Traceback (most recent call last):",
		"<12>gunicorn.app.error: [7] ValueError: boom",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("TCP stream = %q; want %q", got, want)
	}
}

func TestOpenFailsAndSendReconnects(t *testing.T) {
	dir := t.TempDir()
	a, _ := ParseAddress("unix://" + filepath.Join(dir, "missing"))
	if _, err := Open(a, 1, nil); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("Open(missing socket) = %v; want an error naming it", err)
	}

	// A TCP server that goes away: the message written then is lost and reported once; the
	// sender reconnects to the server back at the same address.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	a, _ = ParseAddress("tcp://" + addr)
	errs := make(chan error, 10)
	s, err := Open(a, 1, func(err error) { errs <- err })
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, _ := ln.Accept()
	c.Close()
	ln.Close()
	deadline := time.Now().Add(10 * time.Second)
	for len(errs) == 0 && time.Now().Before(deadline) {
		s.Send(Message{Tag: "t", Severity: Info, PID: 1, Text: "lost"}) // a write to a closed peer fails at the second try
		time.Sleep(50 * time.Millisecond)
	}
	if len(errs) == 0 {
		t.Fatal("the lost connection was never reported")
	}
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listening again at %s: %v", addr, err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- c
		}
	}()
	var back net.Conn
	for back == nil && time.Now().Before(deadline) {
		s.Send(Message{Tag: "t", Severity: Info, PID: 1, Text: "back"})
		select {
		case back = <-accepted:
		case <-time.After(100 * time.Millisecond):
		}
	}
	if back == nil {
		t.Fatal("the sender did not reconnect")
	}
	defer back.Close()
	back.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(back).ReadString('\n')
	if err != nil || line != "<14>t: [1] back\n" {
		t.Errorf("after reconnecting: %q, %v; want the next message", line, err)
	}
	if len(errs) != 1 {
		t.Errorf("%d failures reported; want 1 for the one outage", len(errs))
	}
}

// A unix socket that is a stream (syslog-ng's unix-stream /dev/log): after the datagram
// attempt fails, the sender connects as a stream and frames messages with line feeds.
func TestSendUnixStream(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a, _ := ParseAddress("unix://" + path)
	s, err := Open(a, 3, nil) // daemon
	if err != nil {
		t.Fatalf("Open(unix stream): %v", err)
	}
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s.Send(Message{Tag: "gunicorn.app.error", Severity: Critical, PID: 9, Text: "WORKER TIMEOUT (pid:10)"})
	s.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if want := "<26>gunicorn.app.error: [9] WORKER TIMEOUT (pid:10)\n"; err != nil || line != want {
		t.Errorf("unix stream received %q, %v; want %q", line, err, want)
	}
}
