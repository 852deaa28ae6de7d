package main

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// systemd integration: socket activation (sd_listen_fds) and readiness notification
// (sd_notify), without libsystemd. See docs/systemd.md.

// sdListenFDsStart is the first fd systemd passes (SD_LISTEN_FDS_START).
const sdListenFDsStart = 3

// systemdListeners returns the sockets systemd passed to this process: when LISTEN_PID is
// our pid and LISTEN_FDS=N, fds 3..3+N-1. It returns nil if there are none. LISTEN_PID,
// LISTEN_FDS and LISTEN_FDNAMES are removed from the environment in any case, so that the
// workers (and their apps) do not see them.
func systemdListeners() ([]net.Listener, error) {
	pid, fds := os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDS")
	os.Unsetenv("LISTEN_PID")
	os.Unsetenv("LISTEN_FDS")
	os.Unsetenv("LISTEN_FDNAMES")
	if pid == "" || fds == "" {
		return nil, nil
	}
	if p, err := strconv.Atoi(pid); err != nil || p != os.Getpid() {
		return nil, nil // meant for another process
	}
	n, err := strconv.Atoi(fds)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("systemd socket activation: invalid LISTEN_FDS=%q", fds)
	}
	var lns []net.Listener
	for fd := sdListenFDsStart; fd < sdListenFDsStart+n; fd++ {
		f := os.NewFile(uintptr(fd), "systemd:"+strconv.Itoa(fd))
		ln, err := net.FileListener(f)
		f.Close()
		if err != nil {
			closeAll(lns)
			return nil, fmt.Errorf("systemd socket activation: fd %d is not a listening socket: %w", fd, err)
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

// notifier sends sd_notify states to systemd's NOTIFY_SOCKET (a unixgram socket; a name
// starting with '@' is in the abstract namespace). Its zero value, or one made without
// NOTIFY_SOCKET, does nothing.
type notifier struct {
	addr *net.UnixAddr
	// daemon is the socket of the process that started this one with -D (daemon.go),
	// waiting for READY=1 and gone after it; nil otherwise. Only READY=1 is sent there,
	// once (daemonDone).
	daemon     *net.UnixAddr
	daemonDone atomic.Bool
}

// newNotifier reads NOTIFY_SOCKET and removes it from the environment, so that the workers
// do not notify systemd themselves.
func newNotifier() *notifier {
	name, daemon := os.Getenv("NOTIFY_SOCKET"), os.Getenv(envDaemonNotify)
	os.Unsetenv("NOTIFY_SOCKET")
	os.Unsetenv(envDaemonNotify)
	n := &notifier{}
	// net maps a leading '@' onto the abstract namespace (a leading NUL byte).
	if name != "" {
		n.addr = &net.UnixAddr{Name: name, Net: "unixgram"}
	}
	if daemon != "" {
		n.daemon = &net.UnixAddr{Name: daemon, Net: "unixgram"}
	}
	return n
}

// notify sends state (e.g. "READY=1"); errors are returned for logging, never fatal.
func (n *notifier) notify(state string) error {
	if n == nil {
		return nil
	}
	if n.daemon != nil && isReady(state) && n.daemonDone.CompareAndSwap(false, true) {
		if err := sendState(n.daemon, "READY=1"); err != nil {
			return fmt.Errorf("--daemon: telling the starting process: %w", err)
		}
	}
	if n.addr == nil {
		return nil
	}
	return sendState(n.addr, state)
}

// sendState sends one sd_notify datagram to addr.
func sendState(addr *net.UnixAddr, state string) error {
	c, err := net.DialUnix("unixgram", nil, addr)
	if err != nil {
		return fmt.Errorf("sd_notify %s: %w", addr.Name, err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		return fmt.Errorf("sd_notify %s: %w", addr.Name, err)
	}
	return nil
}

// reloading is the state sent when a HUP reload starts; MONOTONIC_USEC lets
// Type=notify-reload services work.
func reloading() string {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	usec := ts.Nano() / int64(time.Microsecond)
	return strings.Join([]string{"RELOADING=1", "MONOTONIC_USEC=" + strconv.FormatInt(usec, 10)}, "\n")
}

// sdNotify sends state to systemd if NOTIFY_SOCKET was set, logging a failure.
func sdNotify(log *slog.Logger, n *notifier, state string) {
	if err := n.notify(state); err != nil {
		log.Warn(err.Error())
	}
}
