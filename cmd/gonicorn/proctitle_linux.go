package main

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
)

// The master's process title, as gunicorn shows it with setproctitle: "gonicorn: master
// [NAME]" in ps and top. Go has no setproctitle and gonicorn uses no cgo, so it is done the
// way setproctitle(3) does it on Linux, through /proc:
//
//   - comm (top, ps -e, pgrep, /proc/PID/comm) is written to /proc/self/comm: the title's
//     first 15 bytes ("gonicorn: maste"), as with gunicorn and setproctitle;
//   - the command line (ps aux, top -c, systemctl status, /proc/PID/cmdline) is the argv area
//     of the process's memory, overwritten through /proc/self/mem with the title and a NUL,
//     its last byte made non-NUL, which tells the kernel to read the command line up to the
//     first NUL. When the title is longer than the command line gonicorn was started with,
//     it continues into the environment strings that follow (as setproctitle does), after Go's
//     own view of the environment was moved to copies (detachEnviron).
//
// Go's os.Args point into that area, so main replaces them by copies first (cloneArgs).
// Where /proc cannot be written, the command line stays as started; nothing else depends on it.

// cloneArgs returns copies of args that do not share memory with the process's argv area,
// which setProcTitle overwrites.
func cloneArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = strings.Clone(a)
	}
	return out
}

// setProcTitle shows title as the master's comm and command line; a failure is logged at
// DEBUG (the title is cosmetic).
func setProcTitle(log *slog.Logger, title string) {
	if err := writeProcTitle(title); err != nil {
		log.Debug("cannot set the process title", "title", title, "err", err)
	}
}

func writeProcTitle(title string) error {
	comm := title[:min(len(title), 15)]
	if err := os.WriteFile("/proc/self/comm", []byte(comm), 0); err != nil {
		return fmt.Errorf("comm: %w", err)
	}
	area, err := readArgvArea()
	if err != nil {
		return err
	}
	argLen := area.argEnd - area.argStart
	room := argLen // bytes the title and its NUL may take
	if len(title)+1 > argLen {
		if area.envStart != area.argEnd || !detachEnviron() {
			return errors.New("command line: no room for the title")
		}
		room = min(area.envEnd-area.argStart, 4096) // the kernel reads one page of a title
	}
	n := min(len(title), room-1)
	buf := make([]byte, max(argLen, n+1)) // zeroed: the title's NUL, and the rest of argv
	copy(buf, title[:n])
	if n+1 < argLen {
		buf[argLen-1] = ' ' // not NUL: the kernel then reads up to the first NUL
	}
	mem, err := os.OpenFile("/proc/self/mem", os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("command line: %w", err)
	}
	defer mem.Close()
	if _, err := mem.WriteAt(buf, int64(area.argStart)); err != nil {
		return fmt.Errorf("command line: %w", err)
	}
	return nil
}

// argvArea is where the kernel keeps the process's argument and environment strings.
type argvArea struct{ argStart, argEnd, envStart, envEnd int }

// readArgvArea reads fields 48 to 51 of /proc/self/stat (Linux 3.5 and later).
func readArgvArea() (argvArea, error) {
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return argvArea{}, err
	}
	// Field 2, comm, may hold spaces: count from the ')' that ends it (field 3 is index 0).
	i := bytes.LastIndexByte(stat, ')')
	fields := strings.Fields(string(stat[i+1:]))
	if i < 0 || len(fields) < 49 {
		return argvArea{}, errors.New("/proc/self/stat: no argv area (fields 48-51)")
	}
	var v [4]int
	for j := range v {
		if v[j], err = strconv.Atoi(fields[45+j]); err != nil {
			return argvArea{}, fmt.Errorf("/proc/self/stat field %d: %w", 48+j, err)
		}
	}
	return argvArea{v[0], v[1], v[2], v[3]}, nil
}

// detachEnviron makes Go's copy of the environment (os.Getenv, os.Environ, what workers
// inherit) independent of the process's environment strings, by setting every variable
// again to a copy of its value. It reports false, changing nothing, if an entry cannot be
// set again (one without '='). The Go runtime read its own variables (GODEBUG, GOGC...) at
// start.
func detachEnviron() bool {
	env := os.Environ()
	for _, kv := range env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return false
		}
	}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if os.Setenv(strings.Clone(k), strings.Clone(v)) != nil {
			return false
		}
	}
	return true
}
