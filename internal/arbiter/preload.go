package arbiter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/gonicorn/gonicorn/internal/errorlog"
	"github.com/gonicorn/gonicorn/internal/wire"
	"github.com/gonicorn/gonicorn/python"
)

// --preload (gunicorn's preload_app): the app is imported once, by a Python process of its
// own, the preloader, and every worker is forked from it, so that the workers share the
// imported modules copy-on-write and a replacement starts in milliseconds instead of
// importing the app again (docs/architecture.md, "Preload").
//
// The arbiter supervises a forked worker exactly as one it started itself, because it is
// the master's child too: the preloader forks a middle process, which forks the worker and
// exits at once; the orphaned worker is re-parented to the master, which is its "child
// subreaper" (PR_SET_CHILD_SUBREAPER) while the fork is under way. The preloader waits for
// the middle process and only then answers with the worker's pid, so the master can wait
// for it, signal it (pidfd) and read its /proc files like any other worker's.
//
// The master is a subreaper only during a fork (subreaper_linux.go): otherwise a process
// that a worker started and left behind when it died would be re-parented to the master,
// which never waits for processes it does not know, and would stay a zombie.
//
// The conversation over the preloader's control socket (docs/protocol.md, "Preload"):
//
//	preloader → master  Y  marshal {pid, python, ok, error}: the app was imported, or not
//	master → preloader  K  marshal {multiprocess, age}; fds: the worker's output pipe, its slots
//	preloader → master  P  marshal {pid, error}: the forked worker, or why not

// Frame kinds of the preloader's control socket; Y is wire.Ready.
const (
	forkKind wire.Kind = 'K' // master → preloader: fork a worker with the attached fds
	pidKind  wire.Kind = 'P' // preloader → master: the worker's pid, or an error
)

// forkTimeout bounds a fork request: forking takes milliseconds, even for a big app.
const forkTimeout = 30 * time.Second

// forkSpawner is the spawner of --preload. It keeps one preloader, for the spec generation
// of the last spawn (a reload, which imports new code, starts a new one), and starts it
// again if it died.
type forkSpawner struct {
	log *slog.Logger
	out Output

	mu      sync.Mutex // serialises forks, and guards the fields below
	current *preloader // nil until the first spawn, and after close
	closed  bool       // close was called: no more spawns
	// failedGen and failed remember the generation whose preloader could not load the app,
	// so that the other spawns of that reload fail with the same error instead of
	// importing the broken code once each. failed nil = none.
	failedGen int
	failed    error
}

// start forks a worker from the preloader of spec's generation, starting that first if
// needed. A preloader that cannot import the app is a *LoadError. There is no report pipe:
// --reload turns --preload off (config's devmode.go), as each of its restarts needs new code.
func (f *forkSpawner) start(ctx context.Context, spec *Spec, id int, slots []*os.File, out, _ *os.File) (started, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return started{}, fmt.Errorf("spawning worker %d: the arbiter is stopping", id)
	}
	p, err := f.preloaderLocked(ctx, spec)
	if err != nil {
		return started{}, err
	}
	proc, err := p.fork(spec, id, slots, out)
	if err != nil {
		return started{}, fmt.Errorf("forking worker %d from the preloader (pid:%d): %w", id, p.pid, err)
	}
	return started{proc: proc, python: p.python}, nil
}

// preloaderLocked returns the running preloader of spec's generation, starting one if there
// is none; a new one replaces the previous preloader, which exits. A spawn of an older
// generation (begun before a reload) gets the newer preloader, as it would import the code
// on disk without --preload. The caller holds f.mu.
func (f *forkSpawner) preloaderLocked(ctx context.Context, spec *Spec) (*preloader, error) {
	if p := f.current; p != nil && p.gen >= spec.generation && p.usable() {
		return p, nil
	}
	if f.failed != nil && f.failedGen == spec.generation {
		return nil, f.failed
	}
	p, err := startPreloader(ctx, spec, f.log, f.out)
	if err != nil {
		if isLoadError(err) {
			f.failedGen, f.failed = spec.generation, err
		}
		return nil, err
	}
	if old := f.current; old != nil {
		go old.stop() // its workers are the master's children: they serve on
	}
	f.current, f.failed = p, nil
	return p, nil
}

// retire stops the preloader, if any: a reload turned --preload off.
func (f *forkSpawner) retire() {
	f.mu.Lock()
	p := f.current
	f.current = nil
	f.mu.Unlock()
	if p != nil {
		p.stop()
	}
}

func (f *forkSpawner) close() {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	f.retire()
}

// preloader is one preloading Python process (python/gonicorn_preload.py): it imported the
// app of one spec generation and forks workers on request, one at a time.
type preloader struct {
	gen    int    // the Spec.generation it loaded
	pid    int    // its process id
	python string // the interpreter's path
	cmd    *exec.Cmd
	conn   *net.UnixConn // the control socket; requests are serialised by forkSpawner.mu
	reader *wire.Reader

	exited  chan struct{} // closed when the process was reaped
	waitErr error         // its exit status; valid after exited is closed
	stopped chan struct{} // closed by stop: its exit is expected
	stopOne sync.Once
}

// startPreloader starts a preloader for spec and waits until it imported the app (within
// spec.BootTimeout). Its output goes to the error log, tagged with its pid, like a worker's.
func startPreloader(ctx context.Context, spec *Spec, log *slog.Logger, out Output) (*preloader, error) {
	conn, child, err := socketpair(0)
	if err != nil {
		return nil, fmt.Errorf("starting the preloader: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		conn.Close()
		child.Close()
		return nil, fmt.Errorf("starting the preloader: output pipe: %w", err)
	}
	cmd := exec.Command(spec.Python, python.PreloadArgs()...)
	cmd.Dir = spec.Dir
	cmd.Env = append(workerEnv(spec, 0), "GONICORN_PRELOAD_FD=3", "GONICORN_PRELOAD_TITLE="+spec.PreloadTitle)
	cmd.Stdout, cmd.Stderr = outW, outW
	cmd.ExtraFiles = []*os.File{child}
	// The preloader runs as --user and --group already, so the app is imported as the
	// workers' user, and the workers it forks need not change their credentials.
	cmd.SysProcAttr = procAttr()
	cmd.SysProcAttr.Credential = spec.Credential
	err = cmd.Start()
	outW.Close()
	child.Close()
	if err != nil {
		outR.Close()
		conn.Close()
		return nil, startError("the preloader", spec, err)
	}
	p := &preloader{gen: spec.generation, pid: cmd.Process.Pid, python: cmd.Path, cmd: cmd, conn: conn,
		reader: wire.NewReader(conn), exited: make(chan struct{}), stopped: make(chan struct{})}
	outputDone := make(chan struct{})
	go func() {
		defer close(outputDone)
		defer outR.Close()
		errorlog.CopyWorkerOutput(outR, p.pid, preloaderLevel, nil, out)
	}()
	go p.reap(log, outputDone)
	log.Info("Booting preloader with pid: " + itoa(p.pid))
	if err := p.loaded(ctx, spec); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// loaded waits for the preloader's Y frame: the app was imported, or why not.
func (p *preloader) loaded(ctx context.Context, spec *Spec) error {
	deadline := time.Now().Add(spec.BootTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	defer context.AfterFunc(ctx, func() { p.conn.SetReadDeadline(time.Now()) })()
	p.conn.SetReadDeadline(deadline)
	defer p.conn.SetReadDeadline(time.Time{})
	f, err := p.reader.Next()
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return fmt.Errorf("the preloader (pid:%d) did not load the app within %v", p.pid, spec.BootTimeout)
		}
		<-p.exited
		return fmt.Errorf("the preloader (pid:%d) failed to boot (%v): %w", p.pid, p.waitErr, err)
	}
	if f.Kind != wire.Ready {
		return fmt.Errorf("the preloader (pid:%d) answered with frame %q, want %q", p.pid, f.Kind, wire.Ready)
	}
	info, err := wire.DecodeReady(f.Payload)
	if err != nil {
		return fmt.Errorf("the preloader (pid:%d): %w", p.pid, err)
	}
	if !info.OK {
		return &LoadError{App: spec.appName(), Python: p.python, Version: info.Python, Dir: spec.Dir, Traceback: info.Error}
	}
	return nil
}

// fork asks the preloader for a worker whose output is out and whose slots are slots, and
// returns the worker's process, a child of the master. It does not give up when the
// arbiter's context ends: a fork takes milliseconds, and a worker forked but never known
// to the master would run unsupervised (or, were the master no longer its subreaper,
// orphaned); spawn then stops the worker like any other whose handshake was cut short.
func (p *preloader) fork(spec *Spec, id int, slots []*os.File, out *os.File) (*os.Process, error) {
	multi := "0"
	if spec.Workers > 1 {
		multi = "1"
	}
	payload := wire.AppendDictStart(nil)
	payload = wire.AppendString(payload, "multiprocess")
	payload = wire.AppendString(payload, multi)
	payload = wire.AppendString(payload, "age") // gunicorn's worker.age, for the hooks
	payload = wire.AppendString(payload, strconv.Itoa(id))
	payload = wire.AppendDictEnd(payload)
	frame := append(wire.AppendHeader(nil, forkKind, len(payload)), payload...)
	fds := make([]int, 0, 1+len(slots))
	fds = append(fds, int(out.Fd())) // Fd makes it blocking, as the worker expects
	for _, s := range slots {
		fds = append(fds, int(s.Fd()))
	}

	// The worker is re-parented to the master when the middle process exits, before the
	// preloader answers.
	if err := setSubreaper(true); err != nil {
		return nil, err
	}
	defer setSubreaper(false)
	p.conn.SetDeadline(time.Now().Add(forkTimeout))
	defer p.conn.SetDeadline(time.Time{})
	if _, _, err := p.conn.WriteMsgUnix(frame, syscall.UnixRights(fds...), nil); err != nil {
		p.discard()
		return nil, fmt.Errorf("sending the fork request: %w", err)
	}
	proc, err := p.answer()
	if err != nil && !errors.Is(err, errForkFailed) {
		// The conversation is out of step (a late P would answer the next K): this
		// preloader is done, and the next spawn starts another.
		p.discard()
	}
	return proc, err
}

// errForkFailed is wrapped by the error of a P frame that says why the fork failed; the
// preloader is still in step with the master.
var errForkFailed = errors.New("the preloader could not fork")

// answer reads the preloader's answer to a fork request: the worker's process.
func (p *preloader) answer() (*os.Process, error) {
	f, err := p.reader.Next()
	if err != nil {
		return nil, fmt.Errorf("reading the forked worker's pid: %w", err)
	}
	if f.Kind != pidKind {
		return nil, fmt.Errorf("answered the fork request with frame %q, want %q", f.Kind, pidKind)
	}
	v, err := wire.Decode(f.Payload)
	m, ok := v.(map[string]any)
	if err != nil || !ok {
		return nil, fmt.Errorf("decoding the %q frame %q: %v", pidKind, f.Payload, err)
	}
	if msg, _ := m["error"].(string); msg != "" {
		return nil, fmt.Errorf("%w: %s", errForkFailed, msg)
	}
	pid, ok := m["pid"].(int64)
	if !ok || pid <= 0 {
		return nil, fmt.Errorf("the %q frame has no pid: %v", pidKind, m)
	}
	// FindProcess opens a pidfd: signals and the wait reach this process, never another
	// that reused its pid.
	return os.FindProcess(int(pid))
}

// usable reports whether the preloader runs and was not asked to stop.
func (p *preloader) usable() bool {
	select {
	case <-p.exited:
		return false
	case <-p.stopped:
		return false
	default:
		return true
	}
}

// discard stops a preloader that cannot serve the next request, in the background.
func (p *preloader) discard() {
	p.stopOne.Do(func() {
		close(p.stopped)
		p.conn.Close()
	})
	go p.stop()
}

// stop closes the control socket, so that the preloader exits (its workers do not: they are
// the master's children), and waits for it; SIGKILL after preloaderExitWait. Idempotent.
func (p *preloader) stop() {
	p.stopOne.Do(func() {
		close(p.stopped)
		p.conn.Close()
	})
	t := time.NewTimer(preloaderExitWait)
	defer t.Stop()
	select {
	case <-p.exited:
	case <-t.C:
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// preloaderExitWait is how long a preloader has to exit once its control socket closed.
const preloaderExitWait = 2 * time.Second

// reap waits for the preloader to exit, and logs an exit that stop did not ask for: the
// next spawn starts a new preloader, which imports the app again.
func (p *preloader) reap(log *slog.Logger, outputDone <-chan struct{}) {
	p.waitErr = p.cmd.Wait()
	t := time.NewTimer(outputDelay)
	select {
	case <-outputDone:
	case <-t.C:
	}
	t.Stop()
	close(p.exited)
	select {
	case <-p.stopped:
		log.Debug("preloader exited", "pid", p.pid, "status", p.waitErr)
	default:
		how := "exited with code 0"
		if p.waitErr != nil {
			how = p.waitErr.Error()
		}
		log.Error("Preloader (pid:" + itoa(p.pid) + ") " + how + "; the next worker starts a new one, which imports the app again")
	}
}

// preloaderLevel is the error-log level of a line of the preloader's output, as for a
// worker (outputLevel).
func preloaderLevel(k errorlog.Kind) slog.Level {
	switch k {
	case errorlog.Traceback:
		return slog.LevelError
	case errorlog.Crash:
		return errorlog.LevelCritical
	case errorlog.Warning, errorlog.StackDump:
		return slog.LevelWarn
	}
	return slog.LevelInfo
}
