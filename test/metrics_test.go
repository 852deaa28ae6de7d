package e2e

// End-to-end test of /metrics on --metrics-bind (issue 12, docs/operations.md): what a
// Prometheus scrape shows after requests, rejections, a spooled body, a held worker and a
// crashed one.

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// scrapeMetrics GETs /metrics and returns each sample, keyed by its name and labels as
// written ("name{a=\"b\"}").
func scrapeMetrics(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	r, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	if r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics = %s %s", r.Status, r.Header.Get("Content-Type"))
	}
	samples := map[string]float64{}
	sc := bufio.NewScanner(r.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		samples[line[:i]] = v
	}
	return samples
}

// waitMetric waits up to 10 s for the sample key to satisfy ok.
func waitMetric(t *testing.T, addr, key string, ok func(float64) bool) {
	t.Helper()
	var got float64
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var found bool
		got, found = scrapeMetrics(t, addr)[key]
		if found && ok(got) {
			return
		}
	}
	t.Fatalf("metric %s = %v; not as wanted within 10 s", key, got)
}

func TestMetricsEndToEnd(t *testing.T) {
	gate := t.TempDir() + "/gate"
	metrics := freePort(t)
	s := opsStart(t, gate, "--metrics-bind", metrics, "--max-queue", "1")
	waitProbe(t, metrics, "/readyz", 200)

	// Served requests, a 400 and a 2 MiB body spooled to disk.
	for i := range 3 {
		if r, err := s.fetch(fmt.Sprintf("/n?i=%d", i)); err != nil || r.status != 200 {
			t.Fatalf("GET /n = %+v, %v", r, err)
		}
	}
	if got := firstLine(s.raw("GET / HTTP/1.1\r\nHost: t\r\nHost: u\r\n\r\n", time.Second)); !strings.Contains(got, " 400 ") {
		t.Fatalf("duplicate Host: %q; want 400", got)
	}
	body := strings.Repeat("x", 2<<20)
	if got := firstLine(s.raw(fmt.Sprintf("POST /pid HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body), 5*time.Second)); !strings.Contains(got, " 200 ") {
		t.Fatalf("POST of 2 MiB: %q; want 200", got)
	}
	m := scrapeMetrics(t, metrics)
	for key, want := range map[string]float64{
		`gonicorn_http_requests_total{code="2xx",method="GET"}`:  3,
		`gonicorn_http_requests_total{code="2xx",method="POST"}`: 1,
		`gonicorn_http_requests_total{code="4xx",method="GET"}`:  1,
		`gonicorn_rejected_requests_total{reason="400"}`:         1,
		`gonicorn_request_bodies_spooled_total`:                  1,
		`gonicorn_request_body_bytes_total`:                      2 << 20,
		`gonicorn_request_app_seconds_count`:                     4,
		`gonicorn_request_queue_seconds_count`:                   4,
		`gonicorn_request_duration_seconds_count`:                5,
		`gonicorn_workers`:                                       1,
		`gonicorn_worker_slots`:                                  1,
		`gonicorn_worker_slots_busy`:                             0,
		`gonicorn_requests_in_flight`:                            0,
		`gonicorn_worker_restarts_total{reason="crash"}`:         0,
	} {
		if got, ok := m[key]; !ok || got != want {
			t.Errorf("%s = %v (present: %v); want %v", key, got, ok, want)
		}
	}
	if m[`gonicorn_response_body_bytes_total`] <= 0 {
		t.Errorf("gonicorn_response_body_bytes_total = %v; want > 0", m[`gonicorn_response_body_bytes_total`])
	}

	// The worker's memory and CPU, by pid.
	r, err := s.fetch("/pid")
	if err != nil || r.status != 200 {
		t.Fatalf("GET /pid = %+v, %v", r, err)
	}
	pid := string(r.body)
	if rss := m[`gonicorn_worker_resident_memory_bytes{pid="`+pid+`"}`]; rss < 1<<20 {
		t.Errorf("RSS of worker %s = %v; want at least 1 MiB", pid, rss)
	}
	if _, ok := m[`gonicorn_worker_cpu_seconds_total{pid="`+pid+`"}`]; !ok {
		t.Errorf("no CPU seconds for worker %s", pid)
	}

	// A held worker: busy slot, request in flight, an open connection; behind it 3 pipelined
	// requests, one in the queue, and the next is turned away (queue_full).
	held := goFetch(s, "/gate")
	if !s.log.waitFor("ops: at the gate", 10*time.Second) {
		t.Fatal("the /gate request never reached the worker")
	}
	var behind []<-chan fetched
	for i := range 4 {
		behind = append(behind, goFetch(s, fmt.Sprintf("/n?i=%d", 10+i)))
	}
	waitMetric(t, metrics, `gonicorn_queue_depth`, func(v float64) bool { return v == 1 })
	if r, err := s.fetch("/n"); err != nil || r.status != 503 {
		t.Fatalf("GET /n with the queue full = %+v, %v; want 503", r, err)
	}
	m = scrapeMetrics(t, metrics)
	for key, want := range map[string]float64{
		`gonicorn_worker_slots_busy`:                            1,
		`gonicorn_requests_in_flight`:                           5,
		`gonicorn_rejected_requests_total{reason="queue_full"}`: 1,
		`gonicorn_http_requests_total{code="5xx",method="GET"}`: 1,
	} {
		if got := m[key]; got != want {
			t.Errorf("with the worker held: %s = %v; want %v", key, got, want)
		}
	}
	if open := m[`gonicorn_client_connections`]; open < 5 {
		t.Errorf("gonicorn_client_connections = %v with 5 requests waiting; want >= 5", open)
	}
	openGate(t, gate)
	for _, ch := range append(behind, held) {
		if f := <-ch; f.err != nil || f.r.status != 200 {
			t.Fatalf("held or queued request = %+v, %v; want 200", f.r, f.err)
		}
	}

	// An idle keep-alive connection.
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /pid HTTP/1.1\r\nHost: t\r\n\r\n")
	if _, err := readResponse(bufio.NewReader(c), "GET"); err != nil {
		t.Fatal(err)
	}
	waitMetric(t, metrics, `gonicorn_client_connections_idle`, func(v float64) bool { return v >= 1 })

	// A crashed worker is counted and replaced.
	n, _ := strconv.Atoi(pid)
	syscall.Kill(n, syscall.SIGKILL)
	waitMetric(t, metrics, `gonicorn_worker_restarts_total{reason="crash"}`, func(v float64) bool { return v == 1 })
	waitMetric(t, metrics, `gonicorn_workers`, func(v float64) bool { return v == 1 })

	// TTIN then TTOU: one worker removed; HUP: every worker replaced.
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGTTIN)
	waitMetric(t, metrics, `gonicorn_workers`, func(v float64) bool { return v == 2 })
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGTTOU)
	waitMetric(t, metrics, `gonicorn_worker_restarts_total{reason="ttou"}`, func(v float64) bool { return v == 1 })
	waitMetric(t, metrics, `gonicorn_workers`, func(v float64) bool { return v == 1 })
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGHUP)
	waitMetric(t, metrics, `gonicorn_worker_restarts_total{reason="reload"}`, func(v float64) bool { return v == 1 })

	build := false
	for key, v := range scrapeMetrics(t, metrics) {
		if strings.HasPrefix(key, "gonicorn_build_info{") && strings.Contains(key, `version="`) && v == 1 {
			build = true
		}
	}
	if !build {
		t.Errorf("no gonicorn_build_info sample with a version label and value 1")
	}
}

// A worker killed for --timeout is counted as such, not as a crash.
func TestMetricsTimeoutRestart(t *testing.T) {
	metrics := freePort(t)
	s := opsStart(t, t.TempDir()+"/gate", "--metrics-bind", metrics, "--timeout", "1")
	if r, err := s.fetch("/gate"); err != nil || r.status != 504 {
		t.Fatalf("GET /gate past --timeout = %+v, %v; want 504", r, err)
	}
	waitMetric(t, metrics, `gonicorn_worker_restarts_total{reason="timeout"}`, func(v float64) bool { return v == 1 })
	if got := scrapeMetrics(t, metrics)[`gonicorn_worker_restarts_total{reason="crash"}`]; got != 0 {
		t.Errorf("crash restarts = %v after a timeout; want 0", got)
	}
}

// --statsd-host sends gunicorn's metric names, with the prefix and DogStatsD tags, to a UDP
// listener.
func TestStatsd(t *testing.T) {
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	s := opsStart(t, t.TempDir()+"/gate", "--statsd-host", udp.LocalAddr().String(),
		"--statsd-prefix", "shop.web", "--dogstatsd-tags", "env:test,team:web")
	if r, err := s.fetch("/n?i=1"); err != nil || r.status != 200 {
		t.Fatalf("GET /n = %+v, %v", r, err)
	}
	if got := firstLine(s.raw("GET / HTTP/1.1\r\nHost: t\r\nHost: u\r\n\r\n", time.Second)); !strings.Contains(got, " 400 ") {
		t.Fatalf("duplicate Host: %q; want 400", got)
	}
	const tags = "|#env:test,team:web"
	want := map[string]bool{
		"shop.web.gunicorn.requests:1|c|@1.0" + tags:           false, // twice, once per request
		"shop.web.gunicorn.request.status.200:1|c|@1.0" + tags: false,
		"shop.web.gunicorn.request.status.400:1|c|@1.0" + tags: false,
		"shop.web.gunicorn.workers:1|g" + tags:                 false,
	}
	durations := 0
	buf := make([]byte, 4096)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		done := durations >= 2
		for _, seen := range want {
			done = done && seen
		}
		if done {
			return
		}
		udp.SetReadDeadline(deadline)
		n, err := udp.Read(buf)
		if err != nil {
			break
		}
		for _, line := range strings.Split(string(buf[:n]), "\n") {
			if _, ok := want[line]; ok {
				want[line] = true
			}
			if strings.HasPrefix(line, "shop.web.gunicorn.request.duration:") && strings.HasSuffix(line, "|ms"+tags) {
				durations++
			}
		}
	}
	t.Errorf("statsd lines seen within 10 s: %v, %d durations (want 2)", want, durations)
}
