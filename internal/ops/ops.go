// Package ops serves the operator's endpoints on a listener of their own (--metrics-bind),
// never routed to the application: /livez, /readyz and /metrics.
//
// It is plain net/http: the endpoints are few, their clients (a kubelet, a load balancer's
// health check, a Prometheus scraper) are trusted and light, and the HTTP front's strict
// parser and worker dispatch have nothing to add here. Because these handlers run in the
// master and touch no worker, /livez answers while every worker is busy or hung.
package ops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Config is what the endpoints report from.
type Config struct {
	// Ready reports whether at least one worker can take requests (dispatch.Pool.Ready).
	Ready func() bool
	// Metrics serves /metrics; nil = 404.
	Metrics http.Handler
	Log     *slog.Logger
}

// Server is the ops listener's HTTP server. Its zero value is not usable; a nil *Server is:
// every method does nothing, so that the master calls them whether --metrics-bind is set
// or not.
type Server struct {
	cfg      Config
	stopping atomic.Bool // set by Stopping: /readyz fails from then on
	srv      *http.Server
	started  bool          // Start was called; Start and Close are called by the same goroutine
	done     chan struct{} // closed when Serve returned
}

// New returns a server for cfg; it listens on nothing until Start.
func New(cfg Config) *Server {
	s := &Server{cfg: cfg, done: make(chan struct{})}
	s.srv = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second, // a scrape of a big registry still fits
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(cfg.Log.Handler(), slog.LevelDebug),
	}
	return s
}

// Handler returns the endpoints' mux.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /livez", s.livez)
	mux.HandleFunc("GET /readyz", s.readyz)
	if s.cfg.Metrics != nil {
		mux.Handle("GET /metrics", s.cfg.Metrics)
	}
	return mux
}

// livez answers 200 as long as the master's goroutines run: it asks nothing of the workers,
// so a liveness probe does not restart a container whose workers are merely busy.
func (s *Server) livez(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	io.WriteString(w, "ok\n")
}

// readyz answers 200 when a worker can take requests and no stop has begun, else 503 with
// the reason, so that a load balancer sends traffic only where it will be served.
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	switch {
	case s.stopping.Load():
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "stopping\n")
	case !s.cfg.Ready():
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "no worker ready\n")
	default:
		io.WriteString(w, "ok\n")
	}
}

// Start serves on ln in a goroutine that Close ends and waits for.
func (s *Server) Start(ln net.Listener) {
	if s == nil {
		return
	}
	s.started = true
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.cfg.Log.Error("metrics listener stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
}

// Stopping makes /readyz fail from now on: the master got TERM (or is stopping otherwise).
func (s *Server) Stopping() {
	if s != nil {
		s.stopping.Store(true)
	}
}

// Close stops the listener and its connections, and waits for the serving goroutine. It
// is called last in a stop, so that /livez answers through the drain.
func (s *Server) Close() {
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		s.srv.Close()
	}
	if s.started {
		<-s.done
	}
}

// Listen opens the ops listener at addr (HOST:PORT) with SO_REUSEPORT, so that the new
// master of a binary upgrade (USR2) can open the same address while the old one still runs;
// each then answers for itself.
func Listen(addr string) (net.Listener, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-bind %s: %w", addr, err)
	}
	return ln, nil
}
