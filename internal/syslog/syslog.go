// Package syslog sends log records to a syslog server, as gunicorn's --log-syslog does with
// Python's logging.handlers.SysLogHandler: the same addresses (unix://PATH[#dgram|#stream],
// udp://HOST:PORT, tcp://HOST:PORT), facilities and message text,
//
//	<PRI>TAG: [PID] MESSAGE
//
// where PRI is facility×8 + severity (RFC 5424 §6.2.1) and TAG gunicorn's program name,
// "gunicorn.PREFIX.error" or "gunicorn.PREFIX.access". Like Python's handler it sends no
// timestamp or host name: the receiving daemon adds its own (RFC 3164 §4.3.3), and a TAG
// that follows PRI directly cannot be mistaken for a host name. Differences: no NUL byte is
// appended (Python's append_nul, which some daemons show as #000), and over TCP each message
// ends with a line feed (RFC 6587 §3.4.2, non-transparent framing: what rsyslog and syslog-ng
// split a TCP stream on), its own line breaks turned into messages of their own.
//
// Sending never blocks the caller: messages go through a bounded queue to one goroutine,
// which writes them, reconnects after a failure (at most once a second), and drops messages
// while the server cannot be reached, as a UDP syslog would lose them.
//
// Go's log/syslog is frozen and formats RFC 3164 with a timestamp and host name, which
// gunicorn's messages have not; this small sender keeps gunicorn's text.
package syslog

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Severity is a syslog severity (RFC 5424 §6.2.1, table 2).
type Severity int

// The severities Python's SysLogHandler maps logging's levels to.
const (
	Critical Severity = 2
	Error    Severity = 3
	Warning  Severity = 4
	Info     Severity = 6
	Debug    Severity = 7
)

// facilities are gunicorn's SYSLOG_FACILITIES (glogging.py), by name.
var facilities = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "security": 4, "syslog": 5,
	"lpr": 6, "news": 7, "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19,
	"local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

// Facility returns the code of a facility name (any case), as gunicorn's
// --log-syslog-facility takes it.
func Facility(name string) (int, error) {
	f, ok := facilities[strings.ToLower(name)]
	if !ok {
		return 0, fmt.Errorf("unknown syslog facility %q (user, daemon, local0 ... local7, auth, authpriv, cron, kern, lpr, mail, news, syslog, uucp, ftp)", name)
	}
	return f, nil
}

// Address is where messages go, parsed from gunicorn's syntax.
type Address struct {
	// Network is "unix" (a socket file: a datagram socket, else a stream one, as Python
	// tries), "unixgram", "udp" or "tcp".
	Network string
	Addr    string // the path, or HOST:PORT
}

// DefaultPort is syslog's UDP and TCP port (RFC 5426 §3.3), gunicorn's default.
const DefaultPort = "514"

// ParseAddress parses an address as gunicorn's parse_syslog_address does:
// unix://PATH (with #dgram or #stream to choose the socket type), udp://HOST:PORT and
// tcp://HOST:PORT, the host in brackets for IPv6, localhost and port 514 when left out. It
// also takes unix:PATH, as --bind does.
func ParseAddress(s string) (Address, error) {
	switch {
	case strings.HasPrefix(s, "unix:"):
		path := strings.TrimPrefix(strings.TrimPrefix(s, "unix:"), "//")
		a := Address{Network: "unix"}
		if p, kind, ok := strings.Cut(path, "#"); ok {
			path = p
			switch kind {
			case "dgram":
				a.Network = "unixgram"
			case "stream":
			default:
				return Address{}, fmt.Errorf("%q: the socket type after # is dgram or stream, not %q", s, kind)
			}
		}
		if path == "" {
			return Address{}, fmt.Errorf("%q: no socket path", s)
		}
		a.Addr = path
		return a, nil
	case strings.HasPrefix(s, "udp://"):
		return hostPort("udp", s, strings.TrimPrefix(s, "udp://"))
	case strings.HasPrefix(s, "tcp://"):
		return hostPort("tcp", s, strings.TrimPrefix(s, "tcp://"))
	}
	return Address{}, fmt.Errorf("%q: want unix://PATH, udp://HOST:PORT or tcp://HOST:PORT", s)
}

// hostPort parses the HOST:PORT part of a udp:// or tcp:// address.
func hostPort(network, whole, rest string) (Address, error) {
	host, port := rest, DefaultPort
	if strings.HasPrefix(rest, "[") { // [v6] or [v6]:port
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return Address{}, fmt.Errorf("%q: no ] after the IPv6 address", whole)
		}
		host = rest[1:end]
		if p, ok := strings.CutPrefix(rest[end+1:], ":"); ok {
			port = p
		} else if rest[end+1:] != "" {
			return Address{}, fmt.Errorf("%q: want [HOST]:PORT", whole)
		}
	} else if h, p, ok := strings.Cut(rest, ":"); ok {
		host, port = h, p
	}
	if host == "" {
		host = "localhost"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || strings.TrimLeft(port, "0123456789") != "" {
		return Address{}, fmt.Errorf("%q: %q is not a valid port number", whole, port)
	}
	return Address{Network: network, Addr: net.JoinHostPort(strings.ToLower(host), port)}, nil
}

// Message is one log record to send.
type Message struct {
	Tag      string // the program name: "gunicorn.myapp.error"
	Severity Severity
	PID      int    // the process the record is about, gunicorn's [%(process)d]
	Text     string // the record, possibly several lines (a traceback)
}

// queueLen bounds the messages waiting for the sender; more are dropped.
const queueLen = 4096

// maxDatagram bounds a datagram's size: a longer message is cut (a UDP datagram cannot be
// longer than 65,507 bytes; a unix one is bounded by the socket buffer).
const maxDatagram = 60 << 10

// redialEvery is how often the sender tries to reconnect after a failure.
const redialEvery = time.Second

// dialTimeout bounds one connection attempt.
const dialTimeout = 5 * time.Second

// Sender sends messages to one syslog address. Open starts it, Close stops it.
type Sender struct {
	addr     Address
	facility int
	queue    chan Message
	done     chan struct{} // closed when the sending goroutine ends
	onError  func(error)   // told of a failure to send, once per outage; may be nil

	closeOnce sync.Once

	// Owned by the sending goroutine:
	conn      net.Conn
	stream    bool      // conn is a stream: messages are framed with a line feed
	lastDial  time.Time // the last attempt to connect
	reporting bool      // a failure was reported and no message went out since
}

// Open connects to addr, so that an address that cannot be reached stops the start with a
// clear error (as gunicorn, whose handler connects at start), and starts the sender.
// onError (may be nil) is told when messages are lost later, once per outage.
func Open(addr Address, facility int, onError func(error)) (*Sender, error) {
	s := &Sender{addr: addr, facility: facility, queue: make(chan Message, queueLen),
		done: make(chan struct{}), onError: onError}
	if err := s.dial(); err != nil {
		return nil, err
	}
	go s.run()
	return s, nil
}

// Send queues m; it never blocks. It reports false when the queue was full and m dropped.
func (s *Sender) Send(m Message) bool {
	select {
	case s.queue <- m:
		return true
	default:
		return false
	}
}

// Close sends what is queued (each message at most once, without retrying) and closes the
// connection.
func (s *Sender) Close() {
	s.closeOnce.Do(func() {
		close(s.queue)
		<-s.done
	})
}

func (s *Sender) run() {
	defer close(s.done)
	defer func() {
		if s.conn != nil {
			s.conn.Close()
		}
	}()
	for m := range s.queue {
		s.write(m)
	}
}

// write sends one message, connecting first if the connection was lost.
func (s *Sender) write(m Message) {
	if s.conn == nil {
		if time.Since(s.lastDial) < redialEvery {
			return // dropped: the server was unreachable a moment ago
		}
		if err := s.dial(); err != nil {
			s.report(err)
			return
		}
	}
	var err error
	if s.stream {
		_, err = s.conn.Write(s.frames(m))
	} else {
		b := s.format(nil, m.Severity, m.Tag, m.PID, m.Text)
		_, err = s.conn.Write(b[:min(len(b), maxDatagram)])
	}
	if err != nil {
		s.conn.Close()
		s.conn = nil
		s.report(fmt.Errorf("sending to syslog at %s %s: %w", s.addr.Network, s.addr.Addr, err))
		return
	}
	s.reporting = false
}

// frames formats m for a stream: one line per line of its text, each a message.
func (s *Sender) frames(m Message) []byte {
	var b []byte
	for line := range strings.SplitSeq(strings.TrimRight(m.Text, "\n"), "\n") {
		b = s.format(b, m.Severity, m.Tag, m.PID, line)
		b = append(b, '\n')
	}
	return b
}

// format appends one message: <PRI>TAG: [PID] TEXT.
func (s *Sender) format(b []byte, sev Severity, tag string, pid int, text string) []byte {
	b = append(b, '<')
	b = strconv.AppendInt(b, int64(s.facility*8+int(sev)), 10)
	b = append(b, '>')
	b = append(b, tag...)
	b = append(b, ": ["...)
	b = strconv.AppendInt(b, int64(pid), 10)
	b = append(b, "] "...)
	return append(b, strings.TrimRight(text, "\n")...)
}

// dial connects to the address. A unix socket is tried as a datagram socket, then as a
// stream, as Python's SysLogHandler does when no type is given.
func (s *Sender) dial() error {
	s.lastDial = time.Now()
	networks := []string{s.addr.Network}
	if s.addr.Network == "unix" {
		networks = []string{"unixgram", "unix"}
	}
	var errs []error
	for _, n := range networks {
		c, err := net.DialTimeout(n, s.addr.Addr, dialTimeout)
		if err == nil {
			s.conn, s.stream = c, n == "tcp" || n == "unix"
			return nil
		}
		errs = append(errs, err)
	}
	return fmt.Errorf("connecting to syslog: %w", errors.Join(errs...))
}

// report tells onError of a failure, once until a message goes out again.
func (s *Sender) report(err error) {
	if s.reporting || s.onError == nil {
		return
	}
	s.reporting = true
	s.onError(err)
}
