package arbiter

import (
	"testing"
	"time"

	"github.com/gonicorn/gonicorn/internal/dispatch"
)

// TestRecycleRestartReason pins the labels to the reasons Run really logs, so that a changed
// log line cannot silently relabel a restart.
func TestRecycleRestartReason(t *testing.T) {
	w := &worker{spec: &Spec{MaxLifetime: time.Second, MaxMemory: 1}, start: time.Now().Add(-time.Hour), group: dispatch.NewGroup(1, nil)}
	a := &Arbiter{}
	if got := recycleRestartReason(a.overLimit(w, time.Second)); got != "lifetime" {
		t.Errorf("label of %q = %s; want lifetime", a.overLimit(w, time.Second), got)
	}
	for logged, want := range map[string]string{
		"RSS 300.0 MiB above max-worker-memory 256 MiB":                                              "memory",
		"took 10 of its 10 requests (max-requests)":                                                  "max_requests",
		"took 5 of its 10 requests (max-requests) at 900 requests/s, a replacement takes 1s to boot": "max_requests",
	} {
		if got := recycleRestartReason(logged); got != want {
			t.Errorf("recycleRestartReason(%q) = %s; want %s", logged, got, want)
		}
	}
}
