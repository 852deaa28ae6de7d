package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"

	"github.com/gonicorn/gonicorn/internal/arbiter"
	"github.com/gonicorn/gonicorn/internal/config"
	"github.com/gonicorn/gonicorn/internal/reload"
)

// devMode is --reload (docs/django.md, "Development mode"): a file watcher fed with the
// files of the modules the workers imported, and a goroutine that starts a new generation
// of workers after each burst of changes.
type devMode struct {
	log     *slog.Logger
	arb     *arbiter.Arbiter
	watcher *reload.Watcher
	done    chan struct{} // closed when restarts returned
}

// startDevMode starts the watcher and its restarts, which end with ctx (Wait waits for
// them); nil without --reload. Call it before the arbiter boots, so that the workers'
// reports reach the watcher.
func startDevMode(ctx context.Context, cfg *config.Config, arb *arbiter.Arbiter, log *slog.Logger) (*devMode, error) {
	if !cfg.Reload {
		return nil, nil
	}
	w := reload.New(reload.Config{Engine: cfg.ReloadEngine, Extra: cfg.ReloadExtraPaths()}, log)
	if err := w.Start(ctx); err != nil {
		return nil, err
	}
	arb.OnModules = w.Watch
	d := &devMode{log: log, arb: arb, watcher: w, done: make(chan struct{})}
	go d.restarts(ctx)
	return d, nil
}

// Wait returns once the watcher and the restarts stopped (their context ended).
func (d *devMode) Wait() {
	if d == nil {
		return
	}
	d.watcher.Wait()
	<-d.done
}

// restarts starts new workers after each burst of changes, one generation at a time:
// changes saved while a generation boots start one more generation once it is up, so that
// the last save is always what runs.
func (d *devMode) restarts(ctx context.Context) {
	defer close(d.done)
	var booting <-chan error // the generation being started; nil = none
	again := false           // changes came while it booted
	for {
		select {
		case <-ctx.Done():
			return
		case files := <-d.watcher.Changes():
			d.log.Info("Worker reloading: " + describeChanges(files))
			if booting != nil {
				again = true
				continue
			}
			booting = d.arb.Restart()
		case err := <-booting:
			booting = nil
			if errors.Is(err, arbiter.ErrStopped) {
				return
			}
			// A failure (a worker that could not be started) was logged by the arbiter;
			// the running generation serves on, and the next save tries again.
			if again {
				again = false
				booting = d.arb.Restart()
			}
		}
	}
}

// describeChanges names the changed files as gunicorn's reloader does ("PATH modified"),
// the first one and how many more.
func describeChanges(files []string) string {
	slices.Sort(files)
	s := files[0] + " modified"
	if len(files) > 1 {
		s += fmt.Sprintf(" (and %d more)", len(files)-1)
	}
	return s
}

// banner logs the start-up banner of development mode, once the workers are ready: where
// to point the browser, what is served, and how the files are watched.
func (d *devMode) banner(cfg *config.Config, listeners []net.Listener) {
	if d == nil {
		return
	}
	where := ""
	if len(listeners) > 0 {
		where = describe(listeners[0], false)
		if a, ok := listeners[0].Addr().(*net.TCPAddr); ok && a.IP.IsUnspecified() {
			where = fmt.Sprintf("http://127.0.0.1:%d", a.Port) // the address a browser takes
		}
	}
	d.log.Info(fmt.Sprintf("Development mode: serving %s at %s; autoreload on (%s); not for production; Ctrl-C to stop",
		cfg.AppName(), where, d.watcher.Engine()))
}
