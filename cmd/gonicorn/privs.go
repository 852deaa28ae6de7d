package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"syscall"

	"github.com/gonicorn/gonicorn/internal/config"
	"github.com/gonicorn/gonicorn/internal/privs"
)

// listenUnix binds the unix socket at path as gunicorn does (sock.py, UnixSocket.bind):
// under --umask, then given to the workers' user and group (--user, --group), so that a
// front proxy in that group may connect when --umask keeps others out.
func (o sockOptions) listenUnix(path string) (net.Listener, error) {
	old := syscall.Umask(o.umask) // process-wide, but nothing else creates files this early
	ln, err := o.listen("unix", path)
	syscall.Umask(old)
	if err != nil || o.owner == nil {
		return ln, err
	}
	if err := os.Chown(path, int(o.owner.Uid), int(o.owner.Gid)); err != nil {
		ln.Close() // and the file: SetUnlinkOnClose is still on
		return nil, fmt.Errorf("giving the socket to the workers' user (uid %d, gid %d): %w", o.owner.Uid, o.owner.Gid, err)
	}
	return ln, nil
}

// checkWorkerReach reports, before any worker starts, a worker user (--user, --group) that
// cannot reach the interpreter or the working directory, with the path that stops it. A
// fork/exec under another user would otherwise fail with a bare "permission denied" that
// blames the interpreter, whichever of the two it was.
func checkWorkerReach(cfg *config.Config) error {
	c := cfg.Credential
	if c == nil {
		return nil
	}
	dir, what := cfg.Chdir, "--chdir"
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return fmt.Errorf("finding the working directory: %w", err)
		}
		dir, what = wd, "the working directory (give another with --chdir)"
	}
	if err := privs.CheckReach(c, what, dir, 5); err != nil {
		return err
	}
	py, err := exec.LookPath(cfg.Python)
	if err != nil {
		return nil // the spawn reports it, with the interpreter's name
	}
	return privs.CheckReach(c, "--python", py, 5)
}
