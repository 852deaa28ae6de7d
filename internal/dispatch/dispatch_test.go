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

// MaxRequests is a cap on the requests a group is given (issue 9, item 9): OnRecycle is
// called once at RecycleAt, and at the cap the group takes nothing more, even once its
// requests are back; a waiter then gets the replacement group.
func TestMaxRequestsIsACap(t *testing.T) {
	p := NewPool(0, 2) // pipelining: requests given, not released, are what counts
	g := group(1, 1)
	g.MaxRequests, g.RecycleAt = 3, 2
	calls := 0
	g.OnRecycle = func() { calls++ }
	p.Add(g)
	s1 := acquire(t, p)
	if calls != 0 {
		t.Errorf("OnRecycle called after 1 request; want at RecycleAt (2)")
	}
	s2 := acquire(t, p)
	if calls != 1 {
		t.Errorf("OnRecycle calls = %d after 2 requests; want 1", calls)
	}
	p.Release(s1)
	p.Release(s2)
	p.Release(acquire(t, p))
	if calls != 1 || g.Taken() != 3 {
		t.Errorf("after 3 requests: OnRecycle calls = %d, Taken() = %d; want 1, 3", calls, g.Taken())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if s, err := p.Acquire(ctx); err == nil {
		t.Fatalf("Acquire past the cap got a slot of pid %d; want it to wait", s.Group.PID)
	}
	// The replacement takes the waiter.
	got := make(chan *Slot, 1)
	go func() { got <- acquire(t, p) }()
	for p.Queued() == 0 {
		time.Sleep(time.Millisecond)
	}
	g2 := group(2, 1)
	p.Add(g2)
	if s := <-got; s.Group != g2 {
		t.Errorf("waiter got pid %d; want the replacement (2)", s.Group.PID)
	}
}

// A slot handed to a waiter just as its wait ended (leave) goes back uncounted (issue 9,
// item 9): the request never ran on it, so it neither counts against MaxRequests nor keeps
// the group at its cap.
func TestLeaveDoesNotCountARequest(t *testing.T) {
	p := NewPool(0, 1)
	g := group(1, 1)
	g.MaxRequests = 2
	p.Add(g)
	held := acquire(t, p)
	w := &waiter{ch: make(chan *Slot, 1)}
	p.mu.Lock()
	p.waiters = append(p.waiters, w)
	p.waiting++
	p.mu.Unlock()
	p.Release(held) // hands the slot to w: the second request, the cap
	if g.Taken() != 2 {
		t.Fatalf("Taken() = %d after the hand-off; want 2", g.Taken())
	}
	p.leave(w) // w's wait ended as the slot came: it never ran
	if g.Taken() != 1 {
		t.Errorf("Taken() = %d after leave; want 1 (the request that never ran is not counted)", g.Taken())
	}
	if s := acquire(t, p); s.Group != g {
		t.Fatal("no slot of the group for its second request")
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
