package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/gonicorn/gonicorn/internal/config"
)

// -D/--daemon, as gunicorn's: the master detaches into the background. Go cannot fork
// without exec, so the starting process re-executes this binary, as a binary upgrade does
// (upgrade.go), in a new session, with stdin and stdout on /dev/null and stderr on a pipe
// to the starting process. That one copies the pipe to its own stderr and waits: it exits 0
// when the detached master says READY=1 (its workers are ready, the pid file written), or,
// when the master exits before that, with the master's exit status (1 for a bind error, 3
// for an app that does not load) after its error lines. The detached master then puts
// /dev/null on its stderr too. See docs/privileges.md.
const (
	// envDaemon=1 tells a process that it is the detached master of -D.
	envDaemon = "GONICORN_DAEMON"
	// envDaemonNotify names the starting process's unixgram socket (abstract namespace),
	// where the detached master sends READY=1 (systemd.go's notifier).
	envDaemonNotify = "GONICORN_DAEMON_NOTIFY"
)

// detaches reports whether this process, asked for -D, must start the detached master: not
// when it is that master, nor when it is the new master of a binary upgrade (started by a
// master that detached already).
func detaches(cfg *config.Config) bool {
	return cfg.Daemon && os.Getenv(envDaemon) == "" && os.Getenv(envInheritedFDs) == ""
}

// daemonize starts the detached master and returns the exit status of this (starting)
// process. Its goroutines end when the process exits, right after it returns.
func daemonize(cfg *config.Config) int {
	if os.Getenv("NOTIFY_SOCKET") != "" {
		fmt.Fprintln(os.Stderr, "gonicorn: warning: --daemon under systemd's Type=notify: the detached master notifies systemd itself; use Type=notify without --daemon, or Type=forking")
	}
	ready, err := listenReady()
	if err != nil {
		fmt.Fprintf(os.Stderr, "gonicorn: error: --daemon: %v\n", err)
		return exitConfig
	}
	defer ready.Close()
	cmd, errR, err := detachedCommand(cfg, ready.LocalAddr().String())
	if err != nil {
		fmt.Fprintf(os.Stderr, "gonicorn: error: --daemon: starting the detached master: %v\n", err)
		return exitConfig
	}
	up := make(chan struct{})
	go func() { // ends at READY=1, or when ready is closed at return
		buf := make([]byte, 4096)
		for {
			n, _, err := ready.ReadFrom(buf)
			if err != nil {
				return
			}
			if isReady(string(buf[:n])) {
				close(up)
				return
			}
		}
	}()
	copied := make(chan struct{})
	go func() { // ends at EOF: the master put /dev/null on its stderr, or exited
		io.Copy(os.Stderr, errR)
		close(copied)
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }() // ends when the master exits; after READY=1 nobody waits
	select {
	case <-up:
		return 0
	case err := <-exited:
		<-copied
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "gonicorn: error: --daemon: %v\n", err)
			return exitConfig
		}
		return 0 // stopped by a signal before it was ready, cleanly
	}
}

// isReady reports whether an sd_notify message holds READY=1.
func isReady(msg string) bool {
	for _, line := range strings.Split(msg, "\n") {
		if line == "READY=1" {
			return true
		}
	}
	return false
}

// listenReady opens the socket the detached master reports READY=1 to: a unixgram socket in
// the abstract namespace, so no file is left behind.
func listenReady() (*net.UnixConn, error) {
	var b [8]byte
	rand.Read(b[:])
	name := "@gonicorn-daemon-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b[:])
	return net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
}

// detachedCommand starts the detached master: this executable with the same arguments, in a
// new session (setsid), with stdin and stdout on /dev/null and stderr on the returned pipe.
// Sockets named by --bind fd://N are passed on at the same numbers.
func detachedCommand(cfg *config.Config, readyAddr string) (*exec.Cmd, *os.File, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, fmt.Errorf("finding this executable: %w", err)
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return nil, nil, err
	}
	defer devnull.Close()
	errR, errW, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	defer errW.Close()
	cmd := &exec.Cmd{
		Path: exe, Args: os.Args,
		Env:   append(os.Environ(), envDaemon+"=1", envDaemonNotify+"="+readyAddr),
		Stdin: devnull, Stdout: devnull, Stderr: errW,
		ExtraFiles:  boundFDs(cfg.Bind),
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	if err := cmd.Start(); err != nil {
		errR.Close()
		return nil, nil, err
	}
	return cmd, errR, nil
}

// boundFDs returns the files to pass as ExtraFiles so that each fd://N of binds is fd N in
// the child; the other slots are nil (closed).
func boundFDs(binds []string) []*os.File {
	var files []*os.File
	for _, s := range binds {
		b, err := config.ParseBind(s)
		if err != nil || b.Network != "fd" {
			continue
		}
		fd, err := strconv.Atoi(b.Address)
		if err != nil || fd < 3 {
			continue
		}
		for len(files) <= fd-3 {
			files = append(files, nil)
		}
		files[fd-3] = os.NewFile(uintptr(fd), "fd://"+b.Address)
	}
	return files
}

// detached prepares the detached master of -D (envDaemon set by daemonize): it keeps its
// stderr — the pipe to the starting process — as the returned file, for main's last error
// line, and puts /dev/null on fd 2, so that nothing else it writes there (an error log of
// "-") waits on a process that is gone. The umask becomes 022, as gunicorn's daemonize
// sets it. It returns os.Stderr for any other process.
func detached() *os.File {
	if os.Getenv(envDaemon) == "" {
		return os.Stderr
	}
	os.Unsetenv(envDaemon)
	syscall.Umask(0o22)
	fd, err := unix.FcntlInt(2, unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return os.Stderr
	}
	report := os.NewFile(uintptr(fd), "daemon-report")
	if devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0); err == nil {
		unix.Dup2(int(devnull.Fd()), 2)
		devnull.Close()
	}
	return report
}
