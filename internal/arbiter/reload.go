package arbiter

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"syscall"
	"time"
)

// Requests from the master's signal handler to Run (gunicorn's HUP, TTIN and TTOU). Run
// handles them between worker events, so the worker table has one owner.

type controlKind int

const (
	reload controlKind = iota // HUP: a new generation of workers from spec
	more                      // TTIN: one worker more
	fewer                     // TTOU: one worker less, not below 1
)

type control struct {
	kind controlKind
	spec Spec         // reload: the new settings
	keep bool         // reload: keep the current settings instead (Restart)
	done chan<- error // reload: buffered(1), answered once (see Reload)
}

// answer tells whoever waits for c how it ended; a control without a waiter is dropped.
func (c control) answer(err error) {
	if c.done != nil {
		c.done <- err
	}
}

// Reload starts a new generation of workers from spec (gunicorn's HUP): each serving worker
// is replaced as in recycling, so its replacement, which imports the app afresh, is ready
// before the old worker stops taking requests and drains. No request fails. When spec has
// more workers the extra ones are spawned; when it has fewer, the oldest are retired. If the
// new generation cannot load the app, the old workers stay and the previous spec is kept.
//
// The channel it returns receives exactly once: nil when every worker of the new generation
// finished its handshake and is in the pool, so that the master can tell systemd it is
// ready again only then; the error of the first one that failed; or, if Run returns first,
// ErrStopped wrapping Run's error or its context's. A reload that comes while another one
// is still booting is answered together with it, once the spawns of both are done.
func (a *Arbiter) Reload(spec Spec) <-chan error {
	done := make(chan error, 1)
	a.request(control{kind: reload, spec: spec, done: done})
	return done
}

// Restart starts a new generation of workers with the current settings, as Reload does with
// new ones: --reload's answer to a changed source file. Its channel is answered as Reload's.
func (a *Arbiter) Restart() <-chan error {
	done := make(chan error, 1)
	a.request(control{kind: reload, keep: true, done: done})
	return done
}

// AddWorker runs one worker more (TTIN).
func (a *Arbiter) AddWorker() { a.request(control{kind: more}) }

// RemoveWorker runs one worker less (TTOU), never fewer than one: the oldest is retired
// and drains.
func (a *Arbiter) RemoveWorker() { a.request(control{kind: fewer}) }

// ErrStopped is in the answer to a reload that Run did not complete because it returned
// first (the master is stopping); the answer also wraps Run's error or its context's.
var ErrStopped = errors.New("the arbiter stopped before the reload completed")

// request hands c to Run. If Run has returned, c is answered with the reason instead, also
// when it slipped into the control buffer after Run's last look at it (endRun).
func (a *Arbiter) request(c control) {
	select {
	case a.control <- c:
	case <-a.ended:
		c.answer(a.endErr)
		return
	case <-a.stopped:
		c.answer(ErrStopped)
		return
	}
	select {
	case <-a.ended:
		a.drainControl(a.endErr)
	case <-a.stopped:
		a.drainControl(ErrStopped)
	default: // Run is there; it answers c, or endRun does
	}
}

// endRun is Run's last act: it answers every reload still waiting, in reloads or in the
// control buffer, with cause (why Run returned), and marks Run as ended for later requests.
func (a *Arbiter) endRun(cause error, reloads *reloadWait) {
	cause = fmt.Errorf("%w: %w", ErrStopped, cause)
	reloads.answer(cause)
	a.endErr = cause
	close(a.ended)
	a.drainControl(cause)
}

// drainControl answers the requests left in the control buffer with err once nobody runs
// them. Every request is received from the buffer once, so it is answered once.
func (a *Arbiter) drainControl(err error) {
	for {
		select {
		case c := <-a.control:
			c.answer(err)
		default:
			return
		}
	}
}

// reloadWait is Run's account of the reloads in progress (owned by Run): how many of their
// spawns are not reported yet, and the channels waiting until none is. Waiters of
// overlapping reloads are answered together, when the last spawn of any of them is done.
type reloadWait struct {
	pending int            // reload spawns still booting
	err     error          // the first of them that failed; nil = none so far
	waiters []chan<- error // Reload's channels, answered when pending reaches 0
}

// add counts the n spawns a reload started and its channel; a reload that started none is
// complete at once unless an earlier one is still booting.
func (r *reloadWait) add(n int, done chan<- error) {
	r.pending += n
	if done != nil {
		r.waiters = append(r.waiters, done)
	}
	if r.pending == 0 {
		r.answer(nil)
	}
}

// done counts one reload spawn as adopted (err nil) or failed.
func (r *reloadWait) done(err error) {
	r.pending--
	if err != nil && r.err == nil {
		r.err = err
	}
	if r.pending == 0 {
		r.answer(r.err)
	}
}

// answer sends err (or the failure recorded, if err is nil) to every waiter and starts over.
func (r *reloadWait) answer(err error) {
	if err == nil {
		err = r.err
	}
	for _, c := range r.waiters {
		c <- err
	}
	*r = reloadWait{}
}

// current returns the spec that the next spawn uses.
func (a *Arbiter) current() *Spec {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.spec
}

func (a *Arbiter) setSpec(s *Spec) {
	a.mu.Lock()
	a.spec = s
	a.mu.Unlock()
}

// serving returns the workers that take requests and are not being replaced, oldest first.
// Called by Run.
func (a *Arbiter) serving() []*worker {
	var ws []*worker
	for _, w := range a.table() {
		if w.state == serving && !w.timedOut.Load() {
			ws = append(ws, w)
		}
	}
	sort.Slice(ws, func(i, j int) bool { return ws[i].id < ws[j].id })
	return ws
}

// handle carries out a control request; it returns how many spawns it started. Called by
// Run, which counts them as pending.
func (a *Arbiter) handle(ctx context.Context, c control) int {
	spec := *a.current()
	switch c.kind {
	case more:
		spec.Workers++
		a.setSpec(&spec)
		a.log.Info(fmt.Sprintf("Increasing number of workers to %d", spec.Workers))
		a.workersChanged(spec.Workers, spec.Workers-1)
		a.respawnAfter(ctx, 0, nil)
		return 1
	case fewer:
		if spec.Workers <= 1 {
			a.log.Info("Not decreasing the number of workers below 1")
			return 0
		}
		spec.Workers--
		a.setSpec(&spec)
		a.log.Info(fmt.Sprintf("Decreasing number of workers to %d", spec.Workers))
		a.workersChanged(spec.Workers, spec.Workers+1)
		if ws := a.serving(); len(ws) > spec.Workers {
			a.restarted("ttou")
			a.retire(ws[0]) // the oldest, as gunicorn does
		}
		return 0
	}
	// Reload.
	next := c.spec.withDefaults()
	if c.keep {
		next = spec
	}
	a.reloads++
	next.generation = a.reloads // new code: a new preloader imports it (Preload)
	a.reloadPrev = a.current()
	a.setSpec(&next)
	ws := a.serving()
	coming := a.coming()
	started := 0
	for i, w := range ws {
		a.restarted("reload")
		if coming+i >= next.Workers {
			a.retire(w)
			continue
		}
		w.setState(recycling)
		a.reloadFor(ctx, w)
		started++
	}
	for i := coming + len(ws); i < next.Workers; i++ {
		a.reloadFor(ctx, nil)
		started++
	}
	return started
}

// coming counts the workers on their way that a reload must not start again: the
// replacements of workers being recycled (or replaced by an earlier reload still booting),
// of workers being killed for --timeout (respawned once reaped), and the spawns that add a
// worker (a respawn after a crash, TTIN, an earlier reload's extras). Without them, a second
// HUP while the first one boots would add a worker. Called by Run.
func (a *Arbiter) coming() int {
	n := a.adding
	for _, w := range a.table() {
		if w.state == recycling || w.state == serving && w.timedOut.Load() {
			n++
		}
	}
	return n
}

// workersChanged tells OnWorkers that TTIN or TTOU changed the number of workers.
func (a *Arbiter) workersChanged(now, before int) {
	if a.OnWorkers != nil {
		a.OnWorkers(now, before)
	}
}

// reloadFor spawns a worker of the new generation, replacing old (nil: an extra worker),
// and reports it to Run as a spawned event marked reload.
func (a *Arbiter) reloadFor(ctx context.Context, old *worker) {
	if old == nil {
		a.adding++
	}
	id := a.newID()
	go func() {
		w, err := a.spawn(ctx, id)
		a.send(event{kind: spawned, w: w, err: err, id: id, old: old, reload: true})
	}()
}

// reloadFailed handles a worker of a new generation that could not load the app: the worker
// it was to replace goes back to serving, and the spec before the reload is restored, so
// that respawns do not try the broken code again. Called by Run.
// The error (an import's traceback) is logged for the first worker that failed only: with
// -w 4 the others fail the same way.
func (a *Arbiter) reloadFailed(ev event, first bool) {
	if first {
		a.log.Error("Reload failed; the running workers keep serving the previous code: " + ev.err.Error())
	}
	if a.reloadPrev != nil {
		a.setSpec(a.reloadPrev)
		a.reloadPrev = nil
	}
	if ev.old != nil && ev.old.state == recycling {
		ev.old.setState(serving)
		if ev.old.maxedOut.Load() {
			// It reached its recycling point while the reload booted, and no longer takes
			// requests at its cap: Run recycles it now.
			a.wakeUp()
		}
	}
}

// DumpStacks asks every worker to print the Python stacks of all its threads
// (faulthandler on SIGUSR1) into the error log, tagged with its pid, and goes on.
func (a *Arbiter) DumpStacks() {
	ws := a.table()
	sort.Slice(ws, func(i, j int) bool { return ws[i].id < ws[j].id })
	for _, w := range ws {
		a.log.Info("Dumping the stacks of worker (pid:" + itoa(w.pid) + ")")
		w.signal(syscall.SIGUSR1)
	}
}

// bootWindow is how soon after boot a worker's death counts as a boot failure (crash loop).
const bootWindow = 5 * time.Second

// BootLoopError reports that workers kept dying right after boot (--max-boot-failures).
type BootLoopError struct {
	Failures int
	Last     string // how the last one ended
}

func (e *BootLoopError) Error() string {
	return fmt.Sprintf("%d workers in a row died within %v of booting (last: %s); giving up (--max-boot-failures)", e.Failures, bootWindow, e.Last)
}
