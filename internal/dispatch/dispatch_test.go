package dispatch

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gonicorn/gonicorn/internal/wire"
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

// Each turn learns how the one just before it ended: Fail and Break reach the next turn only,
// which passes them on by ending its own turn the same way.
func TestTurnOutcomeReachesTheNextOnly(t *testing.T) {
	s := &Slot{}
	send := func() Turn {
		tn, err := s.Send(func(*net.UnixConn) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		return tn
	}
	t1, t2, t3, t4, t5 := send(), send(), send(), send(), send()
	if got := t1.Wait(); got != Answered {
		t.Errorf("first turn: Wait() = %v; want Answered (no previous)", got)
	}
	t1.Fail()
	if got := t2.Wait(); got != Ended {
		t.Errorf("turn after a Fail: Wait() = %v; want Ended", got)
	}
	t2.Done()
	if got := t3.Wait(); got != Answered {
		t.Errorf("turn after a Done: Wait() = %v; want Answered", got)
	}
	t3.Break()
	if got := t4.Wait(); got != Broken {
		t.Errorf("turn after a Break: Wait() = %v; want Broken", got)
	}
	t4.Fail()
	if got := t5.Wait(); got != Ended {
		t.Errorf("turn after the second Fail: Wait() = %v; want Ended", got)
	}
	t5.Done()
}

// Once the last turn on a slot ended with Fail or Break, the slot takes no more requests:
// Send writes nothing, so that the request can go to another slot.
func TestSendOnGoneSlot(t *testing.T) {
	for _, end := range []func(Turn){Turn.Fail, Turn.Break} {
		s := &Slot{}
		t1, _ := s.Send(func(*net.UnixConn) error { return nil })
		end(t1)
		wrote := false
		if _, err := s.Send(func(*net.UnixConn) error { wrote = true; return nil }); !errors.Is(err, ErrSlotGone) || wrote {
			t.Errorf("Send after the stream ended = %v, wrote %v; want ErrSlotGone and nothing written", err, wrote)
		}
	}
	s := &Slot{}
	t1, _ := s.Send(func(*net.UnixConn) error { return nil })
	t1.Done()
	if _, err := s.Send(func(*net.UnixConn) error { return nil }); err != nil {
		t.Errorf("Send after an answered turn = %v; want nil", err)
	}
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

// socketpair returns the two ends of a unix stream socketpair: the master's, as a slot's Conn
// is, and the worker's.
func socketpair(t *testing.T) (master, worker *net.UnixConn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) *net.UnixConn {
		f := os.NewFile(uintptr(fd), "socketpair")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		return c.(*net.UnixConn)
	}
	return conn(fds[0]), conn(fds[1])
}

// frameKinds reads c to EOF and returns the kinds of the frames in it, in order.
func frameKinds(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []byte
	for len(b) >= wire.HeaderSize {
		n := int(b[0]) | int(b[1])<<8 | int(b[2])<<16 | int(b[3])<<24
		kinds = append(kinds, b[4])
		b = b[wire.HeaderSize+n:]
	}
	return string(kinds)
}

// spin busy-waits for n steps of a few nanoseconds.
func spin(n int) int {
	x := 0
	for j := range n {
		x += j
	}
	return x
}

// A cancel frame names no request, so it must never follow a later request in the stream:
// raced against a request being pipelined behind the cancelled one, it is written before
// that request or not at all. Looped, so that a check and a write that are not one step
// show up.
func TestCancelNeverFollowsALaterRequest(t *testing.T) {
	request := func(id byte) func(*net.UnixConn) error {
		return func(c *net.UnixConn) error {
			_, err := c.Write(append(wire.AppendHeader(nil, wire.Request, 1), id))
			return err
		}
	}
	cancelled := 0
	for i := range 1000 {
		p := NewPool(0, 4)
		master, worker := socketpair(t)
		g := NewGroup(1, []*Slot{{Conn: master}})
		p.Add(g)
		s := acquire(t, p)
		t1, err := s.Send(request('1'))
		if err != nil {
			t.Fatal(err)
		}
		var ready atomic.Int32 // the two goroutines start together once both are running
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			ready.Add(1)
			for ready.Load() != 2 {
			}
			spin(i % 50 * 20)
			s2 := acquire(t, p) // the only slot: pipelined behind request 1
			if _, err := s2.Send(request('2')); err != nil {
				t.Error(err)
			}
		}()
		var sent bool
		go func() {
			defer wg.Done()
			ready.Add(1)
			for ready.Load() != 2 {
			}
			spin(i / 50 * 20) // with the other's spin: every pair of offsets, up to ~1 µs
			sent = s.Cancel(t1)
		}()
		wg.Wait()
		master.CloseWrite()
		got := frameKinds(t, worker)
		master.Close()
		worker.Close()
		if got != "RCR" && got != "RR" {
			t.Fatalf("iteration %d: frames in the stream %q (cancel sent: %v); want \"RCR\" or \"RR\": a cancel behind request 2 would cancel it", i, got, sent)
		}
		if sent != (got == "RCR") {
			t.Fatalf("iteration %d: Cancel reported %v, stream %q", i, sent, got)
		}
		if sent {
			cancelled++
		}
	}
	t.Logf("cancel written in %d of 1000 races", cancelled)
}

// A request that gives up waiting (its context ended, or --queue-timeout) leaves the queue
// without a trace: while every worker hangs, the queue does not grow with them.
func TestWaitersThatGiveUpLeaveNoHoles(t *testing.T) {
	p := NewPool(0, 1)
	p.Add(group(1, 1))
	held := acquire(t, p) // the only slot hangs
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 1000 {
		if _, err := p.Acquire(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Acquire with an ended context = %v; want context.Canceled", err)
		}
	}
	p.QueueTimeout = time.Millisecond
	for range 10 {
		if _, err := p.Acquire(context.Background()); !errors.Is(err, ErrQueueTimeout) {
			t.Fatalf("Acquire = %v; want ErrQueueTimeout", err)
		}
	}
	p.mu.Lock()
	n := len(p.waiters)
	p.mu.Unlock()
	if n != 0 {
		t.Errorf("the queue holds %d entries after every waiter left; want 0", n)
	}
	p.Release(held)
}

// Cancel does not wait for a request being written behind the cancelled one: that write may
// wait for the worker to read, while the worker waits for the canceller to read its answer.
// It writes nothing then, as the request being written comes after the cancelled one.
func TestCancelDoesNotWaitForAWrite(t *testing.T) {
	master, worker := socketpair(t)
	defer worker.Close()
	s := &Slot{Conn: master}
	t1, _ := s.Send(func(c *net.UnixConn) error {
		_, err := c.Write(wire.AppendHeader(nil, wire.Request, 0))
		return err
	})
	writing, release := make(chan struct{}), make(chan struct{})
	sent := make(chan error, 1)
	go func() {
		_, err := s.Send(func(c *net.UnixConn) error {
			close(writing)
			<-release // a write blocked on a full socket
			_, err := c.Write(wire.AppendHeader(nil, wire.Request, 0))
			return err
		})
		sent <- err
	}()
	<-writing
	if s.Cancel(t1) {
		t.Error("Cancel while a request is written behind it = true; want false")
	}
	close(release)
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if s.Cancel(t1) {
		t.Error("Cancel with a request written behind it = true; want false")
	}
	master.CloseWrite()
	if got := frameKinds(t, worker); got != "RR" {
		t.Errorf("frames in the stream %q; want \"RR\" (no cancel)", got)
	}
	master.Close()
}

// TestStatsAndReady follows a pool through the states a health check and a scrape see: empty
// (not ready), serving, busy, at a worker's --max-requests cap (still ready: its replacement
// is on the way), retired and broken workers out of service, and closed.
func TestStatsAndReady(t *testing.T) {
	p := NewPool(0, 1)
	if p.Ready() {
		t.Fatal("Ready() = true on a pool without workers; want false")
	}
	a, b := group(1, 2), group(2, 1)
	b.MaxRequests = 1
	p.Add(a)
	p.Add(b)
	if st := p.Stats(); st != (Stats{Workers: 2, Slots: 3}) || !p.Ready() {
		t.Fatalf("Stats() = %+v, Ready() = %v; want 2 workers, 3 slots, ready", st, p.Ready())
	}
	s1, s2, s3 := acquire(t, p), acquire(t, p), acquire(t, p) // b is now at its cap
	if st := p.Stats(); st.Busy != 3 || st.Workers != 2 {
		t.Fatalf("Stats() with 3 requests = %+v; want 3 busy slots of 2 workers", st)
	}
	p.Release(s1)
	p.Release(s2)
	p.Release(s3)
	if st := p.Stats(); st.Busy != 0 || st.Workers != 2 {
		t.Fatalf("Stats() after release = %+v; want 0 busy, 2 workers (b at its cap still serves)", st)
	}
	p.Retire(b)
	if st := p.Stats(); st.Workers != 1 || st.Slots != 2 || !p.Ready() {
		t.Fatalf("Stats() after Retire(b) = %+v, Ready() = %v; want 1 worker, 2 slots, ready", st, p.Ready())
	}
	p.Discard(acquire(t, p))
	if st := p.Stats(); st.Workers != 0 || p.Ready() {
		t.Fatalf("Stats() after Discard = %+v, Ready() = %v; want no worker, not ready", st, p.Ready())
	}
	p.Add(group(3, 1))
	p.Close()
	if p.Ready() {
		t.Fatal("Ready() = true after Close; want false")
	}
}

func TestStatsOldestWait(t *testing.T) {
	p := NewPool(0, 1)
	p.Add(group(1, 1))
	held := acquire(t, p)
	if st := p.Stats(); st.OldestWait != 0 {
		t.Fatalf("OldestWait with nobody queued = %v; want 0", st.OldestWait)
	}
	got := make(chan *Slot, 2)
	for i := 1; i <= 2; i++ {
		go func() { got <- acquire(t, p) }()
		for p.Queued() != i { // wait until this waiter is queued, to fix the order
			time.Sleep(time.Millisecond)
		}
		if i == 1 {
			time.Sleep(100 * time.Millisecond) // the first waiter is 100 ms older than the second
		}
	}
	first := p.Stats().OldestWait
	if first < 100*time.Millisecond {
		t.Fatalf("OldestWait = %v; want the first waiter's wait, at least 100ms", first)
	}
	p.Release(held) // the first waiter leaves the queue with the slot
	second := p.Stats().OldestWait
	if second <= 0 || second >= first {
		t.Errorf("OldestWait after the first waiter left = %v; want the second's, below %v", second, first)
	}
	p.Release(<-got)
	p.Release(<-got)
	if st := p.Stats(); st.OldestWait != 0 {
		t.Errorf("OldestWait with the queue empty = %v; want 0", st.OldestWait)
	}
}
