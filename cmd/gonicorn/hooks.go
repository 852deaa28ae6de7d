package main

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"

	"github.com/gonicorn/gonicorn/internal/arbiter"
	"github.com/gonicorn/gonicorn/internal/config"
	"github.com/gonicorn/gonicorn/internal/errorlog"
	"github.com/gonicorn/gonicorn/internal/hooks"
)

// workerHooks is what the workers need to run the config file's worker-side server hooks
// (docs/hooks.md); the zero value when it defines none.
func workerHooks(cfg *config.Config) arbiter.WorkerHooks {
	names := hooks.WorkerSide(cfg.Hooks)
	if len(names) == 0 {
		return arbiter.WorkerHooks{}
	}
	path, err := filepath.Abs(cfg.ConfigFile)
	if err != nil {
		path = cfg.ConfigFile
	}
	return arbiter.WorkerHooks{ConfigFile: path, Names: names, Settings: hooks.Settings(cfg)}
}

// masterHooks runs the config file's master-side server hooks (on_starting, pre_fork,
// child_exit...) in the hook process of package hooks, with the master's state as their
// server argument (docs/hooks.md). Without such hooks in the file it starts nothing and each
// call returns at once. Its methods may be called from any goroutine.
type masterHooks struct {
	log *slog.Logger
	out errorlog.WorkerLog

	mu      sync.Mutex
	proc    *hooks.Process // nil = the file defines no master-side hook; replaced on reload
	workers int            // server.num_workers: the workers the arbiter keeps
}

// startMasterHooks starts the hook process if cfg's config file defines master-side hooks.
// An error is a file that no longer evaluates (it did a moment ago, for the settings).
func startMasterHooks(cfg *config.Config, log *slog.Logger, out errorlog.WorkerLog) (*masterHooks, error) {
	h := &masterHooks{log: log, out: out, workers: cfg.Workers}
	p, err := h.start(cfg)
	h.proc = p
	return h, err
}

// start starts a hook process for cfg's config file; nil when it defines no master-side hook.
func (h *masterHooks) start(cfg *config.Config) (*hooks.Process, error) {
	names := hooks.MasterSide(cfg.Hooks)
	if len(names) == 0 {
		return nil, nil
	}
	path, err := filepath.Abs(cfg.ConfigFile)
	if err != nil {
		path = cfg.ConfigFile
	}
	return hooks.Start(hooks.Options{Python: cfg.Python, ConfigFile: path, Names: names,
		Settings: hooks.Settings(cfg), Env: cfg.Env, Out: h.out})
}

// run runs the hook name (w: its worker argument, or nil) and logs its failure; the error
// is returned for the hooks whose failure stops the start (runAtStart).
func (h *masterHooks) run(name string, w *hooks.Worker, args ...any) error {
	h.mu.Lock()
	p, state := h.proc, hooks.State{NumWorkers: h.workers}
	h.mu.Unlock()
	if !p.Has(name) {
		return nil
	}
	return p.Run(h.log, name, state, w, args...)
}

// runAtStart runs on_starting or when_ready: gunicorn stops when they raise, with exit
// status 1, and so does gonicorn (the error says so; run logged the traceback). A hook
// that could not run or did not answer in time is logged and the start goes on.
func (h *masterHooks) runAtStart(name string) error {
	var he *hooks.HookError
	if errors.As(h.run(name, nil), &he) {
		return fmt.Errorf("server hook %s raised (its traceback is in the error log); not starting, as gunicorn", name)
	}
	return nil
}

// workersChanged runs nworkers_changed(server, now, before); before < 0 is None (at start).
func (h *masterHooks) workersChanged(now, before int) {
	h.mu.Lock()
	h.workers = now
	h.mu.Unlock()
	var old any
	if before >= 0 {
		old = before
	}
	h.run("nworkers_changed", nil, now, old)
}

// attach makes the arbiter's moments run pre_fork, child_exit and nworkers_changed.
func (h *masterHooks) attach(arb *arbiter.Arbiter) {
	arb.OnSpawn = func(id int) { h.run("pre_fork", &hooks.Worker{Age: id, Alive: true}) }
	arb.OnReap = func(id, pid int) { h.run("child_exit", &hooks.Worker{Age: id, PID: pid}) }
	arb.OnWorkers = h.workersChanged
}

// reload takes the hooks of next, the configuration a HUP read (its config file was
// evaluated again): a new hook process replaces the old one, then nworkers_changed and
// on_reload run, in gunicorn's order, before the new workers start.
func (h *masterHooks) reload(next *config.Config) {
	p, err := h.start(next)
	if err != nil {
		h.log.Error("reload: the master's server hooks are not run until the next reload", "err", err)
	}
	h.mu.Lock()
	old, before := h.proc, h.workers
	h.proc = p
	h.mu.Unlock()
	old.Close()
	h.workersChanged(next.Workers, before)
	h.run("on_reload", nil)
}

// close ends the hook process.
func (h *masterHooks) close() {
	h.mu.Lock()
	p := h.proc
	h.proc = nil
	h.mu.Unlock()
	p.Close()
}
