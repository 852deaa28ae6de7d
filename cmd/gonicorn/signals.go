package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/gonicorn/gonicorn/internal/arbiter"
	"github.com/gonicorn/gonicorn/internal/config"
	"github.com/gonicorn/gonicorn/internal/tlsconf"
)

// The master's signals, gunicorn's table (see README, "Signals"):
//
//	TERM       graceful stop: /readyz fails, --shutdown-delay passes (still serving; ops.go),
//	           close the listeners, finish requests in flight and queued (up to
//	           --graceful-timeout), stop the workers, exit 0; an INT or a QUIT during the
//	           delay or the drain makes it fast
//	INT, QUIT  fast stop: no drain (gunicorn's "quick shutdown", also Ctrl-C)
//	HUP        reload: re-read the configuration, start a new generation of workers
//	           (importing the app afresh), switch traffic once they are ready, drain the old
//	TTIN, TTOU one worker more, one less (not below 1)
//	USR1       reopen the log files
//	USR2       binary upgrade: start a new master from the executable's path with the
//	           listening sockets; both serve until one gets TERM (upgrade.go)
//	PWR        dump the Python stacks of every worker into the error log (signals_linux.go)
//
// WINCH (gunicorn's daemon-mode worker stop) is ignored by default: there is no daemon mode.
var masterSignals = append([]os.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT,
	syscall.SIGHUP, syscall.SIGTTIN, syscall.SIGTTOU, syscall.SIGUSR1, syscall.SIGUSR2}, stackDumpSignal)

// stops reports whether sig ends the master.
func stops(sig os.Signal) bool {
	return sig == syscall.SIGTERM || sig == syscall.SIGINT || sig == syscall.SIGQUIT
}

// signame is a signal's name as gunicorn logs it: "term", "hup", "ttin".
func signame(sig os.Signal) string {
	if s, ok := sig.(syscall.Signal); ok {
		if n := unix.SignalName(s); n != "" {
			return strings.ToLower(strings.TrimPrefix(n, "SIG"))
		}
	}
	return sig.String()
}

// master handles the signals that do not stop it, while the server runs.
type master struct {
	log  *slog.Logger
	cfg  *config.Config // the configuration at start; static settings keep these values
	arb  *arbiter.Arbiter
	logs []*logFile // reopened on USR1
	sd   *notifier  // systemd's NOTIFY_SOCKET, if any
	up   *upgrader  // binary upgrade (USR2)
	// certs are the TLS certificate, key and CAs, re-read on HUP; nil without TLS.
	certs *tlsconf.Store
	hooks *masterHooks // the config file's master-side server hooks
}

// reopenable returns the log destinations among ws that are files.
func reopenable(ws ...io.Writer) []*logFile {
	var ls []*logFile
	for _, w := range ws {
		if l, ok := w.(*logFile); ok {
			ls = append(ls, l)
		}
	}
	return ls
}

// pendingSignals is how many signals that do not stop the master may wait for their handler.
const pendingSignals = 16

// waitStop handles signals until one stops the master or arbDone delivers. It returns the
// stopping signal (nil if the arbiter ended first) and the arbiter's error.
//
// The other signals are handled one after another, in the order they came, by a goroutine
// of their own: a HUP evaluates the config file (up to its 30 s limit), and a TERM must not
// wait for that. The goroutine ends when waitStop returned and it handled what it had.
func (m *master) waitStop(sigs <-chan os.Signal, arbDone <-chan error) (os.Signal, error) {
	work := make(chan os.Signal, pendingSignals)
	defer close(work)
	go func() {
		for sig := range work {
			m.handle(sig)
		}
	}()
	for {
		select {
		case sig := <-sigs:
			m.log.Info("Handling signal: " + signame(sig))
			if stops(sig) {
				if state := m.up.stoppingState(); state != "" {
					sdNotify(m.log, m.sd, state)
				}
				return sig, nil
			}
			select {
			case work <- sig:
			default:
				m.log.Warn(fmt.Sprintf("%d signals wait to be handled; ignoring %s", pendingSignals, signame(sig)))
			}
		case err := <-arbDone:
			return nil, err
		}
	}
}

func (m *master) handle(sig os.Signal) {
	switch sig {
	case syscall.SIGHUP:
		m.log.Info("Hang up: Master")
		sdNotify(m.log, m.sd, reloading())
		reloadTLS(m.log, m.certs)
		done := m.reload()
		// The new generation boots in the background while the old one serves; systemd
		// hears READY=1 once it is in the pool, so that "systemctl reload" returns when the
		// new code answers. A failed reload is ready too: the old generation keeps serving.
		// The arbiter answers done exactly once (also when it stops), so this goroutine ends.
		go func() {
			if done != nil {
				switch err := <-done; {
				case errors.Is(err, arbiter.ErrStopped):
					return // the master is stopping: no READY=1 after STOPPING=1
				case err != nil:
					// The arbiter logged why; the old generation serves on.
				default:
					m.log.Info("Reload complete")
				}
			}
			sdNotify(m.log, m.sd, "READY=1")
		}()
	case syscall.SIGTTIN:
		m.arb.AddWorker()
	case syscall.SIGTTOU:
		m.arb.RemoveWorker()
	case syscall.SIGUSR1:
		for _, l := range m.logs {
			if err := l.Reopen(); err != nil {
				m.log.Error("reopening log file "+l.path, "err", err)
			}
		}
		m.log.Info("Reopened log files")
	case stackDumpSignal:
		m.arb.DumpStacks()
	case syscall.SIGUSR2:
		m.up.start()
	}
}

// reload re-reads the configuration as at start (the config file given by -c, evaluated
// afresh, GONICORN_CMD_ARGS and the command line) and gives the workers' part of it to the
// arbiter; settings that cannot change while running keep their values, with a warning. It
// returns the arbiter's answer to the reload (see arbiter.Reload), or nil if the
// configuration could not be read (a config file that now fails) and nothing changed.
func (m *master) reload() <-chan error {
	next, err := config.Parse(os.Args[1:], os.Getenv)
	if err != nil {
		m.log.Error("reload: reading the configuration; keeping the running one", "err", err)
		return nil
	}
	for _, n := range next.Notices {
		m.log.Info("reload: " + n)
	}
	for _, w := range next.Warnings {
		m.log.Warn("reload: " + w)
	}
	for _, name := range config.StaticChanges(m.cfg, next) {
		m.log.Warn("reload: --" + name + " cannot change while running; keeping the value from start")
	}
	setProcTitle(m.log, next.Title("master")) // --name may have changed
	m.hooks.reload(next)                      // on_reload, before the new workers start
	spec := workerSpec(next)
	spec.DevMode = m.cfg.Reload // --reload cannot change while running (its watcher is set up at start)
	return m.arb.Reload(spec)
}

// drainWatch makes a QUIT or an INT during a graceful drain cut it short (cancel).
// It returns when ctx ends.
func drainWatch(ctx context.Context, log *slog.Logger, sigs <-chan os.Signal, cancel func()) {
	for {
		select {
		case <-ctx.Done():
			return
		case sig := <-sigs:
			if sig == syscall.SIGQUIT || sig == syscall.SIGINT {
				log.Info("Handling signal: " + signame(sig) + "; stopping without waiting for requests")
				cancel()
				return
			}
		}
	}
}

// afterDrain runs stop in its own goroutine once ctx ends. The function it returns cancels
// that if it has not started, or waits until stop returned.
func afterDrain(ctx context.Context, stop func()) func() {
	done := make(chan struct{})
	unregister := context.AfterFunc(ctx, func() {
		defer close(done)
		stop()
	})
	return func() {
		if !unregister() {
			<-done
		}
	}
}

// workerSpec is the part of cfg the arbiter uses, the settings a reload may change.
func workerSpec(cfg *config.Config) arbiter.Spec {
	return arbiter.Spec{
		Python: cfg.Python, App: cfg.App, Dir: cfg.Chdir, PythonPath: cfg.PythonPath,
		Env: cfg.Env, Workers: cfg.Workers, Threads: cfg.Threads, Sched: cfg.WorkerSched, Title: cfg.Title("worker"),
		MaxRequests: cfg.MaxRequests, MaxRequestsJitter: cfg.MaxRequestsJitter,
		MaxLifetime: cfg.MaxWorkerLifetime, MaxMemory: int64(cfg.MaxWorkerMemory) << 20,
		MaxBootFailures: cfg.MaxBootFailures, DrainTimeout: cfg.GracefulTimeout,
		DjangoSettings: djangoSettings(cfg),
		Paste:          cfg.Paste,
		PasteGlobal:    cfg.PasteVars,
		DevMode:        cfg.Reload,
		Credential:     cfg.Credential,
		Preload:        cfg.Preload && !cfg.Reload, PreloadTitle: cfg.Title("preloader"), // see reloadWarnings
		Hooks: workerHooks(cfg),
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
