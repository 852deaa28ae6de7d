// Package metrics keeps gonicorn's Prometheus metrics and serves them in the text exposition
// format (docs/operations.md has the table of names and example queries).
//
// The request path feeds it through a few methods (Request, Rejected, BodySpooled,
// RequestBegun, RequestEnded, WorkerRestart), each a handful of atomic operations on
// client_golang's counters and histograms, with the label values of a request resolved by
// array index rather than by a map lookup. Everything that is a state rather than an event
// (queue depth, slots, connections, worker memory and CPU) is read when Prometheus scrapes,
// from the functions in Sources, so it costs the request path nothing.
//
// The package imports none of gonicorn's others: cmd/gonicorn adapts the server's,
// dispatcher's and arbiter's hooks to it.
package metrics

import (
	"net/http"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Sources are read at scrape time. Each may be nil (the metric is then not exported).
type Sources struct {
	Pool    func() Pool             // the dispatch pool's state
	Conns   func() (open, idle int) // client connections
	Workers func() []int            // pids of the running workers
}

// Pool is the dispatch pool's state, as Sources.Pool reports it.
type Pool struct {
	Workers, Slots, Busy, Queued int
}

// Info is what the build-info metric says.
type Info struct {
	Version string
}

// Request is one request the server answered, by the app or itself.
type Request struct {
	Method []byte
	Status int
	// Queue is from the request being read whole to a worker starting on it, App from then
	// to the worker's end, Total from its first byte to its last response byte handed to the
	// client. Queue and App are 0 for a request that never reached a worker.
	Queue, App, Total time.Duration
	BodyIn, BodyOut   int64 // request and response body bytes
}

// methods are the method label's values; any other method is "other", so that a client
// cannot make up label values (cardinality).
var methods = [...]string{"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "other"}

// classes are the status label's values: 1xx … 5xx.
var classes = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

// rejectReasons are the reasons of Rejected, created at start so that each series exists
// (at 0) before its first event and rate() sees the first one.
var rejectReasons = []string{"400", "408", "413", "414", "431", "501", "505", "queue_full", "queue_timeout", "stopping", "proxy_protocol"}

// restartReasons are the reasons of WorkerRestart, likewise.
var restartReasons = []string{"crash", "timeout", "max_requests", "lifetime", "memory", "reload", "ttou"}

// Metrics is the registry and the collectors the request path updates.
type Metrics struct {
	reg *prometheus.Registry

	requests        [len(methods)][len(classes)]prometheus.Counter
	queueSeconds    prometheus.Histogram
	appSeconds      prometheus.Histogram
	totalSeconds    prometheus.Histogram
	inFlight        prometheus.Gauge
	bodyIn, bodyOut prometheus.Counter
	rejected        *prometheus.CounterVec
	spooled         prometheus.Counter
	spooledBytes    prometheus.Counter
	restarts        *prometheus.CounterVec
}

// durationBuckets go from 1 ms to about 33 s, doubling: a hello answer, a typical page and a
// request near the default --timeout of 30 s each fall in a bucket of their own.
var durationBuckets = prometheus.ExponentialBuckets(0.001, 2, 16)

// New returns the metrics of one master, with Go's runtime and the master's process
// collectors, and build info.
func New(info Info, src Sources) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gonicorn_http_requests_total",
		Help: "Requests answered, by method (GET HEAD POST PUT DELETE PATCH OPTIONS, else other) and status class (2xx...), including those the server answered itself (4xx, 503).",
	}, []string{"method", "code"})
	for i, meth := range methods {
		for j, c := range classes {
			m.requests[i][j] = reqs.WithLabelValues(meth, c)
		}
	}
	hist := func(name, help string) prometheus.Histogram {
		return prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: durationBuckets})
	}
	m.queueSeconds = hist("gonicorn_request_queue_seconds", "Time from a request being read whole to a worker starting on it: the wait for a free slot (the queue) or behind a pipelined request.")
	m.appSeconds = hist("gonicorn_request_app_seconds", "Time from a worker starting on a request to the worker's end of it (the application's time).")
	m.totalSeconds = hist("gonicorn_request_duration_seconds", "Time from a request's first byte to its last response byte handed to the client's socket.")
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{Name: "gonicorn_requests_in_flight", Help: "Requests read (at least their head) and not yet answered."})
	m.bodyIn = prometheus.NewCounter(prometheus.CounterOpts{Name: "gonicorn_request_body_bytes_total", Help: "Request body bytes received (after de-chunking)."})
	m.bodyOut = prometheus.NewCounter(prometheus.CounterOpts{Name: "gonicorn_response_body_bytes_total", Help: "Response body bytes sent to clients (the access log's %(B)s)."})
	m.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gonicorn_rejected_requests_total",
		Help: "Requests the front answered itself without the app, by reason: the status (400 408 413 414 431 501 505), queue_full, queue_timeout, stopping (503: no slot, or the server stopped while it waited), or proxy_protocol (a bad or unallowed PROXY header; the connection is closed).",
	}, []string{"reason"})
	for _, r := range rejectReasons {
		m.rejected.WithLabelValues(r)
	}
	m.spooled = prometheus.NewCounter(prometheus.CounterOpts{Name: "gonicorn_request_bodies_spooled_total", Help: "Request bodies larger than the in-memory threshold (1 MiB), written to a temp file in --tmp-dir."})
	m.spooledBytes = prometheus.NewCounter(prometheus.CounterOpts{Name: "gonicorn_request_body_spooled_bytes_total", Help: "Bytes of the request bodies written to temp files."})
	m.restarts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gonicorn_worker_restarts_total",
		Help: "Workers replaced, by reason: crash, timeout (--timeout), max_requests, lifetime, memory (recycling), reload (HUP), ttou (removed, not replaced).",
	}, []string{"reason"})
	for _, r := range restartReasons {
		m.restarts.WithLabelValues(r)
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "gonicorn_build_info",
		Help:        "Always 1; the labels say which gonicorn and Go built this master.",
		ConstLabels: prometheus.Labels{"version": info.Version, "goversion": runtime.Version()},
	})
	build.Set(1)
	m.reg.MustRegister(reqs, m.queueSeconds, m.appSeconds, m.totalSeconds, m.inFlight,
		m.bodyIn, m.bodyOut, m.rejected, m.spooled, m.spooledBytes, m.restarts, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.registerSources(src)
	return m
}

// registerSources adds the metrics read at scrape time.
func (m *Metrics) registerSources(src Sources) {
	if src.Pool != nil {
		gauge := func(name, help string, v func(Pool) int) prometheus.Collector {
			return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help},
				func() float64 { return float64(v(src.Pool())) })
		}
		m.reg.MustRegister(
			gauge("gonicorn_workers", "Worker processes in service (booted, not retired).", func(p Pool) int { return p.Workers }),
			gauge("gonicorn_worker_slots", "Worker slots (threads) of the workers in service.", func(p Pool) int { return p.Slots }),
			gauge("gonicorn_worker_slots_busy", "Worker slots running (or holding pipelined) requests.", func(p Pool) int { return p.Busy }),
			gauge("gonicorn_queue_depth", "Requests waiting in the queue for a free worker slot (--max-queue).", func(p Pool) int { return p.Queued }),
		)
	}
	if src.Conns != nil {
		m.reg.MustRegister(&connCollector{conns: src.Conns})
	}
	if src.Workers != nil {
		m.reg.MustRegister(&workerCollector{pids: src.Workers})
	}
}

// Handler serves the registry in Prometheus' text format (or OpenMetrics when asked).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
}

// RequestBegun counts a request whose head was read as in flight, until RequestEnded.
func (m *Metrics) RequestBegun() { m.inFlight.Inc() }

// RequestEnded ends what RequestBegun began.
func (m *Metrics) RequestEnded() { m.inFlight.Dec() }

// Request counts one answered request.
func (m *Metrics) Request(r Request) {
	m.requests[methodIndex(r.Method)][classIndex(r.Status)].Inc()
	if r.Queue > 0 || r.App > 0 {
		m.queueSeconds.Observe(r.Queue.Seconds())
		m.appSeconds.Observe(r.App.Seconds())
	}
	m.totalSeconds.Observe(r.Total.Seconds())
	if r.BodyIn > 0 {
		m.bodyIn.Add(float64(r.BodyIn))
	}
	if r.BodyOut > 0 {
		m.bodyOut.Add(float64(r.BodyOut))
	}
}

// Rejected counts a request the front answered (or a connection it closed) itself; reason is
// one of rejectReasons.
func (m *Metrics) Rejected(reason string) { m.rejected.WithLabelValues(reason).Inc() }

// BodySpooled counts a request body of n bytes written to a temp file.
func (m *Metrics) BodySpooled(n int64) {
	m.spooled.Inc()
	m.spooledBytes.Add(float64(n))
}

// WorkerRestart counts a worker replaced (or removed) for reason, one of restartReasons.
func (m *Metrics) WorkerRestart(reason string) { m.restarts.WithLabelValues(reason).Inc() }

func methodIndex(m []byte) int {
	for i, name := range methods[:len(methods)-1] {
		if string(m) == name { // no allocation: the compiler compares in place
			return i
		}
	}
	return len(methods) - 1
}

func classIndex(status int) int {
	return min(max(status/100, 1), 5) - 1
}
