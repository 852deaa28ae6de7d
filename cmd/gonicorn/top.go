package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/gonicorn/gonicorn/internal/control"
)

// topMain is `gonicorn top`: a live view of a master's workers, slots, queue and recent
// traffic, asked of its control socket (the "top" command) every --interval seconds and
// redrawn with plain ANSI sequences. --once prints one frame without them and exits. It
// returns the exit status: 0, 1 when the master cannot be asked (--once), 2 for bad usage.
func topMain(args []string, stdin *os.File, stdout *os.File, stderr io.Writer) int {
	fs := pflag.NewFlagSet("gonicorn top", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	socket := fs.StringP("socket", "s", defaultControlSocket, "the master's control socket (--control-socket)")
	once := fs.Bool("once", false, "print one snapshot as plain text and exit")
	interval := fs.Float64("interval", 1, "seconds between two refreshes of the live view")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: gonicorn top [--socket PATH] [--once] [--interval SECONDS]\n"+
			"The live view quits on q or Ctrl-C.\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	if math.IsNaN(*interval) || *interval < 0.1 || *interval > 3600 {
		fmt.Fprintf(stderr, "gonicorn top: --interval %v: want seconds from 0.1 to 3600\n", *interval)
		return 2
	}
	if *once {
		reply, err := askTop(*socket)
		if err != nil {
			fmt.Fprintf(stderr, "gonicorn top: %v\n", err)
			return 1
		}
		io.WriteString(stdout, renderTop(reply, nil, time.Now()))
		return 0
	}
	v := &topView{socket: *socket, every: time.Duration(*interval * float64(time.Second)), in: stdin, out: stdout}
	if err := v.run(); err != nil {
		fmt.Fprintf(stderr, "gonicorn top: %v\n", err)
		return 1
	}
	return 0
}

// askTop asks the master for one frame's data.
func askTop(socket string) (control.Reply, error) {
	reply, _, err := ask(socket, "top")
	if err == nil && reply.Error != "" {
		err = errors.New(reply.Error)
	}
	return reply, err
}

// topView is the live view: one goroutine (run's) asks, draws, and waits for a key or the
// next refresh with poll(2) on the terminal, so nothing is left running when it returns.
type topView struct {
	socket string
	every  time.Duration
	in     *os.File // keys: q (or Ctrl-C) quits; nil or at EOF = none
	out    *os.File // the terminal the frames are drawn on

	prev map[int]cpuSample // each worker's CPU time at the previous frame, for CPU%
}

// cpuSample is a worker's CPU seconds at a moment.
type cpuSample struct {
	cpu float64
	at  time.Time
}

// ANSI control sequences (ECMA-48 and xterm's, which every terminal emulator in use knows).
const (
	ansiEnterScreen = "\x1b[?1049h\x1b[?25l" // the alternate screen (the shell's lines come back at exit), cursor hidden
	ansiLeaveScreen = "\x1b[?25h\x1b[?1049l"
	ansiHome        = "\x1b[H"  // cursor to the top left
	ansiEraseLine   = "\x1b[K"  // erase to the end of the line (a shorter line over a longer one)
	ansiEraseBelow  = "\x1b[J"  // erase from the cursor to the end of the screen
	keyCtrlC        = 0x03      // the byte Ctrl-C sends once the terminal no longer turns it into SIGINT
	keyQuit         = byte('q') // and 'q', as top(1)
)

// run draws frames until q, Ctrl-C, or SIGINT/SIGTERM/SIGHUP; the terminal is restored in
// any case.
func (v *topView) run() error {
	restore := keyboardMode(v.in)
	defer restore()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	io.WriteString(v.out, ansiEnterScreen)
	defer io.WriteString(v.out, ansiLeaveScreen)
	for {
		v.draw()
		select {
		case <-sigs:
			return nil
		default:
		}
		if v.waitKey() {
			return nil
		}
	}
}

// draw asks the master and draws one frame; when the master cannot be asked, the frame says
// why and the next refresh tries again (a master restarting comes back).
func (v *topView) draw() {
	now := time.Now()
	reply, err := askTop(v.socket)
	var frame string
	if err != nil {
		frame = "gonicorn top: " + err.Error() + "\n(trying again every " + v.every.String() + "; q quits)\n"
	} else {
		frame = renderTop(reply, v.prev, now)
		v.prev = cpuSamples(reply, now)
	}
	cols, rows := terminalSize(v.out)
	io.WriteString(v.out, ansiHome+fitScreen(frame, cols, rows)+ansiEraseBelow)
}

// waitKey waits up to one interval for a key and reports whether it says quit.
func (v *topView) waitKey() bool {
	deadline := time.Now().Add(v.every)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		if v.in == nil {
			time.Sleep(left)
			return false
		}
		fds := []unix.PollFd{{Fd: int32(v.in.Fd()), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(left.Milliseconds())+1)
		if err == unix.EINTR || n == 0 {
			continue
		}
		if err != nil {
			v.in = nil
			continue
		}
		var buf [64]byte
		k, err := unix.Read(int(v.in.Fd()), buf[:])
		if k <= 0 || err != nil { // EOF (stdin from /dev/null or a closed pipe): no keyboard
			v.in = nil
			continue
		}
		for _, b := range buf[:k] {
			if b == keyQuit || b == 'Q' || b == keyCtrlC {
				return true
			}
		}
	}
}

// keyboardMode puts the terminal on in into character-at-a-time mode without echo and
// without turning Ctrl-C into a signal (so that q and Ctrl-C are read as keys at once), and
// returns what restores it. Input that is not a terminal is left as it is.
func keyboardMode(in *os.File) (restore func()) {
	if in == nil {
		return func() {}
	}
	fd := int(in.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return func() {}
	}
	raw := *old
	raw.Lflag &^= unix.ICANON | unix.ECHO | unix.ISIG
	raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 1, 0
	if unix.IoctlSetTermios(fd, unix.TCSETS, &raw) != nil {
		return func() {}
	}
	return func() { unix.IoctlSetTermios(fd, unix.TCSETS, old) }
}

// terminalSize returns out's columns and rows, or 0, 0 when it is not a terminal.
func terminalSize(out *os.File) (cols, rows int) {
	ws, err := unix.IoctlGetWinsize(int(out.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return 0, 0
	}
	return int(ws.Col), int(ws.Row)
}

// fitScreen cuts frame to cols columns and rows rows (0: no limit), so that a long request
// target does not wrap and many workers do not scroll the header away, and ends each line
// with an erase of what the previous frame left there.
func fitScreen(frame string, cols, rows int) string {
	lines := strings.Split(strings.TrimSuffix(frame, "\n"), "\n")
	if rows > 0 && len(lines) > rows-1 {
		more := len(lines) - (rows - 2)
		lines = append(lines[:max(rows-2, 0)], fmt.Sprintf("... %d more lines", more))
	}
	var b strings.Builder
	for _, l := range lines {
		if cols > 0 && utf8.RuneCountInString(l) > cols {
			l = string([]rune(l)[:cols])
		}
		b.WriteString(l + ansiEraseLine + "\n") // the terminal's output processing adds the CR
	}
	return b.String()
}

// renderTop formats one frame: the master's line, the pool and the recent traffic, then a
// line per worker with its slots. CPU% is the share of one core a worker used since prev (the
// previous frame) or, without one, since it started, as ps(1) shows it.
func renderTop(r control.Reply, prev map[int]cpuSample, now time.Time) string {
	var b strings.Builder
	if st := r.Status; st != nil {
		fmt.Fprintf(&b, "gonicorn %s  master %d  app %s  up %s  %s\n", st.Version, st.PID, printable(st.App),
			roundSeconds(st.Uptime), now.Format("15:04:05"))
		fmt.Fprintf(&b, "workers %d  slots %d busy of %d  queue %d waiting", st.Workers, st.Busy, st.Slots, st.Queued)
		if st.Queued > 0 {
			fmt.Fprintf(&b, ", oldest for %.0f ms", st.OldestWait)
		}
		b.WriteString("\n")
	}
	if t := r.Traffic; t != nil {
		fmt.Fprintf(&b, "last %s  %.1f req/s  p50 %s  p99 %s  (%d %s)\n", roundSeconds(t.Span), t.Rate,
			latency(t.P50, t.Requests), latency(t.P99, t.Requests), t.Requests, plural(t.Requests, "request"))
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "%-8s %-8s %-9s %-10s %-6s %s\n", "PID", "AGE", "REQUESTS", "RSS", "CPU%", "STATE")
	for _, w := range r.Workers {
		fmt.Fprintf(&b, "%-8d %-8s %-9d %-10s %-6.1f %s\n", w.PID, roundSeconds(w.Age), w.Requests,
			mebibytes(w.RSS), cpuPercent(w, prev[w.PID], now), w.State)
		for i, s := range w.Slots {
			if s.Idle {
				fmt.Fprintf(&b, "  slot %d: idle\n", i)
				continue
			}
			fmt.Fprintf(&b, "  slot %d: %s %s from %s, running for %.0f ms\n", i,
				printable(s.Method), printable(s.Target), printable(s.Client), s.Running)
		}
	}
	return b.String()
}

// cpuSamples keeps each worker's CPU time of this frame for the next one's CPU%.
func cpuSamples(r control.Reply, now time.Time) map[int]cpuSample {
	m := make(map[int]cpuSample, len(r.Workers))
	for _, w := range r.Workers {
		m[w.PID] = cpuSample{cpu: w.CPU, at: now}
	}
	return m
}

// cpuPercent is w's CPU use in percent of one core since prev, or since it started when
// prev is empty (its first frame).
func cpuPercent(w control.Worker, prev cpuSample, now time.Time) float64 {
	cpu, wall := w.CPU, w.Age
	if !prev.at.IsZero() {
		cpu, wall = w.CPU-prev.cpu, now.Sub(prev.at).Seconds()
	}
	if wall <= 0 || cpu < 0 {
		return 0
	}
	return 100 * cpu / wall
}

// latency formats a percentile in ms, or "-" when no request was seen.
func latency(ms float64, requests int64) string {
	if requests == 0 {
		return "-"
	}
	if ms < 10 {
		return strconv.FormatFloat(ms, 'f', 1, 64) + " ms"
	}
	return strconv.FormatFloat(ms, 'f', 0, 64) + " ms"
}

// roundSeconds formats seconds as a duration to the second ("4m12s"), or to the tenth
// below 10 s.
func roundSeconds(s float64) string {
	d := time.Duration(s * float64(time.Second))
	if d < 10*time.Second {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// printable escapes what a terminal would take as a control (a request target is the
// client's text: it must not move the cursor or retitle the operator's window).
func printable(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			q := strconv.QuoteToGraphic(s)
			return q[1 : len(q)-1]
		}
	}
	return s
}

// plural is word, with an s unless n is 1.
func plural(n int64, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
