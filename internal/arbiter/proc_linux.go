package arbiter

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// procAttr makes the kernel kill a worker when the master dies, even by SIGKILL, so no
// worker outlives it (PR_SET_PDEATHSIG). The worker also exits on EOF of its sockets.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

const sigterm = syscall.SIGTERM

// residentBytes returns the resident set size of process pid (VmRSS in /proc/PID/status).
func residentBytes(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("reading VmRSS of pid %d: %w", pid, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d (a zombie?)", pid)
}
