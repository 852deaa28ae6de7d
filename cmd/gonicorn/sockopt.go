package main

import (
	"context"
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// sockOptions are gunicorn's socket settings applied to the sockets gonicorn binds itself
// (--bind HOST:PORT and unix:PATH; not those from systemd, fd://N or a binary upgrade,
// which are already listening when gonicorn gets them).
type sockOptions struct {
	backlog   int  // --backlog: listen(2) backlog; 0 = Go's default, the kernel's somaxconn
	reusePort bool // --reuse-port: SO_REUSEPORT on TCP sockets, set before bind(2)
	umask     int  // --umask: the umask unix sockets are bound under (0: they are 0777)
	// owner is the workers' credential (--user, --group): unix sockets are given to its uid
	// and gid; nil = left to the master.
	owner *syscall.Credential
}

// listen binds network/address with the options.
func (o sockOptions) listen(network, address string) (net.Listener, error) {
	lc := net.ListenConfig{}
	if o.reusePort && network == "tcp" {
		lc.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			if err := c.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			}); err != nil {
				return err
			}
			if serr != nil {
				return fmt.Errorf("setting SO_REUSEPORT: %w", serr)
			}
			return nil
		}
	}
	ln, err := lc.Listen(context.Background(), network, address)
	if err != nil || o.backlog <= 0 {
		return ln, err
	}
	if err := setBacklog(ln, o.backlog); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// setBacklog calls listen(2) again on a listening socket with backlog: Linux then takes the
// new backlog (Go listens with the kernel's somaxconn and has no option for it).
func setBacklog(ln net.Listener, backlog int) error {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return fmt.Errorf("--backlog: %T has no file descriptor", ln)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return fmt.Errorf("--backlog: %w", err)
	}
	var lerr error
	if err := raw.Control(func(fd uintptr) { lerr = unix.Listen(int(fd), backlog) }); err != nil {
		return fmt.Errorf("--backlog: %w", err)
	}
	if lerr != nil {
		return fmt.Errorf("--backlog %d: listen: %w", backlog, lerr)
	}
	return nil
}
