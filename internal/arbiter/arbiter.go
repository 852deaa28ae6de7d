// Package arbiter supervises the Python worker processes, in gunicorn's words: it spawns
// workers, waits for their readiness handshake before they get traffic, reaps them when they
// exit, respawns them (with backoff when they keep dying), and stops them gracefully.
//
// One goroutine, Run, owns the worker table and selects over worker events and its context.
package arbiter

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/gonicorn/gonicorn/internal/dispatch"
	"github.com/gonicorn/gonicorn/internal/errorlog"
)

// Spec describes the workers to run.
type Spec struct {
	Python     string   // interpreter
	App        string   // module[:callable]
	Dir        string   // working directory; "" = the master's
	PythonPath []string // extra sys.path entries
	Env        []string // extra KEY=VALUE environment entries
	Workers    int      // processes
	Threads    int      // slots per process
	Sched      string   // "batch" runs workers with SCHED_BATCH (see python/gonicorn_worker.py)

	BootTimeout time.Duration // how long a worker may take to import the app; 0 = 5 minutes
}

// Arbiter runs the workers of one Spec and lends their slots to a dispatch.Pool.
type Arbiter struct {
	spec Spec
	pool *dispatch.Pool
	log  *slog.Logger
	sink *errorlog.Sink

	events  chan event    // worker exits and finished spawns, to Run
	stopped chan struct{} // closed by Stop: nobody reads events any more

	mu      sync.Mutex // guards workers, for Stop after Run returned
	workers map[int]*worker
	nextID  int
}

type eventKind int

const (
	exited  eventKind = iota // the process was reaped
	spawned                  // a replacement finished its handshake (or failed: err)
)

type event struct {
	kind eventKind
	w    *worker
	err  error
	id   int
}

// New returns an arbiter; it starts nothing.
func New(spec Spec, pool *dispatch.Pool, log *slog.Logger, sink *errorlog.Sink) *Arbiter {
	if spec.BootTimeout == 0 {
		spec.BootTimeout = 5 * time.Minute
	}
	return &Arbiter{spec: spec, pool: pool, log: log, sink: sink,
		events: make(chan event, 64), stopped: make(chan struct{}), workers: make(map[int]*worker)}
}

// Boot spawns all workers in parallel and returns once every one is ready; the first failure
// (a *LoadError if the app did not import) stops the others and is returned.
func (a *Arbiter) Boot(ctx context.Context) error {
	type result struct {
		w   *worker
		err error
	}
	results := make(chan result, a.spec.Workers)
	for i := 0; i < a.spec.Workers; i++ {
		id := a.newID()
		go func() {
			w, err := a.spawn(ctx, id)
			results <- result{w, err}
		}()
	}
	var first error
	for i := 0; i < a.spec.Workers; i++ {
		r := <-results
		if r.err != nil {
			if first == nil || isLoadError(r.err) && !isLoadError(first) {
				first = r.err
			}
			continue
		}
		a.adopt(r.w)
	}
	if first != nil {
		a.Stop(0)
		return first
	}
	return nil
}

func isLoadError(err error) bool {
	var le *LoadError
	return errors.As(err, &le)
}

func (a *Arbiter) newID() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.nextID++
	return a.nextID
}

// adopt puts a ready worker into the table and its slots into the pool.
func (a *Arbiter) adopt(w *worker) {
	w.group.OnBroken = func() {
		a.log.Warn("Worker (pid:" + itoa(w.pid) + ") broke the worker protocol or died mid-request; killing it")
		w.kill()
	}
	a.mu.Lock()
	a.workers[w.pid] = w
	a.mu.Unlock()
	go func() {
		<-w.exited
		a.send(event{kind: exited, w: w})
	}()
	a.pool.Add(w.group)
	a.log.Info("Booting worker with pid: " + itoa(w.pid))
}

// Run supervises the workers until ctx is done. It returns nil then, or a *LoadError when a
// replacement worker could not load the app (gunicorn halts the same way).
func (a *Arbiter) Run(ctx context.Context) error {
	var backoff time.Duration
	pending := 0 // replacements being spawned
	for {
		select {
		case <-ctx.Done():
			// Let pending spawns finish so that their processes are adopted and stopped.
			for pending > 0 {
				ev := <-a.events
				if ev.kind == spawned {
					pending--
					if ev.err == nil {
						a.adopt(ev.w)
					}
				}
			}
			return nil
		case ev := <-a.events:
			switch ev.kind {
			case exited:
				a.mu.Lock()
				_, known := a.workers[ev.w.pid]
				delete(a.workers, ev.w.pid)
				a.mu.Unlock()
				if !known {
					continue
				}
				a.pool.Retire(ev.w.group)
				ev.w.closeSlots()
				a.log.Error("Worker (pid:" + itoa(ev.w.pid) + ") " + ev.w.exitReason())
				// A worker that dies soon after boot is respawned with exponential backoff.
				if time.Since(ev.w.start) < 5*time.Second {
					backoff = min(max(2*backoff, 100*time.Millisecond), 10*time.Second)
				} else {
					backoff = 0
				}
				pending++
				a.respawnAfter(ctx, backoff)
			case spawned:
				pending--
				if ev.err != nil {
					if isLoadError(ev.err) {
						return ev.err
					}
					if ctx.Err() != nil {
						continue
					}
					a.log.Error("spawning replacement worker", "err", ev.err)
					// Try again through the same path as an exit, with backoff.
					backoff = min(max(2*backoff, 100*time.Millisecond), 10*time.Second)
					pending++
					a.respawnAfter(ctx, backoff)
					continue
				}
				a.adopt(ev.w)
			}
		}
	}
}

// respawnAfter spawns a replacement worker after delay, in its own goroutine, and reports
// it to Run as a spawned event (also when ctx ends first, so Run can count it).
func (a *Arbiter) respawnAfter(ctx context.Context, delay time.Duration) {
	id := a.newID()
	if delay > 0 {
		a.log.Info("Respawning worker in " + delay.String())
	}
	go func() {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			a.send(event{kind: spawned, err: ctx.Err(), id: id})
			return
		}
		w, err := a.spawn(ctx, id)
		a.send(event{kind: spawned, w: w, err: err, id: id})
	}()
}

// send delivers an event to Run, or drops it once Stop was called.
func (a *Arbiter) send(ev event) {
	select {
	case a.events <- ev:
	case <-a.stopped:
		if ev.w != nil && ev.kind == spawned {
			// A replacement that finished booting after the stop.
			ev.w.closeSlots()
			ev.w.kill()
		}
	}
}

// Stop ends every worker: it closes their sockets (threads read EOF and the process exits
// 0), sends SIGTERM, and after grace sends SIGKILL; it returns when all are reaped. Call it
// after the server stopped using the pool and Run returned.
func (a *Arbiter) Stop(grace time.Duration) {
	a.mu.Lock()
	select {
	case <-a.stopped:
	default:
		close(a.stopped)
	}
	ws := make([]*worker, 0, len(a.workers))
	for _, w := range a.workers {
		ws = append(ws, w)
	}
	a.workers = map[int]*worker{}
	a.mu.Unlock()
	for _, w := range ws {
		w.closeSlots()
		w.signal(sigterm)
	}
	timer := time.NewTimer(max(grace, time.Second))
	defer timer.Stop()
	for _, w := range ws {
		select {
		case <-w.exited:
		case <-timer.C:
			for _, w := range ws {
				w.kill()
			}
			<-w.exited
		}
	}
	for _, w := range ws {
		<-w.exited
	}
}

// PIDs returns the pids of the running workers.
func (a *Arbiter) PIDs() []int {
	a.mu.Lock()
	defer a.mu.Unlock()
	pids := make([]int, 0, len(a.workers))
	for pid := range a.workers {
		pids = append(pids, pid)
	}
	return pids
}
