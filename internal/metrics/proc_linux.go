package metrics

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// procStat is what /proc/PID/stat says of a process.
type procStat struct {
	rss int64   // resident bytes
	cpu float64 // user + system seconds
}

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat: 100 on every Linux
// architecture Go supports (the kernel fixes it for user space; sysconf(_SC_CLK_TCK) says
// the same).
const clockTicks = 100

// readProc reads /proc/PID/stat: fields 14 and 15 (utime, stime) and 24 (rss, in pages),
// counted after the command name, which is in parentheses and may hold spaces.
func readProc(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	return parseStat(b, os.Getpagesize())
}

// parseStat parses the text of /proc/PID/stat.
func parseStat(b []byte, pageSize int) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("/proc stat %q: no ')' after the command", b)
	}
	f := bytes.Fields(b[i+1:]) // f[0] is field 3 (state)
	if len(f) < 22 {
		return procStat{}, fmt.Errorf("/proc stat %q: %d fields after the command, want at least 22", b, len(f))
	}
	num := func(field int) (int64, error) { return strconv.ParseInt(string(f[field-3]), 10, 64) }
	utime, err1 := num(14)
	stime, err2 := num(15)
	rss, err3 := num(24)
	for _, err := range []error{err1, err2, err3} {
		if err != nil {
			return procStat{}, fmt.Errorf("/proc stat %q: %w", b, err)
		}
	}
	return procStat{rss: rss * int64(pageSize), cpu: float64(utime+stime) / clockTicks}, nil
}

func itoa(n int) string { return strconv.Itoa(n) }

// ReadProcess returns the resident bytes and the user + system CPU seconds of process pid,
// from /proc/PID/stat (for gonicorn top's worker lines).
func ReadProcess(pid int) (rss int64, cpu float64, err error) {
	st, err := readProc(pid)
	return st.rss, st.cpu, err
}
