package main

import (
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gonicorn/gonicorn/internal/arbiter"
	"github.com/gonicorn/gonicorn/internal/config"
	"github.com/gonicorn/gonicorn/internal/dispatch"
	"github.com/gonicorn/gonicorn/internal/metrics"
	"github.com/gonicorn/gonicorn/internal/ops"
	"github.com/gonicorn/gonicorn/internal/server"
)

// observability is the master's ops listener and metrics (--metrics-bind) and its statsd
// client (--statsd-host), and the recent past for gonicorn top; every method does nothing
// without them.
type observability struct {
	ops     *ops.Server                   // nil without --metrics-bind
	metrics *metrics.Metrics              // nil without --metrics-bind
	statsd  *metrics.Statsd               // nil without --statsd-host
	recent  *metrics.Window               // the last 10 s for gonicorn top; nil without a control socket
	stop    chan struct{}                 // closed by Close: the statsd workers gauge ends
	gauging sync.WaitGroup                // the statsd workers gauge's goroutine
	srv     atomic.Pointer[server.Server] // set once the HTTP front exists (after boot)
}

// startOps opens --metrics-bind and serves /livez, /readyz and /metrics on it, before the
// workers boot, so that a liveness probe answers during a slow import and /readyz says 503
// until a worker is ready. It hooks the arbiter's restarts to the metrics, and starts the
// statsd client (--statsd-host).
func startOps(cfg *config.Config, pool *dispatch.Pool, arb *arbiter.Arbiter, log *slog.Logger) (*observability, error) {
	o := &observability{stop: make(chan struct{})}
	if cfg.StatsdHost != "" {
		sd, err := metrics.NewStatsd(cfg.StatsdHost, cfg.StatsdPrefix, cfg.DogstatsdTags)
		if err != nil {
			return nil, err
		}
		o.statsd = sd
		o.gauging.Add(1)
		go o.gaugeWorkers(pool)
	}
	if cfg.MetricsBind == "" {
		return o, nil
	}
	ln, err := ops.Listen(cfg.MetricsBind)
	if err != nil {
		o.Close()
		return nil, err
	}
	o.metrics = metrics.New(metrics.Info{Version: config.Version}, metrics.Sources{
		Pool: func() metrics.Pool {
			st := pool.Stats()
			return metrics.Pool{Workers: st.Workers, Slots: st.Slots, Busy: st.Busy, Queued: st.Queued}
		},
		Conns: func() (int, int) {
			if s := o.srv.Load(); s != nil {
				return s.Conns()
			}
			return 0, 0
		},
		Workers: arb.PIDs,
	})
	arb.OnRestart = o.metrics.WorkerRestart
	o.ops = ops.New(ops.Config{Ready: pool.Ready, Metrics: o.metrics.Handler(), Log: log})
	o.ops.Start(ln)
	log.Info("Health and metrics at: http://" + ln.Addr().String() + " (/livez, /readyz, /metrics)")
	return o, nil
}

// gaugeWorkers sends statsd's gunicorn.workers every second, as gunicorn's arbiter does
// from its loop, until Close.
func (o *observability) gaugeWorkers(pool *dispatch.Pool) {
	defer o.gauging.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		o.statsd.Workers(pool.Stats().Workers)
		select {
		case <-o.stop:
			return
		case <-t.C:
		}
	}
}

// observer is what the HTTP front reports to, or nil.
func (o *observability) observer() server.Observer {
	if o.metrics == nil && o.statsd == nil && o.recent == nil {
		return nil
	}
	return observer{o.metrics, o.statsd, o.recent}
}

// keepRecent keeps the rate and latency of the last seconds, which the control socket's
// "top" shows (recentSeconds of them).
func (o *observability) keepRecent() *metrics.Window {
	o.recent = metrics.NewWindow(recentSeconds)
	return o.recent
}

// recentSeconds is the span of gonicorn top's rate and percentiles.
const recentSeconds = 10

// serving tells the connection gauges which server to read.
func (o *observability) serving(s *server.Server) { o.srv.Store(s) }

// Stopping makes /readyz fail from now on.
func (o *observability) Stopping() { o.ops.Stopping() }

// Close closes the ops listener and the statsd client; called last in a stop, so that
// /livez answers through it.
func (o *observability) Close() {
	o.ops.Close()
	if o.statsd != nil {
		close(o.stop)
		o.gauging.Wait()
		o.statsd.Close()
	}
}

// observer adapts the Prometheus metrics and statsd (either may be nil) to the server's
// hooks (package metrics imports no other of gonicorn's).
type observer struct {
	m      *metrics.Metrics
	sd     *metrics.Statsd
	recent *metrics.Window
}

func (o observer) RequestBegun() {
	if o.m != nil {
		o.m.RequestBegun()
	}
}

func (o observer) RequestEnded() {
	if o.m != nil {
		o.m.RequestEnded()
	}
}

func (o observer) Request(r server.Observation) {
	if o.m != nil {
		o.m.Request(metrics.Request(r))
	}
	if o.sd != nil {
		o.sd.Request(r.Status, r.Total)
	}
	if o.recent != nil {
		o.recent.Add(r.Total)
	}
}

func (o observer) Rejected(reason string) {
	if o.m != nil {
		o.m.Rejected(reason)
	}
}

func (o observer) BodySpooled(n int64) {
	if o.m != nil {
		o.m.BodySpooled(n)
	}
}

// shutdownDelay waits --shutdown-delay after a TERM, while /readyz already fails and the
// listeners still serve, so that a load balancer's health check takes this instance out
// before it refuses connections. It reports false when an INT or a QUIT cut it short (the
// stop is then fast).
func shutdownDelay(log *slog.Logger, sigs <-chan os.Signal, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	log.Info("Shutdown delay: serving for " + d.String() + " more while /readyz fails")
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			return true
		case sig := <-sigs:
			if sig == syscall.SIGQUIT || sig == syscall.SIGINT {
				log.Info("Handling signal: " + signame(sig) + "; stopping without waiting for requests")
				return false
			}
		}
	}
}
