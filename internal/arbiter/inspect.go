package arbiter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/gonicorn/gonicorn/internal/dispatch"
	"github.com/gonicorn/gonicorn/internal/errorlog"
)

// WorkerInfo is one worker as the control socket shows it (gonicorn ctl workers). It is a
// copy: reading it races with nothing.
type WorkerInfo struct {
	PID      int
	Started  time.Time
	Requests int64  // requests its slots were given, pipelined ones included
	RSS      int64  // resident set size in bytes; 0 if it could not be read
	State    string // "serving", "recycling" (its replacement boots) or "retired" (draining)
	// Slots has one entry per worker thread: the request it runs, or nil when idle.
	Slots []*dispatch.Running
}

// Workers returns the workers in the table, oldest first, for the control socket.
func (a *Arbiter) Workers() []WorkerInfo {
	ws := a.table()
	sort.Slice(ws, func(i, j int) bool { return ws[i].id < ws[j].id })
	infos := make([]WorkerInfo, 0, len(ws))
	for _, w := range ws {
		info := WorkerInfo{PID: w.pid, Started: w.start, State: workerState(w.shownState.Load()).String()}
		if w.group != nil {
			info.Requests = w.group.Taken()
			for _, s := range w.group.Slots {
				info.Slots = append(info.Slots, s.Current())
			}
		}
		info.RSS, _ = residentBytes(w.pid)
		infos = append(infos, info)
	}
	return infos
}

func (s workerState) String() string {
	switch s {
	case recycling:
		return "recycling"
	case retired:
		return "retired"
	}
	return "serving"
}

// setState changes w's state; only Run (and Boot) call it. The control socket reads the
// copy in shownState.
func (w *worker) setState(s workerState) {
	w.state = s
	w.shownState.Store(int32(s))
}

// ErrNoWorker is in the error of a Dump for a pid that is not one of the workers.
var ErrNoWorker = errors.New("no such worker")

// dumpIdle is how long a worker's output stays quiet after a stack dump's last line before
// the dump is taken as whole, when the error log does not group blocks (the same wait as
// the error log's own grouping).
const dumpIdle = 150 * time.Millisecond

// Dump asks the worker pid (every worker if pid is 0) for the Python stacks of all its
// threads (faulthandler on SIGUSR1, as PWR does) and returns them, by pid, as the worker
// printed them; they go to the error log too. It waits until ctx ends for each dump.
func (a *Arbiter) Dump(ctx context.Context, pid int) (map[int]string, error) {
	var ws []*worker
	for _, w := range a.table() {
		if pid == 0 || w.pid == pid {
			ws = append(ws, w)
		}
	}
	if len(ws) == 0 {
		return nil, fmt.Errorf("dumping the stacks of pid %d: %w", pid, ErrNoWorker)
	}
	caps := make([]*stackCapture, len(ws))
	for i, w := range ws {
		caps[i] = w.armDump()
		a.log.Info("Dumping the stacks of worker (pid:" + itoa(w.pid) + ") for the control socket")
		w.signal(syscall.SIGUSR1)
	}
	dumps := make(map[int]string, len(ws))
	for i, w := range ws {
		d, err := caps[i].wait(ctx)
		w.disarmDump(caps[i])
		if err != nil {
			return dumps, fmt.Errorf("dumping the stacks of worker (pid:%d): %w", w.pid, err)
		}
		dumps[w.pid] = d
	}
	return dumps, nil
}

// armDump makes the worker's output copy keep the next stack dump for the caller, and
// returns where it goes. One dump at a time per worker: a second caller shares the first's.
func (w *worker) armDump() *stackCapture {
	c := &stackCapture{done: make(chan struct{})}
	if !w.dump.CompareAndSwap(nil, c) {
		if cur := w.dump.Load(); cur != nil {
			return cur
		}
		w.dump.Store(c)
	}
	return c
}

func (w *worker) disarmDump(c *stackCapture) { w.dump.CompareAndSwap(c, nil) }

// stackCapture collects one stack dump from a worker's output for Dump.
type stackCapture struct {
	mu    sync.Mutex
	c     errorlog.Classifier // classifies the lines seen since arming (line-by-line logs)
	lines []byte              // the dump's lines so far, '\n'-terminated
	last  time.Time           // when the last line of the dump was seen
	whole bool                // done was closed
	done  chan struct{}       // closed when the dump is whole
}

// line takes one line of the worker's output (logs that do not group blocks).
func (c *stackCapture) line(line []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.whole {
		return
	}
	kind := c.c.Classify(line)
	switch {
	case kind == errorlog.StackDump:
		c.lines = append(append(c.lines, line...), '\n')
		c.last = time.Now()
	case len(c.lines) > 0:
		c.finishLocked() // a line of something else ends the dump
	}
}

// block takes one block of the worker's output (logs that group blocks).
func (c *stackCapture) block(block []byte) {
	var cl errorlog.Classifier
	first, _, _ := bytes.Cut(block, []byte("\n"))
	if cl.Classify(first) != errorlog.StackDump {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.whole {
		c.lines = append(append(c.lines[:0], block...), '\n')
		c.finishLocked()
	}
}

func (c *stackCapture) finishLocked() {
	c.whole = true
	close(c.done)
}

// wait returns the dump once it is whole: its block was logged, or a line of something
// else followed it, or the output stayed quiet for dumpIdle after its last line.
func (c *stackCapture) wait(ctx context.Context) (string, error) {
	tick := time.NewTicker(dumpIdle / 3)
	defer tick.Stop()
	for {
		select {
		case <-c.done:
			return c.text(), nil
		case <-ctx.Done():
			return "", fmt.Errorf("no stack dump came: %w", ctx.Err())
		case <-tick.C:
			c.mu.Lock()
			quiet := len(c.lines) > 0 && time.Since(c.last) >= dumpIdle
			c.mu.Unlock()
			if quiet {
				return c.text(), nil
			}
		}
	}
}

func (c *stackCapture) text() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.lines)
}

// dumpTap passes a worker's output on to the error log, and shows it to a pending Dump.
type dumpTap struct {
	out Output
	w   *worker
}

func (t dumpTap) WorkerLine(pid int, level slog.Level, line []byte) {
	t.out.WorkerLine(pid, level, line)
	if c := t.w.dump.Load(); c != nil {
		c.line(line)
	}
}

func (t dumpTap) WorkerBlock(pid int, level slog.Level, at time.Time, headline, block []byte, attrs []slog.Attr) {
	t.out.WorkerBlock(pid, level, at, headline, block, attrs)
	if c := t.w.dump.Load(); c != nil {
		c.block(block)
	}
}

func (t dumpTap) GroupsBlocks() bool { return t.out.GroupsBlocks() }
