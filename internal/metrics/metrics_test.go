package metrics

import (
	"io"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /metrics = %d", rec.Code)
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

// TestExposition feeds one of each event and checks the lines Prometheus reads.
func TestExposition(t *testing.T) {
	m := New(Info{Version: "1.2.3"}, Sources{
		Pool:    func() Pool { return Pool{Workers: 2, Slots: 4, Busy: 1, Queued: 3} },
		Conns:   func() (int, int) { return 5, 2 },
		Workers: func() []int { return []int{os.Getpid()} },
	})
	m.RequestBegun()
	m.RequestBegun()
	m.RequestEnded()
	m.Request(Request{Method: []byte("GET"), Status: 200, Queue: 2 * time.Millisecond, App: 30 * time.Millisecond, Total: 40 * time.Millisecond, BodyIn: 10, BodyOut: 1000})
	m.Request(Request{Method: []byte("BREW"), Status: 418, Total: time.Millisecond})
	m.Request(Request{Method: []byte("POST"), Status: 503, Total: time.Millisecond})
	m.Rejected("431")
	m.Rejected("queue_full")
	m.BodySpooled(5 << 20)
	m.WorkerRestart("timeout")
	out := scrape(t, m)
	for _, want := range []string{
		`gonicorn_http_requests_total{code="2xx",method="GET"} 1`,
		`gonicorn_http_requests_total{code="4xx",method="other"} 1`, // made-up methods share one label
		`gonicorn_http_requests_total{code="5xx",method="POST"} 1`,
		`gonicorn_http_requests_total{code="2xx",method="DELETE"} 0`,
		`gonicorn_request_queue_seconds_count 1`, // only the request that reached a worker
		`gonicorn_request_app_seconds_bucket{le="0.032"} 1`,
		`gonicorn_request_duration_seconds_count 3`,
		`gonicorn_requests_in_flight 1`,
		`gonicorn_request_body_bytes_total 10`,
		`gonicorn_response_body_bytes_total 1000`,
		`gonicorn_rejected_requests_total{reason="431"} 1`,
		`gonicorn_rejected_requests_total{reason="queue_full"} 1`,
		`gonicorn_rejected_requests_total{reason="proxy_protocol"} 0`,
		`gonicorn_request_bodies_spooled_total 1`,
		`gonicorn_request_body_spooled_bytes_total 5.24288e+06`,
		`gonicorn_worker_restarts_total{reason="timeout"} 1`,
		`gonicorn_worker_restarts_total{reason="crash"} 0`,
		`gonicorn_workers 2`,
		`gonicorn_worker_slots 4`,
		`gonicorn_worker_slots_busy 1`,
		`gonicorn_queue_depth 3`,
		`gonicorn_client_connections 5`,
		`gonicorn_client_connections_idle 2`,
		`gonicorn_worker_resident_memory_bytes{pid="` + itoa(os.Getpid()) + `"} `,
		`gonicorn_worker_cpu_seconds_total{pid="` + itoa(os.Getpid()) + `"} `,
		`gonicorn_build_info{goversion="go`,
		`process_resident_memory_bytes `,
		`go_goroutines `,
	} {
		if !strings.Contains(out, "\n"+want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("scrape:\n%s", out)
	}
}

// TestParseStat: the command name may hold spaces and parentheses.
func TestParseStat(t *testing.T) {
	stat := "1234 (gonicorn: worke) S 1 1234 1234 0 -1 4194560 500 0 0 0 150 25 0 0 20 0 3 0 100 200000000 2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n"
	got, err := parseStat([]byte(stat), 4096)
	if err != nil {
		t.Fatal(err)
	}
	if want := (procStat{rss: 2560 * 4096, cpu: 1.75}); got != want {
		t.Errorf("parseStat = %+v; want %+v", got, want)
	}
	if _, err := parseStat([]byte("1234 (x) S 1"), 4096); err == nil {
		t.Error("parseStat of a short line: no error")
	}
}

func TestClassIndex(t *testing.T) {
	for status, want := range map[int]string{100: "1xx", 200: "2xx", 304: "3xx", 404: "4xx", 599: "5xx", 0: "1xx", 999: "5xx"} {
		if got := classes[classIndex(status)]; got != want {
			t.Errorf("class of %d = %s; want %s", status, got, want)
		}
	}
}
