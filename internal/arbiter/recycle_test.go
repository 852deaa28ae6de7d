package arbiter

import (
	"context"
	"testing"
	"time"

	"github.com/gonicorn/gonicorn/internal/dispatch"
)

// The replacement of a worker at its --max-requests cap starts a tenth of the cap early, 1 to
// 10 requests, and never at 0 (dispatch calls OnRecycle from RecycleAt 1).
func TestRecycleEarly(t *testing.T) {
	for _, tc := range []struct{ limit, want int }{
		{1, 0}, {2, 1}, {5, 1}, {20, 2}, {25, 2}, {99, 9}, {1000, 10},
	} {
		if got := recycleEarly(tc.limit); got != tc.want {
			t.Errorf("recycleEarly(%d) = %d; want %d", tc.limit, got, tc.want)
		}
	}
}

// A worker that takes requests faster than its replacement boots is recycled before its
// count reaches RecycleAt: at 40 requests/s with 100 left and a 3 s boot it would hit its
// cap half a second before a replacement is ready.
func TestNearMaxRequests(t *testing.T) {
	pool := dispatch.NewPool(0, 1000)
	g := dispatch.NewGroup(1, []*dispatch.Slot{{}})
	g.MaxRequests = 150
	pool.Add(g)
	w := &worker{group: g, booted: 3 * time.Second}
	take := func(n int) {
		for i := 0; i < n; i++ {
			if _, err := pool.Acquire(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
	take(10)
	if why := w.nearMaxRequests(time.Second); why != "" {
		t.Errorf("at 10 requests/s with 140 left: nearMaxRequests = %q; want \"\"", why)
	}
	take(40)
	if why := w.nearMaxRequests(time.Second); why == "" {
		t.Error("at 40 requests/s with 100 left and a 3 s boot: nearMaxRequests = \"\"; want a reason")
	}
	w.maxedOut.Store(true)
	if why := w.nearMaxRequests(time.Second); why != "" {
		t.Errorf("for a worker already being recycled: nearMaxRequests = %q; want \"\"", why)
	}
}
