package metrics

import (
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"
)

// Statsd sends gunicorn's statsd metrics over UDP (--statsd-host), under the same names, so
// that dashboards made for gunicorn keep working:
//
//	PREFIX.gunicorn.requests:1|c|@1.0            one per request
//	PREFIX.gunicorn.request.status.NNN:1|c|@1.0  one per request, by status
//	PREFIX.gunicorn.request.duration:MS|ms       request duration in milliseconds
//	PREFIX.gunicorn.workers:N|g                  worker processes, every second
//
// each followed by |#TAGS with --dogstatsd-tags. gunicorn's gunicorn.log.* counters are
// not sent (gunicorn's own newer metric plugins dropped them too): the error log and the
// Prometheus metrics say more.
//
// The three lines of a request go out in one datagram, separated by newlines (statsd's and
// DogStatsD's multi-metric packets): one send per request, never blocking (UDP; a full
// socket buffer or an absent server drops the metrics, as gunicorn's do).
type Statsd struct {
	conn   *net.UDPConn
	prefix string // "" or ending in "."
	tags   string // "" or "|#" + the tags
	bufs   sync.Pool
}

// NewStatsd connects a UDP socket to addr (HOST:PORT). prefix is --statsd-prefix (a dot is
// added if missing, as gunicorn does); tags is --dogstatsd-tags, comma-separated.
func NewStatsd(addr, prefix, tags string) (*Statsd, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("--statsd-host %s: %w", addr, err)
	}
	c, err := net.DialUDP("udp", nil, ua)
	if err != nil {
		return nil, fmt.Errorf("--statsd-host %s: %w", addr, err)
	}
	s := &Statsd{conn: c, prefix: statsdPrefix(prefix)}
	if tags != "" {
		s.tags = "|#" + tags
	}
	s.bufs.New = func() any { b := make([]byte, 0, 512); return &b }
	return s, nil
}

// statsdPrefix is gunicorn's normalisation: a non-empty prefix ends in exactly one dot.
func statsdPrefix(p string) string {
	for len(p) > 0 && p[len(p)-1] == '.' {
		p = p[:len(p)-1]
	}
	if p == "" {
		return ""
	}
	return p + "."
}

// Request sends the metrics of one answered request.
func (s *Statsd) Request(status int, total time.Duration) {
	bp := s.bufs.Get().(*[]byte)
	b := s.appendRequest((*bp)[:0], status, total)
	s.conn.Write(b) // best effort, as gunicorn's
	*bp = b
	s.bufs.Put(bp)
}

func (s *Statsd) appendRequest(b []byte, status int, total time.Duration) []byte {
	b = s.appendName(b, "gunicorn.request.duration")
	b = strconv.AppendFloat(b, float64(total.Microseconds())/1000, 'f', -1, 64)
	b = append(b, "|ms"...)
	b = append(b, s.tags...)
	b = append(b, '\n')
	b = s.appendName(b, "gunicorn.requests")
	b = append(b, "1|c|@1.0"...)
	b = append(b, s.tags...)
	b = append(b, '\n')
	b = s.appendName(b, "gunicorn.request.status.")
	b = b[:len(b)-1] // the name's ':' goes after the status
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ":1|c|@1.0"...)
	return append(b, s.tags...)
}

// Workers sends the gauge of worker processes.
func (s *Statsd) Workers(n int) {
	b := s.appendName(nil, "gunicorn.workers")
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, "|g"...)
	s.conn.Write(append(b, s.tags...))
}

func (s *Statsd) appendName(b []byte, name string) []byte {
	b = append(b, s.prefix...)
	b = append(b, name...)
	return append(b, ':')
}

// Close closes the socket.
func (s *Statsd) Close() error { return s.conn.Close() }
