package arbiter

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/gonicorn/gonicorn/python"
)

// A spawner starts worker processes. The arbiter supervises what it returns by pid, the
// same way for every spawner: the process is the master's child, which it waits for,
// signals, measures and kills. execSpawner runs each worker as an interpreter of its own
// (the default); forkSpawner (--preload, preload.go) forks each from a Python process that
// imported the app once.
type spawner interface {
	// start starts a worker of spec whose slots are the socket ends in slots (the worker's
	// first thread serves slots[0]) and whose stdout and stderr are out; report, when not
	// nil, is the write end of --reload's module report pipe (spec.DevMode). The caller
	// closes its copies of slots, out and report afterwards. An app that does not load is a
	// *LoadError.
	start(ctx context.Context, spec *Spec, id int, slots []*os.File, out, report *os.File) (started, error)
	// close ends what the spawner keeps running besides the workers; Stop calls it once
	// every worker was reaped.
	close()
}

// started is a worker process that a spawner started.
type started struct {
	proc   *os.Process
	python string // the interpreter's path, for a LoadError's message
}

// execSpawner starts each worker as `python -c <bootstrap> <modules>` (docs/protocol.md,
// "Worker process start"): its own interpreter, which imports the app itself.
type execSpawner struct{}

func (execSpawner) start(_ context.Context, spec *Spec, id int, slots []*os.File, out, report *os.File) (started, error) {
	fds := make([]string, len(slots))
	for i := range slots {
		fds[i] = strconv.Itoa(3 + i) // ExtraFiles start at fd 3
	}
	cmd := exec.Command(spec.Python, python.Args()...)
	cmd.Dir = spec.Dir
	cmd.Env = append(workerEnv(spec, id), "GONICORN_FDS="+strings.Join(fds, ","))
	cmd.Stdout, cmd.Stderr = out, out
	cmd.ExtraFiles = slots
	if report != nil { // the fd after the sockets
		cmd.Env = append(cmd.Env, "GONICORN_RELOAD_FD="+strconv.Itoa(3+len(slots)))
		cmd.ExtraFiles = append(slots[:len(slots):len(slots)], report)
	}
	cmd.SysProcAttr = procAttr()
	cmd.SysProcAttr.Credential = spec.Credential
	if err := cmd.Start(); err != nil {
		return started{}, startError("worker "+itoa(id), spec, err)
	}
	return started{proc: cmd.Process, python: cmd.Path}, nil
}

func (execSpawner) close() {}

// startError explains why an interpreter of spec did not start; what names the process
// ("worker 3").
func startError(what string, spec *Spec, err error) error {
	if _, serr := os.Stat(spec.Dir); spec.Dir != "" && serr != nil {
		// fork/exec blames the interpreter for a missing working directory.
		return fmt.Errorf("spawning %s: --chdir %q: %w", what, spec.Dir, serr)
	}
	return fmt.Errorf("spawning %s with --python %q: %w", what, spec.Python, err)
}

// waitProcess waits for p, the master's child, to exit, and returns what exec.Cmd.Wait
// would: nil for exit status 0, an *exec.ExitError for any other end.
func waitProcess(p *os.Process) error {
	st, err := p.Wait()
	if err != nil {
		return fmt.Errorf("waiting for pid %d: %w", p.Pid, err)
	}
	if !st.Success() {
		return &exec.ExitError{ProcessState: st}
	}
	return nil
}
