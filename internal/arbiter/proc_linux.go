package arbiter

import "syscall"

// procAttr makes the kernel kill a worker when the master dies, even by SIGKILL, so no
// worker outlives it (PR_SET_PDEATHSIG). The worker also exits on EOF of its sockets.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

const sigterm = syscall.SIGTERM
