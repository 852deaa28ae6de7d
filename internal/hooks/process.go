package hooks

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gonicorn/gonicorn/internal/errorlog"
	"github.com/gonicorn/gonicorn/python"
)

// callTimeout bounds how long the master waits for one hook. gunicorn waits for ever (its
// arbiter calls the hook itself); a hook that hangs here is logged and the master goes on,
// while the hook process finishes it before it takes the next call.
const callTimeout = 30 * time.Second

// Options say what the hook process runs.
type Options struct {
	Python     string   // the interpreter, the workers' (--python)
	ConfigFile string   // the config file, an absolute path
	Names      []string // the master-side hooks it defines (MasterSide)
	Settings   string   // every setting by gunicorn name, a JSON object: the hooks' cfg
	Env        []string // KEY=VALUE added to the master's environment (-e), as gunicorn's master sets them
	// Out is where the process's output goes (print() in a hook, the hooks' log): the
	// error log, tagged with its pid, as a worker's.
	Out errorlog.WorkerLog
}

// Process is the Python process that runs the master-side hooks of one config file
// (python/gonicorn_master.py). Calls are made one at a time, in order; Close ends it.
type Process struct {
	names []string
	cmd   *exec.Cmd
	conn  *net.UnixConn
	r     *bufio.Reader

	mu     sync.Mutex  // held for one call: its write and its answer
	nextID int         // the id of the last call; guarded by mu
	closed atomic.Bool // Close was called

	outputDone chan struct{} // closed when the output copy ended
	exited     chan struct{} // closed when the process was reaped
}

// HookError is a hook that raised: Traceback is Python's.
type HookError struct {
	Name      string
	Traceback string
}

func (e *HookError) Error() string {
	return "server hook " + e.Name + " raised:\n" + strings.TrimRight(e.Traceback, "\n")
}

// State is the master as a hook's server argument sees it, at the moment of the call.
type State struct {
	NumWorkers int // server.num_workers: the workers the arbiter keeps
}

// Worker is a hook's worker argument (pre_fork, child_exit).
type Worker struct {
	Age   int  // the spawn counter: 1, 2, ...
	PID   int  // 0 = not started yet ("[booting]", as gunicorn's pre_fork sees it)
	Alive bool // false once it exited
}

// Start starts the hook process and waits until it evaluated the config file; an error
// carries the file's traceback.
func Start(opts Options) (*Process, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("server hooks: socketpair: %w", err)
	}
	mine := os.NewFile(uintptr(fds[0]), "gonicorn-hooks")
	theirs := os.NewFile(uintptr(fds[1]), "gonicorn-hooks-child")
	defer theirs.Close()
	c, err := net.FileConn(mine)
	mine.Close()
	if err != nil {
		return nil, fmt.Errorf("server hooks: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("server hooks: output pipe: %w", err)
	}
	cmd := exec.Command(opts.Python, python.HookArgs()...)
	cmd.Env = append(append(os.Environ(), opts.Env...), "PYTHONUNBUFFERED=1",
		"GONICORN_CONFIG="+opts.ConfigFile, "GONICORN_HOOK_CFG="+opts.Settings)
	cmd.Stdout, cmd.Stderr = outW, outW
	cmd.ExtraFiles = []*os.File{theirs} // fd 3
	// It dies with the master, as the workers do.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	outW.Close()
	if err != nil {
		outR.Close()
		c.Close()
		return nil, fmt.Errorf("server hooks: starting %s: %w", opts.Python, err)
	}
	p := &Process{names: opts.Names, cmd: cmd, conn: c.(*net.UnixConn), r: bufio.NewReader(c),
		outputDone: make(chan struct{}), exited: make(chan struct{})}
	go func() {
		defer close(p.outputDone)
		defer outR.Close()
		errorlog.CopyWorkerOutput(outR, cmd.Process.Pid, errorlog.Kind.Level, nil, opts.Out) // as a worker's
	}()
	go func() {
		cmd.Wait()
		close(p.exited)
	}()
	if err := p.answer(0, "", time.Now().Add(callTimeout)); err != nil {
		p.Close()
		var he *HookError
		if errors.As(err, &he) {
			return nil, fmt.Errorf("config file %s, evaluated for its server hooks:\n%s", opts.ConfigFile, strings.TrimRight(he.Traceback, "\n"))
		}
		return nil, err
	}
	return p, nil
}

// Has reports whether the config file defines the master-side hook name.
func (p *Process) Has(name string) bool { return p != nil && slices.Contains(p.names, name) }

// call is one line to the hook process.
type call struct {
	ID         int     `json:"id"`
	Hook       string  `json:"hook"`
	NumWorkers int     `json:"num_workers"`
	Worker     *worker `json:"worker,omitempty"`
	Args       []any   `json:"args,omitempty"`
}

type worker struct {
	Age   int  `json:"age"`
	PID   any  `json:"pid"`
	Alive bool `json:"alive"`
}

// Call runs the hook name with the server argument state, the worker argument w (pre_fork,
// child_exit; nil for the others) and the hook's further arguments (nworkers_changed's
// new_value and old_value; nil is None), and returns once it returned. A hook the file does
// not define returns nil at once. An exception in the hook is a *HookError.
func (p *Process) Call(name string, state State, w *Worker, args ...any) error {
	if !p.Has(name) {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed.Load() {
		return fmt.Errorf("server hook %s: the hook process was stopped", name)
	}
	p.nextID++
	c := call{ID: p.nextID, Hook: name, NumWorkers: state.NumWorkers, Args: args}
	if w != nil {
		c.Worker = &worker{Age: w.Age, PID: w.PID, Alive: w.Alive}
		if w.PID == 0 {
			c.Worker.PID = "[booting]"
		}
	}
	line, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("server hook %s: %w", name, err)
	}
	deadline := time.Now().Add(callTimeout)
	p.conn.SetWriteDeadline(deadline)
	if _, err := p.conn.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("server hook %s: the hook process is gone: %w", name, err)
	}
	return p.answer(c.ID, name, deadline)
}

// answer reads the hook process's answers until the one to call id: earlier ones answer
// calls that took longer than callTimeout.
func (p *Process) answer(id int, name string, deadline time.Time) error {
	p.conn.SetReadDeadline(deadline)
	for {
		line, err := p.r.ReadBytes('\n')
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return fmt.Errorf("server hook %s: no answer after %v; going on without it", name, callTimeout)
			}
			return fmt.Errorf("server hook %s: the hook process is gone: %w", name, err)
		}
		var a struct {
			ID    int    `json:"id"`
			OK    bool   `json:"ok"`
			Error string `json:"error"`
		}
		if err := json.Unmarshal(line, &a); err != nil {
			return fmt.Errorf("server hook %s: reading the hook process's answer %q: %w", name, line, err)
		}
		if a.ID != id {
			continue
		}
		if !a.OK {
			return &HookError{Name: name, Traceback: a.Error}
		}
		return nil
	}
}

// Run is Call that logs a failure to log: a hook's exception as one ERROR entry with its
// traceback ("Exception in server hook NAME"), any other failure with its reason. It returns
// the error too, for the hooks whose failure stops the start.
func (p *Process) Run(log *slog.Logger, name string, state State, w *Worker, args ...any) error {
	err := p.Call(name, state, w, args...)
	var he *HookError
	switch {
	case err == nil:
	case errors.As(err, &he):
		log.Error("Exception in server hook "+name, "traceback", strings.TrimRight(he.Traceback, "\n"))
	default:
		log.Error(err.Error())
	}
	return err
}

// Close ends the hook process: it reads EOF and exits; one that does not within a second is
// killed. It returns once the process was reaped and its output logged. Idempotent.
func (p *Process) Close() {
	if p == nil {
		return
	}
	if p.closed.Swap(true) {
		return
	}
	p.conn.CloseWrite()
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-p.exited:
	case <-t.C:
		p.cmd.Process.Kill()
		<-p.exited
	}
	p.conn.Close()
	select {
	case <-p.outputDone:
	case <-time.After(100 * time.Millisecond): // a process a hook started holds the pipe
	}
}
