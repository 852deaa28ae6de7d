package metrics

import (
	"testing"
	"time"
)

func TestBinOfWithinAnEighth(t *testing.T) {
	for _, d := range []time.Duration{5, 100, time.Microsecond, 37 * time.Microsecond, time.Millisecond,
		12 * time.Millisecond, 999 * time.Millisecond, 3 * time.Second, 30 * time.Second} {
		got := binMiddle(binOf(d))
		if diff := float64(got-d) / float64(d); diff > 0.125 || diff < -0.125 {
			t.Errorf("binMiddle(binOf(%v)) = %v; want within 1/8 of it", d, got)
		}
	}
	if got := binOf(time.Hour); got != windowBins-1 {
		t.Errorf("binOf(1h) = %d; want the last bin %d", got, windowBins-1)
	}
	if got := binOf(-time.Second); got != 0 {
		t.Errorf("binOf(-1s) = %d; want 0", got)
	}
}

func TestWindowRateAndPercentiles(t *testing.T) {
	w := NewWindow(10)
	base := time.Unix(1_000_000, 0)
	w.created = base.Add(-time.Hour)
	// 99 requests of 10 ms and one of 2 s, spread over the 10 seconds that end at base+9.5s.
	for i := 0; i < 100; i++ {
		d := 10 * time.Millisecond
		if i == 50 {
			d = 2 * time.Second
		}
		w.add(base.Add(time.Duration(i)*95*time.Millisecond), d)
	}
	r := w.snapshot(base.Add(9500 * time.Millisecond))
	if r.Requests != 100 || r.Span != 9500*time.Millisecond {
		t.Fatalf("snapshot = %d requests over %v; want 100 over 9.5s", r.Requests, r.Span)
	}
	if want := 100 / 9.5; r.Rate < want-0.01 || r.Rate > want+0.01 {
		t.Errorf("rate = %.3f; want %.3f", r.Rate, want)
	}
	near := func(got, want time.Duration) bool { return got >= want*7/8 && got <= want*9/8 }
	if !near(r.P50, 10*time.Millisecond) {
		t.Errorf("p50 = %v; want about 10ms", r.P50)
	}
	if !near(r.P99, 10*time.Millisecond) {
		t.Errorf("p99 = %v; want about 10ms (the 99th of 100 is a 10 ms one)", r.P99)
	}
	// Five seconds later the first five seconds have left the window, the slow one with them.
	r = w.snapshot(base.Add(14500 * time.Millisecond))
	if r.Requests != 47 || r.P99 > 20*time.Millisecond {
		t.Errorf("5 s later: %d requests, p99 %v; want 47 (those ended from second 5 on), p99 about 10ms", r.Requests, r.P99)
	}
	// Long after, a bucket of an old second is not counted even if its slot was not reused.
	if r := w.snapshot(base.Add(time.Minute)); r.Requests != 0 || r.P50 != 0 || r.Rate != 0 {
		t.Errorf("a minute later: %+v; want nothing", r)
	}
}

func TestWindowYoungerThanItsSpan(t *testing.T) {
	w := NewWindow(10)
	start := time.Unix(2_000_000, 300_000_000)
	w.created = start
	for i := 0; i < 10; i++ {
		w.add(start.Add(100*time.Millisecond), time.Millisecond)
	}
	r := w.snapshot(start.Add(time.Second))
	if r.Span != time.Second || r.Rate != 10 {
		t.Errorf("1 s after start: span %v, rate %v; want 1s and 10/s (not divided by the whole window)", r.Span, r.Rate)
	}
	w.add(start.Add(1100*time.Millisecond), 4*time.Second)
	if r := w.snapshot(start.Add(1200 * time.Millisecond)); r.P99 < 3500*time.Millisecond {
		t.Errorf("p99 with 1 of 11 at 4s = %v; want about 4s", r.P99)
	}
}
