package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/gonicorn/gonicorn/internal/arbiter"
	"github.com/gonicorn/gonicorn/internal/config"
	"github.com/gonicorn/gonicorn/internal/control"
	"github.com/gonicorn/gonicorn/internal/dispatch"
	"github.com/gonicorn/gonicorn/internal/metrics"
)

// defaultControlSocket is --control-socket's default, in the working directory as gunicorn
// 25's gunicorn.ctl.
const defaultControlSocket = "gonicorn.ctl"

// controlSocket is the master's control socket (--control-socket): opened before the
// workers boot, so that a bad path or mode fails the start, and served once they are ready.
// Every method does nothing on a nil one (--no-control-socket, or a default path that could
// not be created).
//
// In a binary upgrade (USR2) the new master opens PATH.2 while the old master runs, as it
// writes its pid file, and renames it to PATH once promoted; a rollback (TERM to the new
// master) leaves the old master's PATH alone.
type controlSocket struct {
	ln   *net.UnixListener
	srv  *control.Server // set by serve
	want string          // --control-socket

	mu   sync.Mutex
	path string      // where the socket file is now: want, or want+".2" before promotion
	file os.FileInfo // the socket file as created, to tell it from another master's
}

// openControl creates the control socket of cfg; oldMaster is the pid of the master this
// one upgrades (0: none). A failure at the default path is a warning (the working directory
// may be read-only, as in many containers); at a path the user chose, it is an error naming
// the flag.
func openControl(cfg *config.Config, log *slog.Logger, oldMaster int) (*controlSocket, error) {
	if cfg.NoControlSocket || cfg.ControlSocket == "" {
		return nil, nil
	}
	mode, err := control.ParseMode(cfg.ControlSocketMode)
	if err != nil {
		return nil, fmt.Errorf("--control-socket-mode: %w", err)
	}
	path := cfg.ControlSocket
	if oldMaster != 0 {
		path += ".2"
	}
	ln, file, err := control.Listen(path, mode)
	if err != nil {
		if cfg.ControlSocket == defaultControlSocket {
			log.Warn("Control socket not created (--no-control-socket silences this): " + err.Error())
			return nil, nil
		}
		return nil, fmt.Errorf("--control-socket %s: %w", cfg.ControlSocket, err)
	}
	log.Info("Control socket at: " + path + " (gonicorn ctl)")
	return &controlSocket{ln: ln, want: cfg.ControlSocket, path: path, file: file}, nil
}

// serve answers commands on the socket, acting on m.
func (c *controlSocket) serve(m control.Master, log *slog.Logger) {
	if c == nil {
		return
	}
	c.srv = control.New(c.ln, m, log)
	c.srv.Start()
}

// promote moves the socket to --control-socket once the old master of an upgrade is gone.
func (c *controlSocket) promote(log *slog.Logger) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.path == c.want {
		return
	}
	if err := os.Rename(c.path, c.want); err != nil {
		log.Error("--control-socket: taking the path of the old master's", "err", err)
		return
	}
	c.path = c.want
}

// Close closes the socket and removes its file, if it is still this master's.
func (c *controlSocket) Close() {
	if c == nil {
		return
	}
	if c.srv != nil {
		c.srv.Close()
	} else {
		c.ln.Close()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, err := os.Lstat(c.path); err == nil && os.SameFile(st, c.file) {
		os.Remove(c.path)
	}
}

// controlMaster is what the control socket's commands act on.
type controlMaster struct {
	cfg     *config.Config
	started time.Time
	pool    *dispatch.Pool
	arb     *arbiter.Arbiter
	// sigs is the master's signal channel: reload, ttin and ttou are handled as the
	// signals are, by waitStop and master.handle, in order with real signals.
	sigs chan<- os.Signal
	// recent counts the requests of the last seconds, for "top".
	recent *metrics.Window
}

func (m *controlMaster) Status() control.Status {
	st := m.pool.Stats()
	app := m.cfg.App
	if app == "" {
		app = djangoSettings(m.cfg)
	}
	return control.Status{PID: os.Getpid(), Uptime: time.Since(m.started).Seconds(), Version: config.Version,
		App: app, Workers: st.Workers, Slots: st.Slots, Busy: st.Busy, Queued: st.Queued,
		OldestWait: milliseconds(st.OldestWait)}
}

func (m *controlMaster) Traffic() control.Traffic {
	r := m.recent.Snapshot()
	return control.Traffic{Span: r.Span.Seconds(), Requests: r.Requests, Rate: r.Rate,
		P50: milliseconds(r.P50), P99: milliseconds(r.P99)}
}

func milliseconds(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (m *controlMaster) Workers() []control.Worker {
	now := time.Now()
	var ws []control.Worker
	for _, w := range m.arb.Workers() {
		cw := control.Worker{PID: w.PID, Age: now.Sub(w.Started).Seconds(), Requests: w.Requests, RSS: w.RSS, State: w.State}
		_, cw.CPU, _ = metrics.ReadProcess(w.PID) // 0 when it cannot be read (the worker just exited)
		for _, r := range w.Slots {
			if r == nil {
				cw.Slots = append(cw.Slots, control.Slot{Idle: true})
				continue
			}
			cw.Slots = append(cw.Slots, control.Slot{Method: r.Method, Target: r.Target, Client: r.Client,
				Running: milliseconds(now.Sub(r.Start))})
		}
		ws = append(ws, cw)
	}
	return ws
}

func (m *controlMaster) Signal(sig syscall.Signal) error {
	select {
	case m.sigs <- sig:
		return nil
	default:
		return errors.New("the master has too many signals waiting; try again")
	}
}

func (m *controlMaster) Dump(ctx context.Context, pid int) (map[int]string, error) {
	return m.arb.Dump(ctx, pid)
}

// ctlMain is `gonicorn ctl`: it sends one command to a master's control socket and prints
// the answer. It returns the exit status: 0, 1 when the command failed, 2 for bad usage.
func ctlMain(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("gonicorn ctl", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	socket := fs.StringP("socket", "s", defaultControlSocket, "the master's control socket (--control-socket)")
	asJSON := fs.Bool("json", false, "print the master's answer as JSON")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: gonicorn ctl [--socket PATH] [--json] status | workers | top | reload | ttin | ttou | dump [PID]\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 || fs.NArg() > 2 {
		fs.Usage()
		return 2
	}
	reply, raw, err := ask(*socket, strings.Join(fs.Args(), " "))
	if err != nil {
		fmt.Fprintf(stderr, "gonicorn ctl: %v\n", err)
		return 1
	}
	if *asJSON {
		stdout.Write(raw)
	} else {
		printReply(stdout, reply)
	}
	if reply.Error != "" {
		fmt.Fprintf(stderr, "gonicorn ctl: %s\n", reply.Error)
		return 1
	}
	return 0
}

// ask sends one command line to the control socket at path and reads the reply.
func ask(path, command string) (control.Reply, []byte, error) {
	var reply control.Reply
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		return reply, nil, fmt.Errorf("connecting to the control socket (--socket): %w", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(control.DumpTimeout + 5*time.Second))
	if _, err := io.WriteString(c, command+"\n"); err != nil {
		return reply, nil, fmt.Errorf("sending %q to %s: %w", command, path, err)
	}
	raw, err := bufio.NewReader(c).ReadBytes('\n')
	if err != nil {
		return reply, nil, fmt.Errorf("reading the answer to %q from %s: %w", command, path, err)
	}
	if err := json.Unmarshal(raw, &reply); err != nil {
		return reply, nil, fmt.Errorf("the answer to %q from %s is not JSON: %w", command, path, err)
	}
	return reply, raw, nil
}

// printReply writes reply for people.
func printReply(w io.Writer, r control.Reply) {
	if st := r.Status; st != nil {
		fmt.Fprintf(w, "pid:      %d\nuptime:   %s\nversion:  %s\napp:      %s\nworkers:  %d\nslots:    %d busy of %d\nqueued:   %d\n",
			st.PID, seconds(st.Uptime), st.Version, st.App, st.Workers, st.Busy, st.Slots, st.Queued)
	}
	if t := r.Traffic; t != nil { // "top"; gonicorn top shows it better
		fmt.Fprintf(w, "traffic:  %d requests in %s, %.1f/s, p50 %s, p99 %s\n", t.Requests, roundSeconds(t.Span), t.Rate,
			latency(t.P50, t.Requests), latency(t.P99, t.Requests))
	}
	if r.Workers != nil {
		fmt.Fprintf(w, "%-8s %-8s %-9s %-10s %s\n", "PID", "AGE", "REQUESTS", "RSS", "STATE")
		for _, wk := range r.Workers {
			fmt.Fprintf(w, "%-8d %-8s %-9d %-10s %s\n", wk.PID, seconds(wk.Age), wk.Requests, mebibytes(wk.RSS), wk.State)
			for i, s := range wk.Slots {
				if s.Idle {
					fmt.Fprintf(w, "  slot %d: idle\n", i)
					continue
				}
				fmt.Fprintf(w, "  slot %d: %s %s from %s, running for %.0f ms\n", i, s.Method, s.Target, s.Client, s.Running)
			}
		}
	}
	pids := make([]int, 0, len(r.Dumps))
	for pid := range r.Dumps {
		pids = append(pids, pid)
	}
	sort.Ints(pids)
	for _, pid := range pids {
		fmt.Fprintf(w, "==> worker %d <==\n%s\n", pid, strings.TrimRight(r.Dumps[pid], "\n"))
	}
	if r.Done != "" {
		fmt.Fprintf(w, "%s: sent\n", r.Done)
	}
}

func seconds(s float64) string { return (time.Duration(s*1000) * time.Millisecond).String() }

func mebibytes(b int64) string { return fmt.Sprintf("%.1fMiB", float64(b)/(1<<20)) }
