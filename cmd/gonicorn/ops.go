package main

import (
	"log/slog"
	"os"
	"syscall"
	"time"

	"github.com/gonicorn/gonicorn/internal/config"
	"github.com/gonicorn/gonicorn/internal/dispatch"
	"github.com/gonicorn/gonicorn/internal/ops"
)

// startOps opens --metrics-bind and serves /livez, /readyz and /metrics on it, before the
// workers boot, so that a liveness probe answers during a slow import and /readyz says 503
// until a worker is ready. Without --metrics-bind it returns a nil *ops.Server, whose
// methods do nothing.
func startOps(cfg *config.Config, pool *dispatch.Pool, log *slog.Logger) (*ops.Server, error) {
	if cfg.MetricsBind == "" {
		return nil, nil
	}
	ln, err := ops.Listen(cfg.MetricsBind)
	if err != nil {
		return nil, err
	}
	s := ops.New(ops.Config{Ready: pool.Ready, Log: log})
	s.Start(ln)
	log.Info("Health and metrics at: http://" + ln.Addr().String() + " (/livez, /readyz, /metrics)")
	return s, nil
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
