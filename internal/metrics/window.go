package metrics

import (
	"math"
	"math/bits"
	"sync"
	"time"
)

// Window keeps the request count and a latency histogram for each of the last few seconds,
// so that `gonicorn top` can show the request rate and the median and 99th percentile of the
// recent past: what Prometheus' cumulative histograms cannot answer without a scraper.
//
// Memory is fixed: one bucket per second of the window, each with windowBins counters (10
// seconds take 13 KiB). Add, on the request path, takes a mutex held for a few
// additions; Snapshot, called once a second by a viewer, merges the buckets.
//
// The histogram's bins are logarithmic with four bins per power of two of nanoseconds (as
// HDR histograms do, from the duration's leading bits), so a percentile is known to within
// an eighth of its value: enough to tell 12 ms from 40 ms at a glance.
type Window struct {
	created time.Time

	mu      sync.Mutex
	seconds []secondBucket // by Unix second modulo len; guarded by mu
}

// secondBucket is one second of the window.
type secondBucket struct {
	sec   int64 // the Unix second it counts; 0 = never used
	count int64 // requests ended in that second
	bins  [windowBins]int64
}

// windowBins covers durations up to 2^41 ns (about 36 minutes); longer ones fall in the last bin.
const windowBins = 41 * 4

// Recent is what a Window says about its last seconds.
type Recent struct {
	Span     time.Duration // the time the numbers cover: the window, or less since start
	Requests int64         // requests ended within Span
	Rate     float64       // Requests per second over Span
	P50, P99 time.Duration // 0 when Requests is 0
}

// NewWindow returns a window over the last seconds seconds (at least 1).
func NewWindow(seconds int) *Window {
	return &Window{created: time.Now(), seconds: make([]secondBucket, max(seconds, 1))}
}

// Add records one request that took d and ended now.
func (w *Window) Add(d time.Duration) { w.add(time.Now(), d) }

func (w *Window) add(now time.Time, d time.Duration) {
	sec := now.Unix()
	bin := binOf(d)
	w.mu.Lock()
	b := &w.seconds[sec%int64(len(w.seconds))]
	if b.sec != sec {
		*b = secondBucket{sec: sec}
	}
	b.count++
	b.bins[bin]++
	w.mu.Unlock()
}

// Snapshot sums the buckets of the window that ends now: the current second so far and the
// len-1 whole seconds before it.
func (w *Window) Snapshot() Recent { return w.snapshot(time.Now()) }

func (w *Window) snapshot(now time.Time) Recent {
	n := int64(len(w.seconds))
	first := now.Unix() - n + 1 // the oldest second still in the window
	from := time.Unix(first, 0)
	if w.created.After(from) {
		from = w.created
	}
	r := Recent{Span: max(now.Sub(from), time.Millisecond)}
	var bins [windowBins]int64
	w.mu.Lock()
	for i := range w.seconds {
		b := &w.seconds[i]
		if b.sec < first || b.sec > now.Unix() {
			continue
		}
		r.Requests += b.count
		for j, c := range b.bins {
			bins[j] += c
		}
	}
	w.mu.Unlock()
	r.Rate = float64(r.Requests) / r.Span.Seconds()
	r.P50 = quantile(&bins, r.Requests, 0.50)
	r.P99 = quantile(&bins, r.Requests, 0.99)
	return r
}

// binOf is the histogram bin of d: its power of two and the two bits below the leading one.
func binOf(d time.Duration) int {
	v := uint64(max(d, 0))
	if v < 4 {
		return int(v)
	}
	exp := bits.Len64(v) - 1 // v is in [2^exp, 2^(exp+1))
	bin := exp*4 + int(v>>(exp-2)&3)
	return min(bin, windowBins-1)
}

// binMiddle is the middle of bin i's range, the value a percentile in it is shown as.
func binMiddle(i int) time.Duration {
	if i < 4 {
		return time.Duration(i)
	}
	exp, sub := i/4, i%4
	low := uint64(1)<<exp + uint64(sub)<<(exp-2)
	return time.Duration(low + uint64(1)<<(exp-2)/2)
}

// quantile returns the q-quantile of the total counts in bins: the middle of the bin that
// holds the ceil(q*total)-th smallest duration.
func quantile(bins *[windowBins]int64, total int64, q float64) time.Duration {
	if total == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(total)))
	rank = min(max(rank, 1), total)
	var seen int64
	for i, c := range bins {
		seen += c
		if seen >= rank {
			return binMiddle(i)
		}
	}
	return binMiddle(windowBins - 1)
}
