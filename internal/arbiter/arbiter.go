// Package arbiter supervises the Python worker processes, in gunicorn's words: it spawns
// workers, waits for their readiness handshake before they get traffic, reaps them when they
// exit, respawns them (with backoff when they keep dying), kills a worker whose request ran
// past --timeout (after a stack dump), recycles workers past --max-requests, their lifetime
// or their memory limit (replacement first, so no request fails), replaces them all with a
// new generation on a reload, adds or retires one on request, gives up on a boot crash loop
// (--max-boot-failures), and stops them gracefully.
//
// One goroutine, Run, owns the worker table and selects over worker events, control
// requests (reload.go), recycling wake-ups, the age/memory check ticker and its context.
package arbiter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/gonicorn/gonicorn/internal/dispatch"
	"github.com/gonicorn/gonicorn/internal/errorlog"
	"github.com/gonicorn/gonicorn/internal/wire"
)

// Spec describes the workers to run.
type Spec struct {
	Python     string   // interpreter
	App        string   // module[:callable]; "" with DjangoSettings
	Dir        string   // working directory; "" = the master's
	PythonPath []string // extra sys.path entries
	Env        []string // extra KEY=VALUE environment entries
	Workers    int      // processes
	Threads    int      // slots per process
	Sched      string   // "batch" runs workers with SCHED_BATCH (see python/gonicorn_worker.py)
	Title      string   // the workers' process title ("gonicorn: worker [NAME]"); "" = leave it

	// Preload imports the app once, in a preloader process, and forks every worker from it
	// (gunicorn's --preload; preload.go). PreloadTitle is the preloader's process title.
	Preload      bool
	PreloadTitle string
	// generation is the reload that made this spec (Arbiter.reloads), never reused, also
	// after a failed reload: a reload imports the app afresh, so with Preload it needs a
	// new preloader. Set by Run (handle); 0 at start.
	generation int

	// DjangoSettings is the settings module of a Django project found by its manage.py (no
	// APP_MODULE): the workers serve its WSGI_APPLICATION, as runserver does; "" = serve App.
	DjangoSettings string

	// Paste is a PasteDeploy ini file with an optional #name (--paste, absolute): the
	// workers load the app with paste.deploy.loadapp instead of App; PasteGlobal is its
	// global_conf (--paste-global). "" = serve App.
	Paste       string
	PasteGlobal map[string]string

	// Credential is the user, groups and supplementary groups the workers run as (--user,
	// --group, --initgroups); nil = the master's. The master keeps its own, to bind and to
	// signal them; what a worker uses from the master (its sockets, a spooled body) is
	// passed as an fd, which needs no permission on any path.
	Credential *syscall.Credential

	BootTimeout time.Duration // how long a worker may take to import the app; 0 = 5 minutes

	// Hooks are gunicorn's worker-side server hooks the config file defines, which each
	// worker runs (docs/hooks.md); the zero value = none.
	Hooks WorkerHooks

	// Recycling (gunicorn's max_requests, and what uWSGI and Granian add): a worker past one
	// of these limits is replaced without a failed request. Its replacement is spawned and
	// ready first; then the old worker takes no new requests, finishes what it holds and
	// exits. MaxRequests is a cap: the worker takes no request past it, and its replacement
	// is spawned a little before (recycleEarly, nearMaxRequests). 0 = no limit.
	MaxRequests       int           // requests per worker, plus a random 0..MaxRequestsJitter
	MaxRequestsJitter int           // spreads the restarts of workers booted together
	MaxLifetime       time.Duration // age of a worker
	CheckInterval     time.Duration // how often age and memory are checked; 0 = 1 s

	// MaxMemory is the resident set size of a worker in bytes, read from /proc every
	// CheckInterval. It is meant for a worker that grows while it serves (a leak), so a
	// worker is recycled for memory only once it has taken a request, and only if it was
	// below the limit right after its handshake (its RSS then, with the app imported, is
	// measured once). A worker already above the limit at boot would be replaced by one just
	// as big, every CheckInterval, forever: it is logged once with a warning instead and
	// never recycled for memory (the other limits still apply).
	MaxMemory int64

	// DrainTimeout is how long a retired worker (recycled, replaced by a reload, or removed
	// by TTOU) may take to finish the requests it holds before it is killed, as gunicorn's
	// --graceful-timeout bounds its old workers on HUP; 0 = no limit. Its clients then get
	// 502, or a cut response. It also bounds (at least 1 s) how long a drained worker that
	// did not exit by itself has after its SIGTERM before SIGKILL (stopRetired).
	DrainTimeout time.Duration

	// DevMode is --reload (docs/django.md, "Development mode"): each worker reports the
	// files of the modules it imported on a pipe of its own (to OnModules), and a worker
	// whose app fails to import stays up and answers every request with the traceback (500)
	// instead of exiting; the arbiter logs that error once, not once per worker.
	DevMode bool

	// MaxBootFailures is how many workers in a row may die within 5 s of booting, having
	// taken no request, before Run gives up with a *BootLoopError; 0 = retry forever. They
	// are respawned with exponential backoff (100 ms doubling to 10 s) until then.
	MaxBootFailures int
}

// WorkerHooks is what the workers need to run the config file's server hooks
// (python/gonicorn_hooks.py). A worker_abort hook makes a --timeout send SIGABRT after the
// stack dump and wait abortWait before SIGKILL; a worker_int hook makes Quit send SIGQUIT.
type WorkerHooks struct {
	ConfigFile string   // the config file, an absolute path; each worker evaluates it again
	Names      []string // the worker-side hooks it defines: post_fork, pre_request...; nil = none
	Settings   string   // every setting by gunicorn name, a JSON object: the hooks' cfg
}

// has reports whether the config file defines the worker-side hook name.
func (h WorkerHooks) has(name string) bool { return slices.Contains(h.Names, name) }

// Arbiter runs the workers of one Spec and lends their slots to a dispatch.Pool.
type Arbiter struct {
	pool  *dispatch.Pool
	log   *slog.Logger
	out   Output
	forks *forkSpawner // the spawner of the workers of a spec with Preload

	events  chan event    // worker exits and finished spawns, to Run
	control chan control  // reload and worker-count requests (signals), to Run
	wake    chan struct{} // buffered(1): a worker reached MaxRequests; Run looks at w.maxedOut
	stopped chan struct{} // closed by Stop: nobody reads events any more
	ended   chan struct{} // closed when Run returned: nobody reads control any more
	endErr  error         // why Run returned (its error, else its context's); written before ended is closed

	mu      sync.Mutex // guards workers (for Stop after Run returned), spec and lingering
	workers map[int]*worker
	spec    *Spec // the workers to spawn next; replaced (not changed) by Run on a reload

	// lingering maps reaped workers to the read ends of their output pipes, which processes
	// they started still hold open; Stop closes them (see reap).
	lingering map[*worker]*os.File

	// booted is what the first worker reported in its handshake at Boot (see Booted).
	// Written by Boot before it returns; guarded by mu.
	booted wire.ReadyInfo

	// OnRestart is told each time a worker is replaced or removed, with why (the reasons
	// are listed in restarts.go); nil = nobody. Set before Boot; called by Run's goroutine.
	OnRestart func(reason string)

	// OnModules is told, in DevMode, the files of the modules a worker imported (absolute
	// paths; each worker reports each file once). nil = nobody. Set before Boot; called by a
	// goroutine of each worker.
	OnModules func(files []string)

	// loadError is the traceback of the app's import that DevMode workers serve, as last
	// logged ("" = the app loaded), so that it is logged once and its fix is noted. Guarded
	// by mu.
	loadError string

	// adding counts the spawns in flight that add a worker rather than replace one (old ==
	// nil: a respawn after an exit, TTIN, a reload's extras), for coming. Owned by Run.
	adding int

	// For the config file's master-side server hooks (docs/hooks.md); nil = nobody. Set
	// before Boot. Each blocks what it is called from, as gunicorn's hooks block its arbiter.
	// OnSpawn is called before worker id's process starts (pre_fork), by the goroutine that
	// spawns it; OnReap once worker id's process pid was reaped (child_exit), by its reaper,
	// before the arbiter hears of the exit; OnWorkers when TTIN or TTOU changed the number
	// of workers (nworkers_changed), by Run.
	OnSpawn   func(id int)
	OnReap    func(id, pid int)
	OnWorkers func(now, before int)

	reloadPrev   *Spec // the spec before the last reload, restored if it fails; owned by Run
	bootFailures int   // workers in a row that died within bootWindow of booting; owned by Run
	reloads      int   // reloads so far, the generation of the newest spec; owned by Run
	nextID       int
}

type eventKind int

const (
	exited  eventKind = iota // the process was reaped
	spawned                  // a replacement finished its handshake (or failed: err)
)

type event struct {
	kind   eventKind
	w      *worker
	err    error
	id     int
	old    *worker // spawned: the worker being recycled that w replaces; nil for a respawn
	reload bool    // spawned: a worker of a new generation (Reload), not a respawn
}

// withDefaults fills in the zero values that mean a default.
func (s Spec) withDefaults() Spec {
	if s.BootTimeout == 0 {
		s.BootTimeout = 5 * time.Minute
	}
	return s
}

// Output is where the lines the workers print on stdout and stderr go: an
// *errorlog.Handler, which writes each tagged with the worker's pid, at its level, or an
// *errorlog.JSONHandler, which writes a traceback as one record.
type Output interface {
	errorlog.WorkerLog
}

// New returns an arbiter; it starts nothing.
func New(spec Spec, pool *dispatch.Pool, log *slog.Logger, out Output) *Arbiter {
	spec = spec.withDefaults()
	return &Arbiter{spec: &spec, pool: pool, log: log, out: out, forks: &forkSpawner{log: log, out: out},
		events: make(chan event, 64), control: make(chan control, 16), wake: make(chan struct{}, 1),
		stopped: make(chan struct{}), ended: make(chan struct{}), workers: make(map[int]*worker),
		lingering: make(map[*worker]*os.File)}
}

// Boot spawns all workers in parallel and returns once every one is ready; the first failure
// (a *LoadError if the app did not import) stops the others and is returned.
func (a *Arbiter) Boot(ctx context.Context) error {
	type result struct {
		w   *worker
		err error
	}
	n := a.current().Workers
	results := make(chan result, n)
	for i := 0; i < n; i++ {
		id := a.newID()
		go func() {
			w, err := a.spawn(ctx, id)
			results <- result{w, err}
		}()
	}
	var first error
	for i := 0; i < n; i++ {
		r := <-results
		if r.err != nil {
			if first == nil || isLoadError(r.err) && !isLoadError(first) {
				first = r.err
			}
			continue
		}
		a.adopt(r.w)
		a.mu.Lock()
		if a.booted.PID == 0 { // the first ready worker's report; all load the same app
			a.booted = r.w.ready
		}
		a.mu.Unlock()
	}
	if first != nil {
		a.Stop(0)
		return first
	}
	return nil
}

// Booted returns what the first worker reported about the application in its readiness
// handshake at Boot: its Python, and a Django application's settings (ReadyInfo.Django, nil
// for any other app) that the server's setup acts on, such as the static files. It is the
// boot's report; a reload (HUP) does not change it. The zero ReadyInfo before Boot returned.
func (a *Arbiter) Booted() wire.ReadyInfo {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.booted
}

// appName names the application in messages: App, or for a Django project found by its
// manage.py, "SETTINGS:WSGI_APPLICATION" (the setting that names the app, in its module).
func (s *Spec) appName() string {
	if s.Paste != "" {
		return "--paste " + s.Paste
	}
	if s.App == "" && s.DjangoSettings != "" {
		return s.DjangoSettings + ":WSGI_APPLICATION"
	}
	return s.App
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

// adopt puts a ready worker into the table and its slots into the pool. With a memory limit
// it first measures the worker's RSS while it has taken no request (see Spec.MaxMemory).
func (a *Arbiter) adopt(w *worker) {
	if w.spec.MaxMemory > 0 {
		if rss, err := residentBytes(w.pid); err == nil {
			w.bootRSS = rss
		}
	}
	w.group.OnBroken = func() {
		if w.timedOut.Load() {
			return // being killed already; its timeout was logged
		}
		if a.stopping() {
			// Stop closed the worker's sockets under a request: expected in a fast stop (INT,
			// QUIT) and at the end of --graceful-timeout. Stop ends the worker.
			a.log.Info("Worker (pid:" + itoa(w.pid) + ") stopped with a request in flight: the master is stopping without waiting for it")
			return
		}
		a.log.Warn("Worker (pid:" + itoa(w.pid) + ") broke the worker protocol or died mid-request; killing it")
		go killBroken(w)
	}
	w.group.OnTimeout = func(request, requestID string) { a.timeout(w, request, requestID) }
	if spec := w.spec; spec.MaxRequests > 0 {
		limit := spec.MaxRequests + rand.IntN(spec.MaxRequestsJitter+1)
		w.group.MaxRequests = limit
		w.group.RecycleAt = limit - recycleEarly(limit)
		w.group.OnRecycle = func() {
			w.maxedOut.Store(true)
			a.wakeUp()
		}
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
	if w.spec.DevMode {
		a.noteLoad(w)
	}
	if limit := w.spec.MaxMemory; limit > 0 && w.bootRSS > limit {
		// Once per worker: overLimit never recycles it for memory.
		a.log.Warn(fmt.Sprintf("Worker (pid:%d) uses %.1f MiB right after boot, above --max-worker-memory %d MiB; "+
			"not recycling it for memory, since its replacement would be as big (raise --max-worker-memory)",
			w.pid, float64(w.bootRSS)/(1<<20), limit>>20))
	}
}

// Run supervises the workers until ctx is done. It returns nil then, or a *LoadError when a
// replacement worker could not load the app (gunicorn halts the same way). Reloads not yet
// complete when it returns are answered with ErrStopped, wrapping its error or ctx's.
func (a *Arbiter) Run(ctx context.Context) (err error) {
	var backoff time.Duration
	pending := 0           // replacements being spawned
	var reloads reloadWait // the reload spawns among them, and who waits for them
	defer func() {
		cause := err
		if cause == nil {
			cause = ctx.Err()
		}
		a.endRun(cause, &reloads)
	}()
	var check <-chan time.Time
	// Always on: a reload may turn on --max-worker-lifetime or --max-worker-memory.
	interval := a.current().CheckInterval
	if interval <= 0 {
		interval = time.Second
	}
	{
		t := time.NewTicker(interval)
		defer t.Stop()
		check = t.C
	}
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
				switch {
				case ev.w.state == retired && ev.w.waitErr == nil:
					a.log.Info("Worker exiting (pid: " + itoa(ev.w.pid) + ")")
					continue
				case ev.w.state != serving:
					// Retired, or recycling: its replacement is ready or on its way.
					a.log.Error("Worker (pid:" + itoa(ev.w.pid) + ") " + ev.w.exitReason())
					continue
				}
				a.log.Error("Worker (pid:" + itoa(ev.w.pid) + ") " + ev.w.exitReason())
				a.restarted(exitRestartReason(ev.w))
				// A worker that dies soon after boot is respawned with exponential backoff
				// (not one that we killed for a timeout: that is the app's fault, not a
				// crash loop).
				if time.Since(ev.w.start) < bootWindow && !ev.w.timedOut.Load() {
					backoff = min(max(2*backoff, 100*time.Millisecond), 10*time.Second)
				} else {
					backoff = 0
				}
				if err := a.countBootFailure(ev.w); err != nil {
					return err
				}
				pending++
				a.respawnAfter(ctx, backoff, nil)
			case spawned:
				pending--
				if ev.old == nil {
					a.adding--
				}
				if ev.err != nil {
					if ctx.Err() != nil {
						continue // endRun answers the reload's waiters
					}
					if ev.reload {
						a.reloadFailed(ev, reloads.err == nil)
						reloads.done(ev.err)
						continue
					}
					if isLoadError(ev.err) {
						return ev.err
					}
					if err := a.countBootFailure(nil); err != nil {
						return err
					}
					a.log.Error("spawning replacement worker", "err", ev.err)
					// Try again through the same path as an exit, with backoff.
					backoff = min(max(2*backoff, 100*time.Millisecond), 10*time.Second)
					pending++
					a.respawnAfter(ctx, backoff, ev.old)
					continue
				}
				a.adopt(ev.w)
				if ev.old != nil {
					a.retire(ev.old)
				}
				if ev.reload {
					reloads.done(nil)
				}
			}
		case c := <-a.control:
			n := a.handle(ctx, c)
			pending += n
			if c.kind == reload {
				reloads.add(n, c.done)
			}
		case <-a.wake:
			for _, w := range a.table() {
				if w.state == serving && w.maxedOut.Load() {
					pending++
					a.recycle(ctx, w, fmt.Sprintf("took %d of its %d requests (max-requests)", w.group.Taken(), w.group.MaxRequests))
				}
			}
		case <-check:
			for _, w := range a.table() {
				if w.state == serving {
					if reason := a.overLimit(w, interval); reason != "" {
						pending++
						a.recycle(ctx, w, reason)
					}
				}
			}
		}
	}
}

// countBootFailure counts w's exit (nil: a replacement that failed its handshake) towards
// --max-boot-failures if it died within bootWindow of booting without taking a request, or
// resets the count otherwise. It returns a *BootLoopError when the limit is reached.
func (a *Arbiter) countBootFailure(w *worker) error {
	how := "failed its readiness handshake"
	if w != nil {
		if time.Since(w.start) >= bootWindow || w.timedOut.Load() || w.group.Taken() > 0 {
			a.bootFailures = 0
			return nil
		}
		how = "worker (pid:" + itoa(w.pid) + ") " + w.exitReason()
	}
	a.bootFailures++
	limit := a.current().MaxBootFailures
	a.log.Warn(fmt.Sprintf("Worker boot failure %d in a row (--max-boot-failures %d): %s", a.bootFailures, limit, how))
	if limit > 0 && a.bootFailures >= limit {
		return &BootLoopError{Failures: a.bootFailures, Last: how}
	}
	return nil
}

// table returns the workers in the table; only Run and Stop change it.
func (a *Arbiter) table() []*worker {
	a.mu.Lock()
	defer a.mu.Unlock()
	ws := make([]*worker, 0, len(a.workers))
	for _, w := range a.workers {
		ws = append(ws, w)
	}
	return ws
}

// overLimit reports why w should be recycled for its age or memory, or because it would
// reach --max-requests sooner than a replacement boots, or "". Memory counts only for a
// worker that has taken a request and was below the limit at boot (Spec.MaxMemory):
// recycling any other one would start a replacement just as big, in a loop. interval is the
// time since the last check.
func (a *Arbiter) overLimit(w *worker, interval time.Duration) string {
	spec := w.spec
	if reason := w.nearMaxRequests(interval); reason != "" {
		return reason
	}
	if spec.MaxLifetime > 0 {
		if age := time.Since(w.start); age > spec.MaxLifetime {
			return fmt.Sprintf("age %.1fs above max-worker-lifetime %v", age.Seconds(), spec.MaxLifetime)
		}
	}
	if spec.MaxMemory > 0 && w.bootRSS <= spec.MaxMemory && w.group.Taken() > 0 {
		rss, err := residentBytes(w.pid)
		if err != nil {
			return "" // exiting; its exit event follows
		}
		if rss > spec.MaxMemory {
			return fmt.Sprintf("RSS %.1f MiB above max-worker-memory %d MiB", float64(rss)/(1<<20), spec.MaxMemory>>20)
		}
	}
	return ""
}

// recycleEarly is how many requests before its --max-requests cap a worker's replacement is
// started: a tenth of the cap, 1 to 10. The worker takes no request past the cap
// (dispatch.Group.MaxRequests); starting early lets the replacement boot meanwhile, so that
// requests do not wait for it. A worker that takes requests faster than that is recycled
// earlier by nearMaxRequests.
func recycleEarly(limit int) int {
	return min(max(limit/10, 1), 10, limit-1)
}

// nearMaxRequests reports (as a reason for the log) whether w, at the rate it took requests
// since the last check (interval ago), reaches its --max-requests cap before a replacement
// can boot, going by how long its own boot took; "" if not. Called by Run.
func (w *worker) nearMaxRequests(interval time.Duration) string {
	limit := int64(w.group.MaxRequests)
	if limit == 0 || w.maxedOut.Load() {
		return ""
	}
	taken := w.group.Taken()
	rate := float64(taken-w.checked) / interval.Seconds() // requests per second
	w.checked = taken
	if rate <= 0 || float64(limit-taken)/rate > w.booted.Seconds() {
		return ""
	}
	return fmt.Sprintf("took %d of its %d requests (max-requests) at %.0f requests/s, a replacement takes %v to boot",
		taken, limit, rate, w.booted.Round(time.Millisecond))
}

// wakeUp tells Run to look at the workers that reached their recycling point.
func (a *Arbiter) wakeUp() {
	select {
	case a.wake <- struct{}{}:
	default: // Run has a wake-up pending and will see this worker too
	}
}

// killBroken kills w, which broke the worker protocol, unless it exits within brokenExitWait:
// a worker that died (the OOM killer's SIGKILL, a crash) ends its stream too, and then its
// exit line must say how it died, not that the master killed it.
func killBroken(w *worker) {
	t := time.NewTimer(brokenExitWait)
	defer t.Stop()
	select {
	case <-w.exited:
	case <-t.C:
		w.kill("after it broke the worker protocol")
	}
}

// brokenExitWait is how long a worker whose stream ended or broke has to be reaped before
// the master kills it for a protocol error. A dead worker is reaped within milliseconds.
const brokenExitWait = 200 * time.Millisecond

// recycle starts replacing w: a new worker is spawned (reported as a spawned event with
// old = w), and w keeps serving until the new one is ready; then retire takes it out. The
// caller counts the pending spawn.
func (a *Arbiter) recycle(ctx context.Context, w *worker, reason string) {
	w.setState(recycling)
	a.restarted(recycleRestartReason(reason))
	a.log.Info("Autorestarting worker (pid:" + itoa(w.pid) + ") after current request: " + reason)
	a.respawnAfter(ctx, 0, w)
}

// retire takes a worker that was replaced out of service: it gets no new requests, and once
// the requests it holds are done its sockets are closed, so it exits. A hung request on it is
// ended by --timeout, or by Spec.DrainTimeout, whichever comes first.
func (a *Arbiter) retire(w *worker) {
	a.mu.Lock()
	_, known := a.workers[w.pid]
	a.mu.Unlock()
	if !known {
		return // it exited while its replacement booted
	}
	w.setState(retired)
	a.pool.Retire(w.group)
	// This goroutine ends when the worker drained, exited (Stop makes every worker exit) or
	// ran out of time.
	go func() {
		var deadline <-chan time.Time // nil: no limit
		if d := w.spec.DrainTimeout; d > 0 {
			t := time.NewTimer(d)
			defer t.Stop()
			deadline = t.C
		}
		select {
		case <-w.group.Drained():
			w.closeSlots()
			a.stopRetired(w)
		case <-w.exited:
		case <-deadline:
			a.log.Warn("Worker (pid:" + itoa(w.pid) + ") did not finish its requests within the drain timeout (--graceful-timeout); killing it")
			w.kill("after the drain timeout (--graceful-timeout)")
		}
	}()
}

// retiredExitWait is how long a retired worker has to exit by itself once its sockets closed
// (the interpreter's shutdown, the app's atexit handlers) before it gets SIGTERM.
const retiredExitWait = 2 * time.Second

// stopRetired makes sure a retired worker whose sockets were closed exits. It normally does
// at once; one that does not (a non-daemon thread of the app keeps its interpreter alive,
// which would leak a copy of the app at every recycle) gets SIGTERM after retiredExitWait,
// and SIGKILL --graceful-timeout (at least 1 s) later, as gunicorn stops its workers.
func (a *Arbiter) stopRetired(w *worker) {
	t := time.NewTimer(retiredExitWait)
	defer t.Stop()
	select {
	case <-w.exited:
		return
	case <-t.C:
	}
	a.log.Warn("Worker (pid:" + itoa(w.pid) + ") did not exit " + retiredExitWait.String() +
		" after its sockets closed (does the app start a non-daemon thread?); sending SIGTERM")
	w.term("after it did not exit by itself once retired")
	grace := max(w.spec.DrainTimeout, time.Second)
	t.Reset(grace)
	select {
	case <-w.exited:
	case <-t.C:
		a.log.Warn("Worker (pid:" + itoa(w.pid) + ") did not exit " + grace.String() +
			" after SIGTERM (--graceful-timeout); killing it")
		w.kill("after SIGTERM did not end it within --graceful-timeout")
	}
}

// timeout handles a request that ran longer than --timeout on w (gunicorn's murder of a
// worker that stopped notifying): it logs WORKER TIMEOUT with the request line, asks the
// worker to dump its Python stacks (faulthandler on SIGUSR1, into the error log through its
// stderr), and kills it a moment later. Other requests of the process then get 502; Run
// replaces it when it is reaped. Called from the request's timer goroutine.
func (a *Arbiter) timeout(w *worker, request, requestID string) {
	if w.timedOut.Swap(true) {
		return // another request on the same worker timed out first
	}
	a.pool.Retire(w.group)        // nothing new for a worker about to be killed
	w.timeoutID.Store(&requestID) // before the stack dump is asked for
	attrs := []any{"request", request}
	if requestID != "" {
		attrs = append(attrs, "request_id", requestID)
	}
	a.log.Log(context.Background(), errorlog.LevelCritical, "WORKER TIMEOUT (pid:"+itoa(w.pid)+")", attrs...)
	w.signal(syscall.SIGUSR1)
	wait := stackDumpWait
	if w.spec.Hooks.has("worker_abort") {
		// gunicorn's SIGABRT: the worker runs worker_abort and exits 1 (the dump of SIGUSR1
		// is printed first: faulthandler writes it in the signal handler itself).
		w.signal(syscall.SIGABRT)
		wait = abortWait
	}
	time.AfterFunc(wait, func() { w.kill("after WORKER TIMEOUT") })
}

// stackDumpWait is how long a timed-out worker has to print its stacks before SIGKILL.
const stackDumpWait = 150 * time.Millisecond

// abortWait is how long a timed-out worker with a worker_abort hook has to run it and exit
// before SIGKILL: about what gunicorn gives (its next murder round, a second later).
const abortWait = time.Second

// Quit sends SIGQUIT to the workers whose config file defines worker_int: gunicorn's quick
// shutdown (INT or QUIT to the master), which runs that hook in each; each then stops
// serving and exits. Quit waits up to quitWait for them, so that their sockets are not
// closed under the hook. Call it just before Stop; the workers of a file without worker_int
// get nothing (SIGQUIT would dump core).
func (a *Arbiter) Quit() {
	var ws []*worker
	for _, w := range a.table() {
		if w.spec.Hooks.has("worker_int") {
			w.signal(syscall.SIGQUIT)
			ws = append(ws, w)
		}
	}
	t := time.NewTimer(quitWait)
	defer t.Stop()
	for _, w := range ws {
		select {
		case <-w.exited:
		case <-t.C:
			return // Stop ends the rest
		}
	}
}

// quitWait bounds how long Quit waits for the workers to run worker_int and exit.
const quitWait = time.Second

// respawnAfter spawns a replacement worker after delay, in its own goroutine, and reports
// it to Run as a spawned event (also when ctx ends first, so Run can count it). old is the
// worker being recycled that it replaces, or nil.
func (a *Arbiter) respawnAfter(ctx context.Context, delay time.Duration, old *worker) {
	if old == nil {
		a.adding++
	}
	id := a.newID()
	if delay > 0 {
		a.log.Info("Respawning worker in " + delay.String())
	}
	go func() {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			a.send(event{kind: spawned, err: ctx.Err(), id: id, old: old})
			return
		}
		w, err := a.spawn(ctx, id)
		a.send(event{kind: spawned, w: w, err: err, id: id, old: old})
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
			ev.w.kill("as it booted after the stop")
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
				w.kill("at the stop, after the grace period")
			}
			<-w.exited
		}
	}
	for _, w := range ws {
		<-w.exited
	}
	a.forks.close()
	a.closeOutputs()
}

// spawnerFor returns the spawner of spec's workers: the preloader's forks with Preload,
// else an interpreter each (whose spawns stop a preloader that a reload made useless).
func (a *Arbiter) spawnerFor(spec *Spec) spawner {
	if spec.Preload {
		return a.forks
	}
	a.forks.retire()
	return execSpawner{}
}

// stopping reports whether Stop was called.
func (a *Arbiter) stopping() bool {
	select {
	case <-a.stopped:
		return true
	default:
		return false
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
