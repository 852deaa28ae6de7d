package e2e

// End-to-end tests of --log-syslog (issue 10; cmd/gonicorn/syslog.go, package syslog;
// docs/logging.md, "Syslog"): the error log and the access log reach a syslog listener the
// test starts — a unix datagram socket, UDP and TCP — as gunicorn's SysLogHandler sends
// them (test/apps/badapp.py raises for the traceback).

import (
	"bufio"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// syslogListener collects the messages a syslog listener receives.
type syslogListener struct {
	addr string // for --log-syslog-to
	mu   sync.Mutex
	msgs []string
}

func (l *syslogListener) add(m string) {
	l.mu.Lock()
	l.msgs = append(l.msgs, m)
	l.mu.Unlock()
}

func (l *syslogListener) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.msgs...)
}

// waitFor waits until a message matches re and returns it.
func (l *syslogListener) waitFor(t *testing.T, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, m := range l.all() {
			if re.MatchString(m) {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("syslog at %s never received a message matching %s; it got:\n%s", l.addr, re, strings.Join(l.all(), "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// listenSyslog starts a syslog listener of kind "unixgram", "udp" or "tcp", closed at the
// test's end.
func listenSyslog(t *testing.T, kind string) *syslogListener {
	t.Helper()
	l := &syslogListener{}
	var pc net.PacketConn
	var err error
	switch kind {
	case "unixgram":
		path := filepath.Join(t.TempDir(), "log")
		pc, err = net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
		l.addr = "unix://" + path
	case "udp":
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		if err == nil {
			l.addr = "udp://" + pc.LocalAddr().String()
		}
	case "tcp":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		l.addr = "tcp://" + ln.Addr().String()
		go func() { // ends when the listener closes; each connection when the server closes it
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				t.Cleanup(func() { c.Close() })
				go func() {
					sc := bufio.NewScanner(c)
					for sc.Scan() {
						l.add(sc.Text())
					}
				}()
			}
		}()
		return l
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() { // ends when the socket closes
		b := make([]byte, 65536)
		for {
			n, _, err := pc.ReadFrom(b)
			if err != nil {
				return
			}
			l.add(string(b[:n]))
		}
	}()
	return l
}

func TestSyslog(t *testing.T) {
	for _, kind := range []string{"unixgram", "udp", "tcp"} {
		t.Run(kind, func(t *testing.T) {
			l := listenSyslog(t, kind)
			s := pepStart(t, "badapp", "--log-syslog", "--log-syslog-to", l.addr)
			master := strconv.Itoa(s.cmd.Process.Pid)
			// The error log: facility user (1), INFO (6) → <14>; the program name from APP_MODULE.
			l.waitFor(t, regexp.MustCompile(`^<14>gunicorn\.badapp\.error: \[`+master+`\] Listening at: http://`))
			pid := strconv.Itoa(s.workerPIDs()[0])
			if r := s.get("/ok"); r.status != 200 {
				t.Fatalf("GET /ok = %d", r.status)
			}
			// The access log goes to syslog without --access-logfile, as in gunicorn.
			l.waitFor(t, regexp.MustCompile(`^<14>gunicorn\.badapp\.access: \[`+master+`\] 127\.0\.0\.1 - - \[[^]]+\] "GET /ok HTTP/1\.1" 200 `))
			// An app's exception: ERROR (3) → <11>; over datagrams the traceback is one
			// message, as gunicorn's; over TCP one message a line.
			if r := s.get("/raise-before"); r.status != 500 {
				t.Fatalf("GET /raise-before = %d", r.status)
			}
			if kind == "tcp" {
				l.waitFor(t, regexp.MustCompile(`^<11>gunicorn\.badapp\.error: \[`+master+`\] Error handling request /raise-before`))
				l.waitFor(t, regexp.MustCompile(`^<11>gunicorn\.badapp\.error: \[`+master+`\] RuntimeError: badapp-raise-before$`))
			} else {
				l.waitFor(t, regexp.MustCompile(`^<11>gunicorn\.badapp\.error: \[`+master+`\] Error handling request /raise-before.*\n(.*\n)*RuntimeError: badapp-raise-before$`))
			}
			// The log file still has every line.
			if !s.log.waitFor("Booting worker with pid: "+pid, time.Second) {
				t.Error("the error log lost its lines")
			}
		})
	}
}

func TestSyslogPrefixFacilityAndNoAccess(t *testing.T) {
	l := listenSyslog(t, "udp")
	s := pepStart(t, "badapp", "--log-syslog", "--log-syslog-to", l.addr, "--log-syslog-prefix", "shop",
		"--log-syslog-facility", "LOCAL0", "--disable-redirect-access-to-syslog", "--access-logfile", "-")
	// local0 (16) × 8 + INFO (6) = 134.
	l.waitFor(t, regexp.MustCompile(`^<134>gunicorn\.shop\.error: \[\d+\] Booting worker with pid: \d+$`))
	if r := s.get("/ok"); r.status != 200 {
		t.Fatalf("GET /ok = %d", r.status)
	}
	if !s.log.waitFor(`"GET /ok HTTP/1.1" 200`, 5*time.Second) {
		t.Fatal("the access log file lacks the request")
	}
	// A later error-log line, to know that everything before it was received.
	if r := s.get("/raise-before"); r.status != 500 {
		t.Fatalf("GET /raise-before = %d", r.status)
	}
	l.waitFor(t, regexp.MustCompile(`(?s)^<131>gunicorn\.shop\.error: .*badapp-raise-before`))
	for _, m := range l.all() {
		if strings.Contains(m, ".access:") || strings.Contains(m, "GET /ok") {
			t.Errorf("--disable-redirect-access-to-syslog: the access log reached syslog: %q", m)
		}
	}
}

func TestSyslogBadSettings(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--log-syslog-to", "syslog.example.com:514"}, `--log-syslog-to: "syslog.example.com:514": want unix://PATH, udp://HOST:PORT or tcp://HOST:PORT`},
		{[]string{"--log-syslog-facility", "local9"}, `--log-syslog-facility: unknown syslog facility "local9"`},
		{[]string{"--log-syslog", "--log-syslog-to", "unix://" + filepath.Join(dir, "none")}, "--log-syslog-to unix://" + filepath.Join(dir, "none") + ": connecting to syslog"},
	} {
		s := startNoWait(t, append(tc.args, "--chdir", appsDir(t), "badapp")...)
		select {
		case <-s.done:
		case <-time.After(20 * time.Second):
			t.Fatalf("%v: gonicorn did not stop", tc.args)
		}
		if code := s.cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(s.log.String(), tc.msg) {
			t.Errorf("%v: exit %d, output:\n%s\nwant exit 1 with %q", tc.args, code, s.log, tc.msg)
		}
	}
}
