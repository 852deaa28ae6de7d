package metrics

import "github.com/prometheus/client_golang/prometheus"

// connCollector reports the client connections at scrape time.
type connCollector struct {
	conns func() (open, idle int)
}

var (
	connsOpenDesc = prometheus.NewDesc("gonicorn_client_connections", "Client connections open.", nil, nil)
	connsIdleDesc = prometheus.NewDesc("gonicorn_client_connections_idle", "Of the open client connections, those waiting for a request (keep-alive, or not sent the first one yet).", nil, nil)
)

func (c *connCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- connsOpenDesc
	ch <- connsIdleDesc
}

func (c *connCollector) Collect(ch chan<- prometheus.Metric) {
	open, idle := c.conns()
	ch <- prometheus.MustNewConstMetric(connsOpenDesc, prometheus.GaugeValue, float64(open))
	ch <- prometheus.MustNewConstMetric(connsIdleDesc, prometheus.GaugeValue, float64(idle))
}

// workerCollector reports each running worker's resident memory and CPU time, read from
// /proc at scrape time. The pid label changes with every restart; Prometheus' staleness
// handling ends the series of a worker that is gone.
type workerCollector struct {
	pids func() []int
}

var (
	workerRSSDesc = prometheus.NewDesc("gonicorn_worker_resident_memory_bytes", "Resident memory (RSS) of a worker process.", []string{"pid"}, nil)
	workerCPUDesc = prometheus.NewDesc("gonicorn_worker_cpu_seconds_total", "User and system CPU time of a worker process.", []string{"pid"}, nil)
)

func (c *workerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- workerRSSDesc
	ch <- workerCPUDesc
}

func (c *workerCollector) Collect(ch chan<- prometheus.Metric) {
	for _, pid := range c.pids() {
		st, err := readProc(pid)
		if err != nil {
			continue // it exited since pids() was read
		}
		label := itoa(pid)
		ch <- prometheus.MustNewConstMetric(workerRSSDesc, prometheus.GaugeValue, float64(st.rss), label)
		ch <- prometheus.MustNewConstMetric(workerCPUDesc, prometheus.CounterValue, st.cpu, label)
	}
}
