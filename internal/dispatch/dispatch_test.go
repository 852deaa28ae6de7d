package dispatch

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

func group(pid, n int) *Group {
	slots := make([]*Slot, n)
	for i := range slots {
		slots[i] = &Slot{}
	}
	return NewGroup(pid, slots)
}

func acquire(t *testing.T, p *Pool) *Slot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := p.Acquire(ctx)
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	return s
}

func TestLeastLoadedProcessFirst(t *testing.T) {
	p := NewPool(0, 1)
	a, b := group(1, 2), group(2, 2)
	p.Add(a)
	p.Add(b)
	s1, s2 := acquire(t, p), acquire(t, p)
	if s1.Group == s2.Group {
		t.Errorf("two requests went to the same process (pid %d) while the other was idle", s1.Group.PID)
	}
}

func TestPipelineOnlyWhenAllBusy(t *testing.T) {
	p := NewPool(0, 2)
	p.Add(group(1, 2))
	s1, s2 := acquire(t, p), acquire(t, p)
	if s1 == s2 {
		t.Fatal("second request pipelined on a busy slot while another slot was free")
	}
	s3 := acquire(t, p) // every slot busy: pipelined
	if s3 != s1 && s3 != s2 {
		t.Fatal("third request got an unknown slot")
	}
	s4 := acquire(t, p)
	if s4 == s3 {
		t.Error("the same slot got depth 3 while another had depth 1")
	}
	// Depth 2 reached everywhere: the next request waits in the queue.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := p.Acquire(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire at full depth = %v; want it to wait until the deadline", err)
	}
	if p.Queued() != 0 {
		t.Errorf("Queued() = %d after the waiter left; want 0", p.Queued())
	}
}

func TestQueueIsFIFOAndBounded(t *testing.T) {
	p := NewPool(2, 1)
	p.Add(group(1, 1))
	held := acquire(t, p)
	got := make(chan int, 2)
	for i := 1; i <= 2; i++ {
		go func() {
			s := acquire(t, p)
			got <- i
			p.Release(s)
		}()
		for p.Queued() != i { // wait until this waiter is queued, to fix the order
			time.Sleep(time.Millisecond)
		}
	}
	if _, err := p.Acquire(context.Background()); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("Acquire with a full queue = %v; want ErrQueueFull", err)
	}
	p.Release(held)
	if a, b := <-got, <-got; a != 1 || b != 2 {
		t.Errorf("waiters served in order %d, %d; want 1, 2", a, b)
	}
}

func TestRetireDrainsAndDiscardReportsBroken(t *testing.T) {
	p := NewPool(0, 1)
	g := group(1, 2)
	broken := 0
	g.OnBroken = func() { broken++ }
	p.Add(g)
	s := acquire(t, p)
	p.Retire(g)
	select {
	case <-g.Drained():
		t.Fatal("Drained closed while a slot was still lent out")
	default:
	}
	p.Discard(s)
	select {
	case <-g.Drained():
	default:
		t.Fatal("Drained not closed after the last slot came back")
	}
	if broken != 1 {
		t.Errorf("OnBroken called %d times; want 1", broken)
	}
	if p.Idle() != 0 {
		t.Errorf("Idle() = %d after the only group was retired; want 0", p.Idle())
	}
}

func TestCloseFailsWaiters(t *testing.T) {
	p := NewPool(0, 1)
	errc := make(chan error)
	go func() {
		_, err := p.Acquire(context.Background())
		errc <- err
	}()
	for p.Queued() != 1 {
		time.Sleep(time.Millisecond)
	}
	p.Close()
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("waiter got %v after Close; want ErrClosed", err)
	}
}

func TestTurnOrder(t *testing.T) {
	s := &Slot{}
	var order []int
	t1, _ := s.Send(func(*net.UnixConn) error { return nil })
	t2, _ := s.Send(func(*net.UnixConn) error { return nil })
	done := make(chan struct{})
	go func() {
		t2.Wait()
		order = append(order, 2)
		t2.Done()
		close(done)
	}()
	t1.Wait()
	order = append(order, 1)
	t1.Done()
	<-done
	if len(order) != 2 || order[0] != 1 || order[1] != 2 {
		t.Errorf("answers read in order %v; want [1 2]", order)
	}
}

// A turn ended with Fail tells the next one that its request was never started; Done does not.
func TestTurnFailReachesTheNextOnly(t *testing.T) {
	s := &Slot{}
	send := func() Turn {
		tn, err := s.Send(func(*net.UnixConn) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		return tn
	}
	t1, t2, t3, t4 := send(), send(), send(), send()
	if t1.Wait() {
		t.Error("first turn: previous failed; want no previous")
	}
	t1.Fail()
	if !t2.Wait() {
		t.Error("turn after a Fail: previous failed = false; want true")
	}
	t2.Done()
	if t3.Wait() {
		t.Error("turn after a Done: previous failed = true; want false")
	}
	t3.Fail()
	if !t4.Wait() {
		t.Error("turn after the second Fail: previous failed = false; want true")
	}
	t4.Done()
}

func TestMaxRequestsCountsCleanReleases(t *testing.T) {
	p := NewPool(0, 1)
	g := group(1, 1)
	g.MaxRequests = 3
	calls := 0
	g.OnMaxRequests = func() { calls++ }
	p.Add(g)
	p.Discard(acquire(t, p)) // a failed request does not count
	g2 := group(2, 1)
	g2.MaxRequests = 3
	g2.OnMaxRequests = func() { calls += 100 }
	p.Add(g2)
	for i := 0; i < 5; i++ {
		p.Release(acquire(t, p))
	}
	// g was discarded, so every request went to g2: the limit fires once, at the third
	// release, and g2 keeps serving until its owner retires it.
	if calls != 100 {
		t.Errorf("OnMaxRequests calls = %d; want g2's once (100) and never g's", calls)
	}
	if p.Idle() != 1 {
		t.Errorf("Idle() = %d after the limit; want 1 (the group serves until retired)", p.Idle())
	}
}

// A request that waits QueueTimeout for a slot gets ErrQueueTimeout and leaves the queue;
// the slot it did not get goes to the next waiter.
func TestQueueTimeout(t *testing.T) {
	p := NewPool(0, 1)
	p.QueueTimeout = 50 * time.Millisecond
	p.Add(group(1, 1))
	held := acquire(t, p)
	begin := time.Now()
	if _, err := p.Acquire(context.Background()); !errors.Is(err, ErrQueueTimeout) {
		t.Fatalf("Acquire with every slot busy = %v; want ErrQueueTimeout", err)
	}
	if d := time.Since(begin); d < 50*time.Millisecond {
		t.Errorf("ErrQueueTimeout after %v; want at least the 50ms QueueTimeout", d)
	}
	if p.Queued() != 0 {
		t.Errorf("Queued() = %d after the timeout; want 0", p.Queued())
	}
	p.Release(held)
	if s := acquire(t, p); s == nil {
		t.Fatal("no slot after the release")
	}
}
