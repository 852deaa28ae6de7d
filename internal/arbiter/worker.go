package arbiter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gonicorn/gonicorn/internal/dispatch"
	"github.com/gonicorn/gonicorn/internal/errorlog"
	"github.com/gonicorn/gonicorn/internal/wire"
)

// LoadError reports that the application could not be imported or created. The server stops
// with exit status 3 (gunicorn's WORKER_BOOT_ERROR) instead of respawning in a loop.
type LoadError struct {
	App       string
	Python    string // the interpreter that ran the worker, as found on PATH
	Version   string // its version, as the worker reported it ("cpython 3.11.7")
	Dir       string // the workers' working directory (--chdir); "" = the master's
	Traceback string // the Python traceback, as the worker printed it
}

func (e *LoadError) Error() string {
	msg := fmt.Sprintf("failed to load application %q with %s (%s):\n%s", e.App, e.Python, e.Version, strings.TrimRight(e.Traceback, "\n"))
	if hint := e.hint(); hint != "" {
		msg += "\n" + hint
	}
	return msg
}

// hint says what to do about the most common load error, a module that is not found:
// either a package the interpreter lacks (a user who installed Django into a virtualenv and
// started gonicorn with the system's python3), or the application's own module, which is
// looked up in the working directory. "" for other errors.
func (e *LoadError) hint() string {
	tb := strings.TrimRight(e.Traceback, "\n")
	last := tb[strings.LastIndexByte(tb, '\n')+1:]
	missing, ok := strings.CutPrefix(last, "ModuleNotFoundError: No module named ")
	if !ok {
		return ""
	}
	missing = strings.Trim(missing, "'\"")
	top, _, _ := strings.Cut(missing, ".")
	appTop, _, _ := strings.Cut(e.App, ":")
	appTop, _, _ = strings.Cut(appTop, ".")
	if top == appTop {
		dir := e.Dir
		if dir == "" {
			dir = "the current directory"
		}
		return fmt.Sprintf("Hint: the application's module %q is looked up in %s and in --pythonpath; start gonicorn in the project's directory or name it with --chdir.", missing, dir)
	}
	return fmt.Sprintf("Hint: the module %q is not installed for %s. Start gonicorn with --python naming the interpreter that has it (e.g. --python /path/to/venv/bin/python), or activate its virtualenv first (gonicorn then uses $VIRTUAL_ENV/bin/python).", missing, e.Python)
}

// worker is one Python worker process and its slots. It is created by spawn and owned by the
// arbiter's Run goroutine.
type worker struct {
	id    int         // 1-based age order, for logs
	spec  *Spec       // what it was spawned with; a reload changes the arbiter's, not this one
	proc  *os.Process // the master's child, from the spawner (spawn.go)
	pid   int
	group *dispatch.Group
	start time.Time

	// python is the path of the interpreter that runs it, for a LoadError's message.
	python string

	// ready is what the worker reported in its readiness handshake (the first slot's).
	ready wire.ReadyInfo

	// bootRSS is the resident set size in bytes right after the handshake, before any
	// request, measured by adopt when spec.MaxMemory is set; 0 = not measured.
	bootRSS int64

	// booted is how long the worker took from its start to the end of its handshake: what
	// its replacement is expected to take, for recycling ahead of --max-requests.
	booted time.Duration

	// reports is the read end of the DevMode report pipe (startReports); nil otherwise.
	// Closed by reap.
	reports *os.File

	exited     chan struct{} // closed when the process was reaped (see reap)
	waitErr    error         // process exit status; valid after exited is closed
	outputDone chan struct{} // closed when copyOutput returned: its pipe reached EOF or was closed
	checked    int64         // requests taken at the last recycling check; owned by Run

	state workerState // owned by the Run goroutine (and Boot, before Run); set with setState
	// shownState is a copy of state for the control socket (Workers), which Run does not own.
	shownState atomic.Int32
	// dump is the stack dump a control-socket caller waits for (Dump); nil = none.
	dump     atomic.Pointer[stackCapture]
	maxedOut atomic.Bool // set when the group reached RecycleAt (near MaxRequests); Run recycles it
	timedOut atomic.Bool // a request ran past --timeout; the worker is being killed
	// timeoutID is the request id of the request that timed out ("" if none), set before
	// the worker is asked for its stacks, so that the dump's record names it.
	timeoutID atomic.Pointer[string]

	// killedFor says why the master sent SIGKILL, for the exit line ("after WORKER
	// TIMEOUT"); the first reason given wins. nil: the master did not, so a SIGKILL came from
	// elsewhere (the kernel's OOM killer, most often).
	killedFor atomic.Pointer[string]
	// termedFor likewise says why the master sent SIGTERM to a retired worker; nil for the
	// SIGTERM of a stop, or one from elsewhere.
	termedFor atomic.Pointer[string]
}

// workerState is where a worker is in its life, as the arbiter sees it.
type workerState int

const (
	serving   workerState = iota // in the pool
	recycling                    // past a recycling limit; still serving while its replacement boots
	retired                      // replaced: no new requests; its sockets close once it drained
)

// spawn starts one worker process and completes the readiness handshake on every slot. It
// returns a *LoadError if the application failed to load.
func (a *Arbiter) spawn(ctx context.Context, id int) (*worker, error) {
	if a.OnSpawn != nil {
		a.OnSpawn(id)
	}
	spec := a.current() // a reload may change it for later spawns, not this one
	threads := spec.Threads
	parents := make([]*net.UnixConn, 0, threads)
	children := make([]*os.File, 0, threads)
	closeAll := func() {
		for _, c := range parents {
			c.Close()
		}
		for _, f := range children {
			f.Close()
		}
	}
	for i := 0; i < threads; i++ {
		pc, cf, err := socketpair(i)
		if err != nil {
			closeAll()
			return nil, err
		}
		parents = append(parents, pc)
		children = append(children, cf)
	}

	outR, outW, err := os.Pipe()
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("spawning worker %d: output pipe: %w", id, err)
	}
	// In DevMode the worker reports its module files on a pipe, the fd after its sockets.
	var reportR, reportW *os.File
	if spec.DevMode {
		if reportR, reportW, err = os.Pipe(); err != nil {
			outR.Close()
			outW.Close()
			closeAll()
			return nil, fmt.Errorf("spawning worker %d: report pipe: %w", id, err)
		}
	}
	st, err := a.spawnerFor(spec).start(ctx, spec, id, children, outW, reportW)
	if reportW != nil {
		reportW.Close()
	}
	outW.Close()
	for _, f := range children {
		f.Close()
	}
	children = nil
	if err != nil {
		outR.Close()
		if reportR != nil {
			reportR.Close()
		}
		closeAll()
		return nil, err
	}
	w := &worker{id: id, spec: spec, proc: st.proc, python: st.python, pid: st.proc.Pid, start: time.Now(),
		exited: make(chan struct{}), outputDone: make(chan struct{})}
	w.reports = reportR
	go w.copyOutput(outR, a.out)
	if reportR != nil {
		a.startReports(reportR)
	}
	go a.reap(w, outR)

	slots := make([]*dispatch.Slot, threads)
	for i, c := range parents {
		slots[i] = dispatch.NewSlot(c)
	}
	if w.ready, err = a.handshake(ctx, w, slots); err != nil {
		w.kill("after its readiness handshake failed")
		<-w.exited
		closeAll()
		return nil, err
	}
	w.group = dispatch.NewGroup(w.pid, slots)
	w.booted = time.Since(w.start)
	return w, nil
}

// outputDelay is how long reap waits, once a worker was reaped, for the last lines in its
// output pipe (a crash's stack dump), so that they are logged before its exit line; like
// os/exec's WaitDelay, it bounds the wait for a pipe that a process the worker started still
// holds open.
const outputDelay = 100 * time.Millisecond

// reap waits for the worker process to exit and closes w.exited: at once if its output
// reached EOF, else after outputDelay. Reaping never waits for the pipe itself: a process
// that the app started without redirecting its output (subprocess.Popen) holds it open as
// long as it runs. The rest of that output is still logged, tagged with the worker's pid,
// until the pipe's EOF, or until Stop closes it (lingering output, see closeOutputs).
func (a *Arbiter) reap(w *worker, output *os.File) {
	w.waitErr = waitProcess(w.proc)
	if w.reports != nil {
		w.reports.Close() // ends startReports' goroutine, also if a child holds the pipe
	}
	t := time.NewTimer(outputDelay)
	defer t.Stop()
	select {
	case <-w.outputDone:
		a.reaped(w)
		close(w.exited)
		return
	case <-t.C:
	}
	a.lingerOutput(w, output)
	a.reaped(w)
	close(w.exited)
	<-w.outputDone // ends at the pipe's EOF, or when Stop closes it
	a.mu.Lock()
	delete(a.lingering, w)
	a.mu.Unlock()
}

// reaped tells OnReap that w's process was reaped.
func (a *Arbiter) reaped(w *worker) {
	if a.OnReap != nil {
		a.OnReap(w.id, w.pid)
	}
}

// lingerOutput records the output pipe of a reaped worker that another process holds open,
// so that Stop can close it; after Stop it is closed at once.
func (a *Arbiter) lingerOutput(w *worker, output *os.File) {
	a.mu.Lock()
	defer a.mu.Unlock()
	select {
	case <-a.stopped:
		output.Close()
		return
	default:
	}
	a.lingering[w] = output
	a.log.Info("Worker (pid:" + itoa(w.pid) + ") exited, but a process it started holds its output open; " +
		"its lines are still logged until that process ends")
}

// closeOutputs ends the output copies of reaped workers whose pipes are still held open by
// processes they started (lingerOutput): the master is stopping, and nothing reads after it.
// Called by Stop once every worker was reaped.
func (a *Arbiter) closeOutputs() {
	a.mu.Lock()
	ws := make([]*worker, 0, len(a.lingering))
	for w, output := range a.lingering {
		output.Close()
		ws = append(ws, w)
	}
	a.mu.Unlock()
	for _, w := range ws {
		<-w.outputDone
	}
}

// handshake sends the marshal test vector on every slot and waits for each thread's ready
// frame. It returns the first slot's report.
func (a *Arbiter) handshake(ctx context.Context, w *worker, slots []*dispatch.Slot) (wire.ReadyInfo, error) {
	spec := w.spec
	deadline := time.Now().Add(spec.BootTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	var first wire.ReadyInfo
	vector := wire.VectorFrame()
	for _, s := range slots {
		if _, err := s.Conn.Write(vector); err != nil {
			return wire.ReadyInfo{}, fmt.Errorf("worker %d (pid:%d): sending handshake: %w", w.id, w.pid, err)
		}
	}
	// Reads are unblocked by the deadline, by ctx, or by the process exiting (EOF).
	stop := context.AfterFunc(ctx, func() {
		for _, s := range slots {
			s.Conn.SetReadDeadline(time.Now())
		}
	})
	defer stop()
	for i, s := range slots {
		s.Conn.SetReadDeadline(deadline)
		f, err := s.Reader.Next()
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return wire.ReadyInfo{}, fmt.Errorf("worker %d (pid:%d) not ready after %v", w.id, w.pid, spec.BootTimeout)
			}
			<-w.exited
			return wire.ReadyInfo{}, fmt.Errorf("worker %d (pid:%d) failed to boot (%v): %w", w.id, w.pid, w.waitErr, err)
		}
		if f.Kind != wire.Ready {
			return wire.ReadyInfo{}, fmt.Errorf("worker %d (pid:%d) slot %d: handshake answered with frame %q, want %q", w.id, w.pid, i, f.Kind, wire.Ready)
		}
		info, err := wire.DecodeReady(f.Payload)
		if err != nil {
			return wire.ReadyInfo{}, fmt.Errorf("worker %d (pid:%d) slot %d: %w", w.id, w.pid, i, err)
		}
		if !info.OK {
			return wire.ReadyInfo{}, &LoadError{App: spec.appName(), Python: w.python, Version: info.Python, Dir: spec.Dir, Traceback: info.Error}
		}
		if i == 0 {
			a.log.Debug("worker ready", "pid", w.pid, "python", info.Python)
			first = info
		}
	}
	for _, s := range slots {
		s.Conn.SetReadDeadline(time.Time{})
	}
	return first, nil
}

// workerEnv is the environment of worker id's interpreter, or of the preloader (id 0)
// (docs/protocol.md, "Worker process start"), but GONICORN_FDS, which says where its
// sockets are.
func workerEnv(spec *Spec, id int) []string {
	env := append(os.Environ(), spec.Env...)
	multi := "0"
	if spec.Workers > 1 {
		multi = "1"
	}
	// glibc returns freed memory at the top of the heap to the kernel above 128 KiB, so a
	// worker handling 64 KiB bodies grows and shrinks its heap (brk + page faults) on every
	// request; measured on echo64k, that halved the rate. A user's own setting wins.
	if !hasEnv(env, "MALLOC_TRIM_THRESHOLD_") {
		env = append(env, "MALLOC_TRIM_THRESHOLD_=4194304")
	}
	if h := spec.Hooks; len(h.Names) > 0 {
		// The config file's worker-side hooks (python/gonicorn_hooks.py): which, the file,
		// their cfg, and gunicorn's worker.age and server.num_workers.
		env = append(env, "GONICORN_CONFIG="+h.ConfigFile,
			"GONICORN_HOOK_CFG="+h.Settings, "GONICORN_WORKER_AGE="+strconv.Itoa(id),
			"GONICORN_NUM_WORKERS="+strconv.Itoa(spec.Workers))
	}
	return append(env,
		"PYTHONUNBUFFERED=1",
		"GONICORN_APP="+spec.App,
		"GONICORN_DJANGO_SETTINGS="+spec.DjangoSettings,
		"GONICORN_PASTE="+spec.Paste,
		"GONICORN_PASTE_GLOBAL="+pasteGlobal(spec.PasteGlobal),
		"GONICORN_PYTHONPATH="+strings.Join(spec.PythonPath, string(os.PathListSeparator)),
		"GONICORN_MULTIPROCESS="+multi,
		"GONICORN_SCHED="+spec.Sched,
		"GONICORN_TITLE="+spec.Title,
		"GONICORN_HOOKS="+strings.Join(spec.Hooks.Names, ","),
	)
}

// pasteGlobal encodes --paste-global's variables for the worker as a JSON object ("" for
// none): keys and values may hold any character.
func pasteGlobal(vars map[string]string) string {
	if len(vars) == 0 {
		return ""
	}
	b, _ := json.Marshal(vars) // a map of strings always encodes
	return string(b)
}

// hasEnv reports whether env sets key.
func hasEnv(env []string, key string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, key+"=") {
			return true
		}
	}
	return false
}

// socketpair returns the master's end as a *net.UnixConn and the worker's end as a file to
// inherit.
func socketpair(i int) (*net.UnixConn, *os.File, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair for slot %d: %w", i, err)
	}
	pf := os.NewFile(uintptr(fds[0]), "gonicorn-slot")
	defer pf.Close() // FileConn dups it
	c, err := net.FileConn(pf)
	if err != nil {
		syscall.Close(fds[1])
		return nil, nil, fmt.Errorf("socketpair for slot %d: %w", i, err)
	}
	return c.(*net.UnixConn), os.NewFile(uintptr(fds[1]), "gonicorn-worker-slot"), nil
}

// copyOutput logs every line the worker prints, tagged with its pid, until the pipe closes;
// each at the level of what it is part of (outputLevel).
func (w *worker) copyOutput(r io.ReadCloser, out Output) {
	defer close(w.outputDone)
	defer r.Close()
	errorlog.CopyWorkerOutput(r, w.pid, w.outputLevel, w.outputAttrs, dumpTap{out: out, w: w})
}

// outputAttrs are the attributes of a block of the worker's output of kind k, in a log that
// keeps blocks whole: the stack dump of a --timeout names the request that timed out.
func (w *worker) outputAttrs(k errorlog.Kind) []slog.Attr {
	if k != errorlog.StackDump || !w.timedOut.Load() {
		return nil
	}
	if id := w.timeoutID.Load(); id != nil && *id != "" {
		return []slog.Attr{slog.String("request_id", *id)}
	}
	return nil
}

// outputLevel is the error-log level of a line of the worker's output of kind k
// (errorlog.Kind.Level), but a stack dump is CRITICAL when the worker is being killed for
// --timeout, after the WORKER TIMEOUT line it explains (WARNING when PWR asked for it).
func (w *worker) outputLevel(k errorlog.Kind) slog.Level {
	if k == errorlog.StackDump && w.timedOut.Load() {
		return errorlog.LevelCritical
	}
	return k.Level()
}

func (w *worker) signal(sig syscall.Signal) {
	select {
	case <-w.exited:
	default:
		w.proc.Signal(sig)
	}
}

// kill sends SIGKILL; why completes "was sent SIGKILL ..." in the exit line ("": no reason
// is claimed, for a worker that may have died of something else already).
func (w *worker) kill(why string) {
	if why != "" {
		w.killedFor.CompareAndSwap(nil, &why)
	}
	w.signal(syscall.SIGKILL)
}

// term sends SIGTERM; why completes "was sent SIGTERM ..." in the exit line.
func (w *worker) term(why string) {
	w.termedFor.CompareAndSwap(nil, &why)
	w.signal(syscall.SIGTERM)
}

// closeSlots closes the master's ends of the worker's sockets: its threads read EOF and
// the process exits.
func (w *worker) closeSlots() {
	if w.group == nil {
		return
	}
	for _, s := range w.group.Slots {
		s.Conn.Close()
	}
}

// exitReason describes how the worker process ended, in gunicorn's words.
func (w *worker) exitReason() string {
	var ee *exec.ExitError
	if errors.As(w.waitErr, &ee) {
		if st, ok := ee.Sys().(syscall.WaitStatus); ok && st.Signaled() {
			if st.Signal() == syscall.SIGKILL {
				if why := w.killedFor.Load(); why != nil {
					return "was sent SIGKILL " + *why
				}
				// gunicorn's words for a SIGKILL it did not send.
				return "was sent SIGKILL! Perhaps out of memory?"
			}
			if why := w.termedFor.Load(); why != nil && st.Signal() == syscall.SIGTERM {
				return "was sent SIGTERM " + *why
			}
			return "was sent " + unix.SignalName(st.Signal())
		}
		return fmt.Sprintf("exited with code %d", ee.ExitCode())
	}
	if w.waitErr != nil {
		return w.waitErr.Error()
	}
	return "exited with code 0"
}
