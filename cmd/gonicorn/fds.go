package main

import (
	"math"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// closeInheritedOnExec marks every file descriptor above stderr close-on-exec, so that what
// the master inherited from whoever started it (a supervisor's pipes, a shell's fds, a
// socket passed for --bind fd:// or by systemd) does not leak into the workers: a worker
// holds only stdin, stdout, stderr and its own sockets (ExtraFiles). The master keeps
// using the fds it needs; close-on-exec only matters to the workers it execs.
func closeInheritedOnExec() {
	if unix.CloseRange(3, math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC) == nil {
		return
	}
	// Kernels before 5.11: walk /proc/self/fd.
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			unix.CloseOnExec(fd)
		}
	}
}
