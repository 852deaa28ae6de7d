// Package control is the master's control socket, which `gonicorn ctl` talks to: a unix
// stream socket, owner-only by default, as gunicorn 25's (gunicornc).
//
// The protocol is one exchange per connection:
//
//	client → server  one line: a command and its arguments, separated by spaces
//	                 ("status", "workers", "top", "reload", "ttin", "ttou", "dump", "dump 1234")
//	server → client  one JSON object (a Reply) and a newline; then the server closes
//
// JSON keeps the answer typed for scripts (gonicorn ctl --json prints it as is); the ctl
// command formats it for people.
package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Status is the answer to "status".
type Status struct {
	PID     int     `json:"pid"`
	Uptime  float64 `json:"uptime_seconds"`
	Version string  `json:"version"`
	App     string  `json:"app"`
	Workers int     `json:"workers"`
	Slots   int     `json:"slots"`
	Busy    int     `json:"busy"`
	Queued  int     `json:"queued"`
	// OldestWait is how long the first request in the queue has waited, in ms (0: none waits).
	OldestWait float64 `json:"oldest_wait_ms"`
}

// Worker is one worker in the answer to "workers".
type Worker struct {
	PID      int     `json:"pid"`
	Age      float64 `json:"age_seconds"`
	Requests int64   `json:"requests"`
	RSS      int64   `json:"rss_bytes"`
	CPU      float64 `json:"cpu_seconds"` // user + system CPU time since it started
	State    string  `json:"state"`
	Slots    []Slot  `json:"slots"`
}

// Slot is one worker thread: idle, or the request it runs.
type Slot struct {
	Idle    bool    `json:"idle"`
	Method  string  `json:"method,omitempty"`
	Target  string  `json:"target,omitempty"`
	Client  string  `json:"client,omitempty"`
	Running float64 `json:"running_ms,omitempty"`
}

// Traffic is the answer's recent past, for "top": requests that ended in the last seconds
// (the server's own answers, 4xx and 503, included) and their durations from first byte to
// last (the access log's %(D)s).
type Traffic struct {
	Span     float64 `json:"span_seconds"` // what the numbers cover: 10 s, less just after start
	Requests int64   `json:"requests"`
	Rate     float64 `json:"requests_per_second"`
	P50      float64 `json:"p50_ms"` // 0 without requests
	P99      float64 `json:"p99_ms"`
}

// Reply is the one JSON object the server writes. Error is set when the command failed;
// the other fields are those of the command.
type Reply struct {
	Error   string         `json:"error,omitempty"`
	Status  *Status        `json:"status,omitempty"`
	Workers []Worker       `json:"workers,omitempty"`
	Traffic *Traffic       `json:"traffic,omitempty"` // "top"
	Dumps   map[int]string `json:"dumps,omitempty"`   // "dump": the stacks by worker pid
	Done    string         `json:"done,omitempty"`    // "reload", "ttin", "ttou": what was asked
}

// Master is what the commands act on; cmd/gonicorn adapts its arbiter and pool to it.
type Master interface {
	Status() Status
	Workers() []Worker
	Traffic() Traffic
	// Signal does what the signal does (HUP, TTIN, TTOU), through the same handler.
	Signal(sig syscall.Signal) error
	// Dump returns the Python stacks of worker pid (every worker for 0).
	Dump(ctx context.Context, pid int) (map[int]string, error)
}

// DumpTimeout bounds how long "dump" waits for the workers' stacks.
const DumpTimeout = 5 * time.Second

// requestTimeout bounds how long a client may take to send its command line.
const requestTimeout = 5 * time.Second

// Server serves the control socket. Start starts it; Close stops it and waits for its
// goroutines. The socket file is the caller's to remove (a binary upgrade's other master may
// have taken the path).
type Server struct {
	ln     *net.UnixListener
	master Master
	log    *slog.Logger

	wg        sync.WaitGroup
	closeOnce sync.Once
}

// Listen creates the control socket at path with permission bits mode. A socket file
// already there (a previous run's, or the master this one upgrades) is replaced: the newest
// master takes the path, as the pid file. Any other kind of file is left alone.
func Listen(path string, mode os.FileMode) (*net.UnixListener, os.FileInfo, error) {
	if st, err := os.Lstat(path); err == nil {
		if st.Mode()&os.ModeSocket == 0 {
			return nil, nil, fmt.Errorf("%s exists and is not a socket", path)
		}
		os.Remove(path)
	}
	// The mode is set right after bind(2). The umask is not narrowed for the bind instead: it
	// is the process's, and a worker forked meanwhile would inherit it.
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, nil, err
	}
	ln.SetUnlinkOnClose(false) // the caller removes it if it is still its own
	if err := os.Chmod(path, mode); err != nil {
		ln.Close()
		os.Remove(path)
		return nil, nil, fmt.Errorf("chmod %s %#o: %w", path, mode, err)
	}
	st, err := os.Lstat(path)
	if err != nil {
		ln.Close()
		return nil, nil, err
	}
	return ln, st, nil
}

// ParseMode parses a socket mode as gunicorn's auto_int does: "0600" and "0o600" are octal,
// "0x180" hexadecimal, "384" decimal (a config file's 0o600 arrives so).
func ParseMode(s string) (os.FileMode, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if len(t) > 1 && t[0] == '0' && t[1] >= '0' && t[1] <= '9' {
		t = "0o" + t[1:]
	}
	n, err := strconv.ParseUint(t, 0, 32)
	if err != nil || n > 0o777 {
		return 0, fmt.Errorf("%q is not a permission mode (octal, 0600 to 0777)", s)
	}
	return os.FileMode(n), nil
}

// New returns a server for ln (from Listen), acting on m.
func New(ln *net.UnixListener, m Master, log *slog.Logger) *Server {
	return &Server{ln: ln, master: m, log: log}
}

// Start serves connections, one goroutine each, until Close.
func (s *Server) Start() {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := s.ln.AcceptUnix()
			if err != nil {
				if !errors.Is(err, net.ErrClosed) {
					s.log.Error("control socket: accept", "err", err)
				}
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serve(c)
			}()
		}
	}()
}

// Close stops accepting and waits for the commands being answered.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.ln.Close()
		s.wg.Wait()
	})
}

// serve answers one command on c.
func (s *Server) serve(c *net.UnixConn) {
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(requestTimeout))
	line, err := bufio.NewReaderSize(c, 4096).ReadString('\n')
	if err != nil && line == "" {
		return
	}
	c.SetReadDeadline(time.Time{})
	reply := s.do(strings.Fields(line))
	b, _ := json.Marshal(reply)
	c.SetWriteDeadline(time.Now().Add(requestTimeout))
	c.Write(append(b, '\n'))
}

// do runs one command.
func (s *Server) do(args []string) Reply {
	if len(args) == 0 {
		return Reply{Error: "empty command"}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "status":
		st := s.master.Status()
		return Reply{Status: &st}
	case "workers":
		return Reply{Workers: s.master.Workers()}
	case "top": // the three answers gonicorn top shows, in one exchange a second
		st, tr := s.master.Status(), s.master.Traffic()
		return Reply{Status: &st, Workers: s.master.Workers(), Traffic: &tr}
	case "reload", "ttin", "ttou":
		sig := map[string]syscall.Signal{"reload": syscall.SIGHUP, "ttin": syscall.SIGTTIN, "ttou": syscall.SIGTTOU}[cmd]
		if err := s.master.Signal(sig); err != nil {
			return Reply{Error: err.Error()}
		}
		s.log.Info("Control socket: " + cmd)
		return Reply{Done: cmd}
	case "dump":
		pid := 0
		if len(rest) > 0 {
			n, err := strconv.Atoi(rest[0])
			if err != nil || n <= 0 {
				return Reply{Error: fmt.Sprintf("dump: %q is not a worker pid", rest[0])}
			}
			pid = n
		}
		ctx, cancel := context.WithTimeout(context.Background(), DumpTimeout)
		defer cancel()
		dumps, err := s.master.Dump(ctx, pid)
		if err != nil {
			return Reply{Error: err.Error(), Dumps: dumps}
		}
		return Reply{Dumps: dumps}
	}
	return Reply{Error: fmt.Sprintf("unknown command %q (status, workers, top, reload, ttin, ttou, dump [PID])", cmd)}
}
