package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Binary upgrade on USR2, as gunicorn's "reexec": the running (old) master starts the
// executable at its own path — the new binary, if one was installed there — with the same
// arguments and its listening sockets, and goes on serving. Both masters accept on the
// shared sockets until the operator sends the old one TERM (it drains and exits; the new one
// is then "promoted") or the new one TERM (a rollback). See docs/upgrade.md.
const (
	// envInheritedFDs lists the listening sockets an old master passed: "3,4".
	envInheritedFDs = "GONICORN_FD"
	// envOldMaster is the old master's pid, so that the new one knows it has a parent
	// master: it writes its pid file with a ".2" suffix and takes the plain name once that
	// master is gone.
	envOldMaster = "GONICORN_PID"
	// envSystemdFDs=1 says the sockets are systemd's (socket activation, handed down):
	// their files are systemd's to remove, never a master's.
	envSystemdFDs = "GONICORN_FD_SYSTEMD"
)

// inheritance is what an old master passed to this process on USR2.
type inheritance struct {
	listeners []net.Listener // nil: nothing was passed
	oldMaster int            // its pid
	systemd   bool           // the sockets came from systemd
}

// parentPollInterval is how often a new master checks whether its old master has exited.
const parentPollInterval = 200 * time.Millisecond

// inheritedListeners returns what an old master passed to this process on USR2: the
// listening sockets (GONICORN_FD), its pid (GONICORN_PID) and whether the sockets are
// systemd's (GONICORN_FD_SYSTEMD). The variables are removed from the environment in any
// case, so that the workers (and their apps) do not see them.
func inheritedListeners() (inheritance, error) {
	fds, parent := os.Getenv(envInheritedFDs), os.Getenv(envOldMaster)
	systemd := os.Getenv(envSystemdFDs) == "1"
	os.Unsetenv(envInheritedFDs)
	os.Unsetenv(envOldMaster)
	os.Unsetenv(envSystemdFDs)
	if fds == "" {
		return inheritance{}, nil
	}
	ppid, err := strconv.Atoi(parent)
	if err != nil || ppid <= 0 {
		return inheritance{}, fmt.Errorf("binary upgrade: invalid %s=%q", envOldMaster, parent)
	}
	var lns []net.Listener
	for _, s := range strings.Split(fds, ",") {
		fd, err := strconv.Atoi(s)
		if err != nil || fd < 3 {
			closeAll(lns)
			return inheritance{}, fmt.Errorf("binary upgrade: invalid %s=%q", envInheritedFDs, fds)
		}
		f := os.NewFile(uintptr(fd), "inherited:"+s)
		ln, err := net.FileListener(f)
		f.Close()
		if err != nil {
			closeAll(lns)
			return inheritance{}, fmt.Errorf("binary upgrade: fd %d from %s is not a listening socket: %w", fd, envInheritedFDs, err)
		}
		lns = append(lns, ln)
	}
	return inheritance{listeners: lns, oldMaster: ppid, systemd: systemd}, nil
}

// upgrader starts a new master on USR2 and keeps track of the other master of an upgrade:
// the new one this master started (its child), or the old one that started this master (its
// parent). While either runs, this master must leave the shared unix socket files in place
// and must not tell systemd that the service stops.
type upgrader struct {
	log       *slog.Logger
	listeners []net.Listener
	systemd   bool      // the listeners are systemd's sockets (passed on as such)
	pidFile   string    // --pid as configured; "" = none
	notify    *notifier // systemd's NOTIFY_SOCKET, passed on to the new master

	mu      sync.Mutex
	parent  int         // the old master while it runs; 0 once gone or if there was none
	child   *os.Process // the new master this one started, while it runs
	pidPath string      // where this master's pid file is now; "" = none
	// onPromote is called once this master is promoted (the old one exited); nil = nothing.
	// Set before watchParent starts.
	onPromote func()
	// onPreExec is called before a new master is started (gunicorn's pre_exec hook); nil =
	// nothing. Set before USR2 can come.
	onPreExec func()
}

// newUpgrader returns the upgrader of a master serving lns (systemd's sockets if systemd)
// whose old master is parent (0: none).
func newUpgrader(log *slog.Logger, lns []net.Listener, systemd bool, pidFile string, sd *notifier, parent int) *upgrader {
	u := &upgrader{log: log, listeners: lns, systemd: systemd, pidFile: pidFile, notify: sd, parent: parent}
	if pidFile != "" {
		u.pidPath = pidFile
		if parent != 0 {
			u.pidPath = pidFile + ".2"
		}
	}
	return u
}

// writePID writes this master's pid file: --pid, or --pid with ".2" while an old master runs.
func (u *upgrader) writePID() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.pidPath == "" {
		return nil
	}
	return writePIDFile(u.pidPath)
}

// removePID removes this master's pid file if it still holds this master's pid.
func (u *upgrader) removePID() {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.pidPath == "" {
		return
	}
	if b, err := os.ReadFile(u.pidPath); err == nil && strings.TrimSpace(string(b)) == itoa(os.Getpid()) {
		os.Remove(u.pidPath)
	}
}

// partner reports whether the other master of an upgrade (old or new) still runs.
func (u *upgrader) partner() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.parent != 0 || u.child != nil
}

// oldMaster returns the pid of the old master while it runs, or 0.
func (u *upgrader) oldMaster() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.parent
}

// watchParent waits, until ctx ends, for the old master to exit; then this master is
// promoted: it takes the plain pid file name. A process whose parent exits is given a new
// parent (init or a subreaper), which is how the exit is seen.
func (u *upgrader) watchParent(ctx context.Context) {
	parent := u.oldMaster()
	if parent == 0 {
		return
	}
	t := time.NewTicker(parentPollInterval)
	defer t.Stop()
	for os.Getppid() == parent {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.parent = 0
	if u.onPromote != nil {
		u.onPromote()
	}
	u.log.Info("Master has been promoted.")
	if u.pidPath != "" && u.pidPath != u.pidFile {
		if err := os.Rename(u.pidPath, u.pidFile); err != nil {
			u.log.Error("--pid: taking the pid file of the old master", "err", err)
			return
		}
		u.pidPath = u.pidFile
	}
}

// start carries out USR2: it starts the new master, or says why not.
func (u *upgrader) start() {
	u.mu.Lock()
	defer u.mu.Unlock()
	switch {
	case u.child != nil:
		u.log.Warn("USR2 signal ignored. Child exists.")
		return
	case u.parent != 0:
		u.log.Warn("USR2 signal ignored. Parent exists.")
		return
	}
	if u.onPreExec != nil {
		u.onPreExec() // the config file's pre_exec hook
	}
	cmd, err := u.command()
	if err == nil {
		err = cmd.Start()
		for _, f := range cmd.ExtraFiles {
			f.Close() // the new master has its copies
		}
	}
	if err != nil {
		u.log.Error("Upgrading: the new master was not started; this one goes on serving", "err", err)
		return
	}
	u.child = cmd.Process
	u.log.Info(fmt.Sprintf("Upgrading: started a new master (pid %d) from %s", cmd.Process.Pid, cmd.Path))
	// This goroutine ends when the new master exits: it reaps it, so that no zombie stays.
	go func() {
		err := cmd.Wait()
		u.mu.Lock()
		u.child = nil
		u.mu.Unlock()
		how := "exit status 0"
		if err != nil {
			how = err.Error()
		}
		u.log.Info(fmt.Sprintf("New master (pid %d) exited: %s", cmd.Process.Pid, how))
	}()
}

// command prepares the new master: this master's executable path (os.Executable names the
// file that was run, without Linux's " (deleted)" once it was replaced, so the binary now at
// that path is the one started), its arguments and environment (GONICORN_CMD_ARGS
// included, so the configuration is read as at start), the listening sockets as fds 3, 4,
// ..., and systemd's NOTIFY_SOCKET. It shares this master's stdin, stdout and stderr.
func (u *upgrader) command() (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding this executable: %w", err)
	}
	files, err := listenerFiles(u.listeners)
	if err != nil {
		return nil, err
	}
	fds := make([]string, len(files))
	for i := range files {
		fds[i] = itoa(3 + i)
	}
	env := append(os.Environ(), envInheritedFDs+"="+strings.Join(fds, ","), envOldMaster+"="+itoa(os.Getpid()))
	if u.notify != nil && u.notify.addr != nil {
		env = append(env, "NOTIFY_SOCKET="+u.notify.addr.Name)
	}
	if u.systemd {
		env = append(env, envSystemdFDs+"=1")
	}
	cmd := &exec.Cmd{
		Path: exe, Args: os.Args, Env: env, ExtraFiles: files,
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
	}
	return cmd, nil
}

// listenerFiles duplicates the listening sockets for a child process. The duplicates are made
// with dup, not with the listeners' File methods: those files switch the socket — shared with
// the listener this master still accepts on — to blocking mode when the child is started,
// which would tie up a thread in accept and keep Close from ending it.
func listenerFiles(lns []net.Listener) ([]*os.File, error) {
	files := make([]*os.File, 0, len(lns))
	fail := func(err error) ([]*os.File, error) {
		for _, f := range files {
			f.Close()
		}
		return nil, err
	}
	for _, ln := range lns {
		sc, ok := ln.(syscall.Conn)
		if !ok {
			return fail(fmt.Errorf("listener %s: no file descriptor to pass on", ln.Addr()))
		}
		raw, err := sc.SyscallConn()
		if err != nil {
			return fail(fmt.Errorf("listener %s: %w", ln.Addr(), err))
		}
		dup := -1
		var dupErr error
		if err := raw.Control(func(fd uintptr) {
			dup, dupErr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 3)
		}); err != nil {
			return fail(fmt.Errorf("listener %s: %w", ln.Addr(), err))
		}
		if dupErr != nil {
			return fail(fmt.Errorf("listener %s: dup: %w", ln.Addr(), dupErr))
		}
		files = append(files, os.NewFile(uintptr(dup), "listener:"+ln.Addr().String()))
	}
	return files, nil
}

// readyState is what the master tells systemd once its workers are ready. A new master
// names itself the service's main process, so that systemd keeps the service when the old
// master exits (that needs NotifyAccess=all in the unit; see docs/systemd.md).
func (u *upgrader) readyState() string {
	if u.oldMaster() != 0 {
		return "MAINPID=" + itoa(os.Getpid()) + "\nREADY=1"
	}
	return "READY=1"
}

// stoppingState is what the master tells systemd when it stops: a new master that is
// rolled back hands the main process back to the old one, an old master whose new one runs
// says nothing (the new one is the main process), any other says STOPPING=1.
func (u *upgrader) stoppingState() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	switch {
	case u.parent != 0:
		return "MAINPID=" + itoa(u.parent)
	case u.child != nil:
		return ""
	}
	return "STOPPING=1"
}
