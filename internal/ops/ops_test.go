package ops

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec.Code, rec.Body.String()
}

// TestReadyzFollowsWorkersAndStop checks /readyz's three answers and that /livez does not
// depend on either.
func TestReadyzFollowsWorkersAndStop(t *testing.T) {
	var ready atomic.Bool
	s := New(Config{Ready: ready.Load, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	h := s.Handler()
	steps := []struct {
		name      string
		do        func()
		readyCode int
		body      string
	}{
		{"booting", func() {}, 503, "no worker ready\n"},
		{"a worker ready", func() { ready.Store(true) }, 200, "ok\n"},
		{"stopping", s.Stopping, 503, "stopping\n"},
		{"stopping, no worker", func() { ready.Store(false) }, 503, "stopping\n"},
	}
	for _, st := range steps {
		st.do()
		if code, body := get(t, h, "/readyz"); code != st.readyCode || body != st.body {
			t.Errorf("%s: /readyz = %d %q; want %d %q", st.name, code, body, st.readyCode, st.body)
		}
		if code, _ := get(t, h, "/livez"); code != 200 {
			t.Errorf("%s: /livez = %d; want 200", st.name, code)
		}
	}
	if code, _ := get(t, h, "/metrics"); code != 404 {
		t.Errorf("/metrics without a metrics handler = %d; want 404", code)
	}
	if code, _ := get(t, h, "/"); code != 404 {
		t.Errorf("/ = %d; want 404 (the app is never served here)", code)
	}
}

// TestNilServerIsANoOp: the master calls the same methods when --metrics-bind is not set.
func TestNilServerIsANoOp(t *testing.T) {
	var s *Server
	s.Start(nil)
	s.Stopping()
	s.Close()
}
