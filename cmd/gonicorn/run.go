package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/gonicorn/gonicorn/internal/accesslog"
	"github.com/gonicorn/gonicorn/internal/arbiter"
	"github.com/gonicorn/gonicorn/internal/config"
	"github.com/gonicorn/gonicorn/internal/dispatch"
	"github.com/gonicorn/gonicorn/internal/errorlog"
	"github.com/gonicorn/gonicorn/internal/http1"
	"github.com/gonicorn/gonicorn/internal/metrics"
	"github.com/gonicorn/gonicorn/internal/proxy"
	"github.com/gonicorn/gonicorn/internal/server"
	"github.com/gonicorn/gonicorn/internal/static"
)

// pipelineDepth is how many requests a busy worker slot may have queued on its socket when
// every slot is busy (see package dispatch). Measured with the shared benchmark harness.
const pipelineDepth = 4

// run serves cfg until a stopping signal (signals.go), then drains gracefully. The order of a stop:
// /readyz fails → --shutdown-delay (TERM only; still serving) → close listeners → finish
// requests in flight and queued (up to --graceful-timeout) → close the workers' sockets and
// TERM them → KILL what is left → reap.
func run(ctx context.Context, cfg *config.Config) error {
	started := time.Now()
	closeInheritedOnExec()
	sd := newNotifier()
	errOut, closeErr, err := openLog(cfg.ErrorLogFile, os.Stderr)
	if err != nil {
		return fmt.Errorf("--error-logfile: %w", err)
	}
	defer closeErr()
	level, err := errorlog.ParseLevel(cfg.LogLevel)
	if err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	sink := errorlog.NewSink(errOut)
	logHandler := errorLogHandler(cfg.ErrorLogFormat, sink, level)
	syslogOut, err := openSyslog(cfg, logHandler)
	if err != nil {
		return err
	}
	defer syslogOut.Close() // last: the master's last lines go there too
	logHandler = syslogOut.errorLog(logHandler, level)
	log := slog.New(logHandler)
	for _, n := range cfg.Notices { // which config file was read, when none was named
		log.Info(n)
	}
	for _, w := range cfg.Warnings { // the config file's ignored settings and hooks
		log.Warn(w)
	}
	setProcTitle(log, cfg.Title("master"))
	// The config file's master-side server hooks (hooks.go): nworkers_changed and
	// on_starting first, as gunicorn's arbiter calls them, before any socket is bound.
	mh, err := startMasterHooks(cfg, log, logHandler)
	if err != nil {
		return err
	}
	defer mh.close()
	mh.workersChanged(cfg.Workers, -1)
	if err := mh.runAtStart("on_starting"); err != nil {
		return err
	}

	var access *accesslog.Format
	var accessFile io.Writer // --access-logfile's; nil without it
	if cfg.AccessLogFile != "" {
		w, closeAccess, err := openLog(cfg.AccessLogFile, os.Stdout)
		if err != nil {
			return fmt.Errorf("--access-logfile: %w", err)
		}
		defer closeAccess()
		accessFile = w
	}
	// With --log-syslog the access log goes to syslog even without --access-logfile, as in
	// gunicorn.
	accessOut, logAccess := syslogOut.accessLog(accessFile)
	if logAccess {
		if access, err = accesslog.Compile(cfg.AccessLogFormat); err != nil {
			return fmt.Errorf("--access-logformat: %w", err)
		}
	}
	if err := checkTmpDir(cfg.TmpDir); err != nil {
		return err // before any worker starts: a first big upload would fail on it
	}
	if err := checkWorkerReach(cfg); err != nil {
		return err
	}
	certs, err := loadTLS(cfg)
	if err != nil {
		return err
	}

	// Signals are caught before anything starts, so that a TERM during boot is not lost.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, masterSignals...)
	defer signal.Stop(sigs)

	// Sockets from systemd (socket activation) or from the old master of a binary upgrade
	// (USR2, upgrade.go) replace --bind, as in gunicorn.
	listeners, err := systemdListeners()
	if err != nil {
		return err
	}
	activated := listeners != nil
	inh, err := inheritedListeners()
	if err != nil {
		closeAll(listeners)
		return err
	}
	if activated {
		// systemd's sockets win over an old master's, which is then not this one's parent.
		closeAll(inh.listeners)
		inh = inheritance{}
	} else {
		listeners = inh.listeners
	}
	// systemd owns the files of its unix sockets, also when an old master handed them down.
	systemdSockets := activated || inh.systemd
	fresh := listeners == nil
	if fresh {
		if listeners, err = listen(cfg.Bind, sockOptions{backlog: cfg.Backlog, reusePort: cfg.ReusePort, umask: cfg.UmaskBits(), owner: cfg.Credential}); err != nil {
			return err
		}
	}
	tlsConfs := listenerTLS(certs, listeners, cfg.Bind, fresh)
	log.Info("Starting gonicorn " + config.Version)
	switch {
	case activated:
		log.Info(fmt.Sprintf("Using %d socket(s) from systemd (socket activation); --bind is ignored", len(listeners)))
	case inh.listeners != nil:
		log.Info(fmt.Sprintf("Inherited %d socket(s) from the old master (pid %d); --bind is ignored", len(listeners), inh.oldMaster))
	}
	up := newUpgrader(log, listeners, systemdSockets, cfg.PIDFile, sd, inh.oldMaster)
	if err := up.writePID(); err != nil {
		closeAll(listeners)
		return fmt.Errorf("--pid: %w", err)
	}
	defer up.removePID()
	ctl, err := openControl(cfg, log, inh.oldMaster)
	if err != nil {
		closeAll(listeners)
		return err
	}
	defer ctl.Close()
	up.onPromote = func() { ctl.promote(log) } // PATH.2 becomes PATH, as the pid file
	up.onPreExec = func() { mh.run("pre_exec", nil) }
	for i, ln := range listeners {
		log.Info(fmt.Sprintf("Listening at: %s (%d)", describe(ln, tlsConfs[i] != nil), os.Getpid()))
	}
	workerKind := cfg.WorkerClass // gunicorn's -k gthread is gthread with one thread too
	if cfg.Threads > 1 {
		workerKind = "gthread"
	}
	log.Info("Using worker: " + workerKind)

	pool := dispatch.NewPool(cfg.MaxQueue, pipelineDepth)
	pool.QueueTimeout = cfg.QueueTimeout
	arb := arbiter.New(workerSpec(cfg), pool, log, logHandler)
	mh.attach(arb)
	obs, err := startOps(cfg, pool, arb, log)
	if err != nil {
		closeAll(listeners)
		return err
	}
	defer obs.Close() // last: /livez answers through the drain
	var recent *metrics.Window
	if ctl != nil {
		recent = obs.keepRecent()
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	dev, err := startDevMode(ctx, cfg, arb, log)
	if err != nil {
		closeAll(listeners)
		return err
	}
	defer func() {
		cancel()
		dev.Wait()
	}()
	bootDone := make(chan error, 1)
	go func() { bootDone <- arb.Boot(ctx) }()
boot:
	for {
		select {
		case err := <-bootDone:
			if err != nil {
				logLoadError(log, err)
				closeAll(listeners)
				return err
			}
			if parent := up.oldMaster(); parent != 0 {
				log.Info(fmt.Sprintf("Upgrade: new master ready; the old master (pid %d) still serves until it gets TERM", parent))
			}
			logDjango(log, cfg, arb.Booted())
			// when_ready: the workers are ready and the listeners accept (serving starts
			// below); gunicorn stops when it raises.
			if err := mh.runAtStart("when_ready"); err != nil {
				cancel()
				arb.Stop(0)
				closeAll(listeners)
				return err
			}
			dev.banner(cfg, listeners)
			sdNotify(log, sd, up.readyState())
			break boot
		case sig := <-sigs:
			if !stops(sig) {
				log.Info("Ignoring signal: " + signame(sig) + " during boot")
				continue
			}
			log.Info("Handling signal: " + signame(sig) + " during boot")
			if state := up.stoppingState(); state != "" {
				sdNotify(log, sd, state)
			}
			cancel()
			<-bootDone
			arb.Stop(0)
			closeAll(listeners)
			mh.run("on_exit", nil)
			return nil
		}
	}

	trust, err := proxy.ParseTrust(cfg.ForwardedAllowIPs)
	if err != nil {
		return fmt.Errorf("--forwarded-allow-ips: %w", err) // config validated it already
	}
	srvCfg := server.Config{
		Limits: http1.Limits{
			RequestLine: cfg.LimitRequestLine,
			Fields:      cfg.LimitRequestFields,
			FieldSize:   cfg.LimitRequestFieldSize,
			HeaderMap:   headerMap(cfg.HeaderMap),
		},
		Trust:           trust,
		MaxBody:         cfg.LimitRequestBody,
		BodyMemory:      cfg.BodyMemory,
		KeepAlive:       cfg.KeepAlive,
		Timeout:         cfg.Timeout,
		RootPath:        cfg.RootPath,
		Software:        "gonicorn/" + config.Version,
		AccessLog:       access,
		AccessWriter:    accessOut,
		Observer:        obs.observer(),
		RequestIDHeader: cfg.RequestIDHeader,
	}
	if err := frontDefences(&srvCfg, cfg); err != nil {
		return err // config validated it already
	}
	if err := sendfileAndForwarder(&srvCfg, cfg); err != nil {
		return err // config validated it already
	}
	// Static mounts are made after boot, so that mounts the workers report (Django's
	// STATIC_ROOT) can join the --static ones (docs/static.md).
	mounts := cfg.StaticMounts()
	for _, m := range mounts {
		log.Info("Serving static files at " + m.Prefix + " from " + m.Dir)
	}
	mounts = append(mounts, djangoMounts(log, cfg, arb.Booted(), mounts)...)
	if srvCfg.Static, err = static.New(static.Config{Mounts: mounts, SendfileRoots: cfg.SendfileRoots()}, log); err != nil {
		return fmt.Errorf("--static: %w", err)
	}
	srv := server.New(srvCfg, pool, log)
	obs.serving(srv)

	serveCtx, stopServing := context.WithCancel(context.Background())
	defer stopServing()
	for i, ln := range listeners {
		if tlsConfs[i] != nil {
			go srv.ServeTLS(serveCtx, ln, tlsConfs[i])
		} else {
			go srv.Serve(serveCtx, ln)
		}
	}
	arbDone := make(chan error, 1)
	go func() { arbDone <- arb.Run(ctx) }()
	go up.watchParent(serveCtx)

	m := &master{log: log, cfg: cfg, arb: arb, logs: reopenable(errOut, accessFile), sd: sd, up: up, certs: certs, hooks: mh}
	ctl.serve(&controlMaster{cfg: cfg, started: started, pool: pool, arb: arb, sigs: sigs, recent: recent}, log)
	sig, runErr := m.waitStop(sigs, arbDone)
	obs.Stopping() // /readyz fails from now on
	if sig == nil {
		arbDone = nil
	}
	graceful := sig != syscall.SIGQUIT && sig != syscall.SIGINT
	if sig == syscall.SIGTERM && !shutdownDelay(log, sigs, cfg.ShutdownDelay) {
		graceful = false
	}

	// Drain: stop accepting, let requests in flight and queued finish.
	grace := cfg.GracefulTimeout
	if !graceful {
		grace = 0
	}
	drainCtx, cancelDrain := context.WithTimeout(context.Background(), grace)
	go drainWatch(drainCtx, log, sigs, cancelDrain)
	// Requests still running when the drain ends (its timeout, or a fast stop) can only end
	// with their workers, so the workers are stopped then (the clients get 502 or a cut).
	endWorkers := afterDrain(drainCtx, func() {
		cancel()
		if !graceful || errors.Is(drainCtx.Err(), context.Canceled) {
			arb.Quit() // gunicorn's quick shutdown: the workers run worker_int
		}
		arb.Stop(0)
	})
	if err := srv.Shutdown(drainCtx); err != nil && graceful {
		log.Warn("graceful timeout reached; closing remaining connections")
	}
	endWorkers()
	cancelDrain()
	pool.Close()
	stopServing()
	cancel()
	if arbDone != nil {
		if err := <-arbDone; err != nil && runErr == nil {
			runErr = err
		}
	}
	arb.Stop(grace)
	// systemd owns its sockets' files; the other master of an upgrade still serves them.
	if !systemdSockets && !up.partner() {
		removeUnixSockets(listeners)
	}
	logLoadError(log, runErr)
	log.Info("Shutting down: Master")
	mh.run("on_exit", nil)
	return runErr
}

// logLoadError writes an application's load error, with its traceback and a hint, to the
// error log: once, however many workers failed (main then prints one line pointing there).
func logLoadError(log *slog.Logger, err error) {
	var le *arbiter.LoadError
	if errors.As(err, &le) {
		log.Error("Worker failed to boot: " + le.Error())
	}
}

// headerMap maps --header-map (validated by package config) onto the parser's policy.
func headerMap(s string) http1.HeaderMap {
	switch s {
	case "refuse":
		return http1.HeaderMapRefuse
	case "dangerous":
		return http1.HeaderMapDangerous
	}
	return http1.HeaderMapDrop
}

// listen opens every --bind address. On error the ones already open are closed.
func listen(binds []string, opts sockOptions) ([]net.Listener, error) {
	var lns []net.Listener
	for _, b := range binds {
		ln, err := listenOne(b, opts)
		if err != nil {
			closeAll(lns)
			return nil, err
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

func listenOne(s string, opts sockOptions) (net.Listener, error) {
	b, err := config.ParseBind(s)
	if err != nil {
		return nil, err
	}
	switch b.Network {
	case "unix":
		// A stale socket file from an earlier run is replaced, as gunicorn does; any other
		// kind of file is left alone and reported.
		if st, err := os.Lstat(b.Address); err == nil {
			if st.Mode()&os.ModeSocket == 0 {
				return nil, fmt.Errorf("--bind %s: %s exists and is not a socket", s, b.Address)
			}
			os.Remove(b.Address)
		}
		ln, err := opts.listenUnix(b.Address)
		if err != nil {
			return nil, fmt.Errorf("--bind %s: %w", s, err)
		}
		// The file is removed at exit (removeUnixSockets), unless the other master of a
		// binary upgrade still serves it.
		ln.(*net.UnixListener).SetUnlinkOnClose(false)
		return ln, nil
	case "fd":
		fd, _ := strconv.Atoi(b.Address)
		f := os.NewFile(uintptr(fd), "fd://"+b.Address)
		defer f.Close()
		ln, err := net.FileListener(f)
		if err != nil {
			return nil, fmt.Errorf("--bind %s: not a listening socket: %w", s, err)
		}
		return ln, nil
	}
	ln, err := opts.listen("tcp", b.Address)
	if err != nil {
		return nil, fmt.Errorf("--bind %s: %w", s, err)
	}
	return ln, nil
}

func describe(ln net.Listener, secure bool) string {
	a := ln.Addr()
	switch {
	case a.Network() == "unix" && secure:
		return "unix:" + a.String() + " (TLS)"
	case a.Network() == "unix":
		return "unix:" + a.String()
	case secure:
		return "https://" + a.String()
	}
	return "http://" + a.String()
}

func closeAll(lns []net.Listener) {
	for _, ln := range lns {
		ln.Close()
	}
}

// removeUnixSockets removes the socket files of the unix listeners in lns.
func removeUnixSockets(lns []net.Listener) {
	for _, ln := range lns {
		if a := ln.Addr(); a.Network() == "unix" && a.String() != "" {
			if st, err := os.Lstat(a.String()); err == nil && st.Mode()&os.ModeSocket != 0 {
				os.Remove(a.String())
			}
		}
	}
}
