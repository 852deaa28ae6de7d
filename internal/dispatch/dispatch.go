// Package dispatch hands fully read requests to free worker slots.
//
// A slot is one Python worker thread and its socketpair. A request goes to a free slot; when
// several are free, the one whose worker process has the fewest requests in flight is chosen
// (least-loaded first), which spreads load over processes before it stacks threads of one
// process behind the GIL.
//
// When every slot is busy, a request that would otherwise wait in the queue may instead be
// pipelined behind the request a slot is running, up to Depth requests per slot: the worker
// then finds it already buffered when it finishes, and answers several requests per wake-up.
// That saves two context switches and two syscalls per request under load (DESIGN.md,
// performance notes). A small depth bounds head-of-line blocking behind a slow request.
// Answers on one slot come back in the order the requests were written; Turn keeps the
// readers in that order, and tells a request how the one ahead of it ended: answered (its
// answer is next), with the worker's stream (Turn.Fail: the worker never started it, and it
// can go elsewhere), or with a protocol error (Turn.Break: it must fail, as its answer cannot
// be found in the stream and the worker may have started it).
package dispatch

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gonicorn/gonicorn/internal/rawio"
	"github.com/gonicorn/gonicorn/internal/wire"
)

// ErrQueueFull is returned by Acquire when the wait queue is at its limit.
var ErrQueueFull = errors.New("dispatch: request queue is full")

// ErrQueueTimeout is returned by Acquire when a request waited QueueTimeout for a slot.
var ErrQueueTimeout = errors.New("dispatch: timed out waiting for a worker slot")

// ErrClosed is returned by Acquire after Close.
var ErrClosed = errors.New("dispatch: pool is closed")

// ErrSlotGone is returned by Send when the slot's stream ended or broke before the request
// was written: nothing was written, and the request may go to another slot.
var ErrSlotGone = errors.New("dispatch: the worker slot's stream has ended")

// Slot is one worker thread's end of the protocol. Each request that acquired it writes its
// frame with Send and reads its answer when its Turn comes, then calls Release or Discard.
type Slot struct {
	Conn *net.UnixConn // master's end of the socketpair
	// Raw writes requests to Conn with raw system calls that do not allocate (package
	// rawio); nil = write to Conn. Only under the write lock, in Send's write.
	Raw    *rawio.Conn
	Reader *wire.Reader // frames from the worker thread; used by the reader whose turn it is
	Group  *Group       // the worker process this slot belongs to

	inflight int // requests acquired and not yet released; guarded by the Pool's mu

	wmu  sync.Mutex // serialises writes (requests and cancels), so write order is answer order
	tail *turnEnd   // the last written request's; guarded by wmu

	running atomic.Pointer[Running] // the request the worker thread runs; nil = idle (see Run)
}

// NewSlot returns the slot of a worker thread whose socket is c.
func NewSlot(c *net.UnixConn) *Slot {
	s := &Slot{Conn: c, Reader: wire.NewReader(c)}
	if rc, err := c.SyscallConn(); err == nil {
		s.Raw = rawio.NewConn(rc)
	}
	return s
}

// Turn is a request's place in its slot's pipeline.
type Turn struct {
	prev *turnEnd // the previous request's; nil if none
	mine *turnEnd // ended by Done or Fail
	slot *Slot    // the slot written to; its running request is cleared when the turn ends
}

// turnEnd is how a request's turn ended.
type turnEnd struct {
	done chan struct{} // closed by Done, Fail or Break
	how  Outcome       // set before done is closed
}

// Outcome is how a request's turn ended, as the next request on the slot learns it from Wait.
type Outcome int

const (
	// Answered: the answer was read whole; the next answer in the stream is the next
	// request's.
	Answered Outcome = iota
	// Ended: the worker's stream ended before the answer was whole (the worker died or was
	// killed). A worker thread sends each answer whole before it reads its next request, so
	// the worker never started the requests behind this one: they may go to another slot.
	Ended
	// Broken: the worker broke the protocol. Where the stream stands is unknown, so the
	// answers of the requests behind this one cannot be told from the rest of this one, and
	// the worker may have started them: they fail, neither read nor sent again.
	Broken
)

// Wait blocks until the answers of the requests written before this one were read, and
// reports how the turn just before ended (Answered if there was none). On Ended the caller
// ends its own turn with Fail, on Broken with Break, so that the requests behind it learn
// the same.
func (t Turn) Wait() Outcome {
	if t.prev == nil {
		return Answered
	}
	<-t.prev.done
	return t.prev.how
}

// Done lets the next request on the slot read its answer: this one was read whole.
func (t Turn) Done() { t.end(Answered) }

// Fail lets the next request on the slot go on, telling it that the worker's stream ended
// before this request's answer was whole (the worker died or was killed), so that it was
// never started either.
func (t Turn) Fail() { t.end(Ended) }

// Break lets the next request on the slot go on, telling it that the worker broke the
// protocol before this request's answer was whole, so that it must fail.
func (t Turn) Break() { t.end(Broken) }

func (t Turn) end(how Outcome) {
	t.slot.running.Store(nil) // before the next request's turn, which may set its own
	t.mine.how = how
	close(t.mine.done)
}

// Send writes one request with write, in the slot's pipeline order, and returns its turn.
// If write fails the stream is broken and the caller must Discard the slot. If the turn of
// the last request written ended with Fail or Break, the slot is gone: Send writes nothing
// and returns ErrSlotGone, and the caller Discards the slot and tries another.
func (s *Slot) Send(write func(*net.UnixConn) error) (Turn, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.tail != nil {
		select {
		case <-s.tail.done:
			if s.tail.how != Answered {
				return Turn{}, ErrSlotGone
			}
		default:
		}
	}
	if err := write(s.Conn); err != nil {
		return Turn{}, err
	}
	t := Turn{prev: s.tail, mine: &turnEnd{done: make(chan struct{})}, slot: s}
	s.tail = t.mine
	return t, nil
}

// Cancel writes a cancel frame for the request of turn t, which is running on the worker,
// and reports whether it did. A cancel frame names no request: the worker takes it for the
// request it runs when it reads it, or drops it when it runs none. So Cancel writes it only
// while t's request is the last one written on the slot; the check and the write hold the
// write lock, so no request can be written between them (the frame then precedes every
// later request in the stream). A request being written right now is written behind t's:
// Cancel does not wait for that write (which may wait for the worker to read, while the
// worker waits for the caller to read its answer) and reports false.
func (s *Slot) Cancel(t Turn) bool {
	if !s.wmu.TryLock() {
		return false
	}
	defer s.wmu.Unlock()
	if s.tail != t.mine {
		return false
	}
	var hdr [wire.HeaderSize]byte
	_, err := s.Conn.Write(wire.AppendHeader(hdr[:0], wire.Cancel, 0))
	return err == nil
}

// Group is the set of slots of one worker process.
type Group struct {
	PID   int
	Slots []*Slot

	// OnBroken is called (once, outside the pool lock) when a slot of this group is
	// discarded: the worker broke the protocol or died, and its owner should replace it.
	OnBroken func()

	// OnTimeout is called by the server, from a timer goroutine, when a request on one of
	// the group's slots ran longer than --timeout. request is its request line and
	// requestID its id ("" if none), for the log. The owner dumps the worker's stacks and
	// kills it; the request's reader then sees EOF. nil = nothing happens.
	OnTimeout func(request, requestID string)

	// MaxRequests caps the requests the group's slots are given (pipelined ones included);
	// 0 = no limit. At the cap the group takes no new request: requests go to other groups or
	// wait in the queue until its owner adds a replacement and retires it, so the worker never
	// runs more than MaxRequests. RecycleAt (at most MaxRequests) is the count at which
	// OnRecycle is called (once, outside the pool lock), early enough for the owner to boot a
	// replacement before the cap is reached; 0 = never called. All three are set before the
	// pool gets the group (Add) and not changed after.
	MaxRequests int
	RecycleAt   int
	OnRecycle   func()

	taken atomic.Int64 // requests given to the group's slots and not given back; see Taken

	// The fields below are guarded by the Pool's mu.
	busy     int  // requests in flight on the group's slots
	full     bool // taken reached MaxRequests: out of the pool's free slots
	recycled bool // OnRecycle was called
	retired  bool // no new requests; Drained closes when busy reaches 0
	broken   bool // OnBroken was called
	drained  chan struct{}
}

// NewGroup returns a group for the slots of the worker with the given pid.
func NewGroup(pid int, slots []*Slot) *Group {
	g := &Group{PID: pid, Slots: slots, drained: make(chan struct{})}
	for _, s := range slots {
		s.Group = g
	}
	return g
}

// Taken reports how many requests the group's slots were ever given, so that a worker that
// died before its first request can be told from one a request crashed.
func (g *Group) Taken() int64 { return g.taken.Load() }

// Drained is closed once the group was retired and every slot it lent out came back.
func (g *Group) Drained() <-chan struct{} { return g.drained }

// Pool is the set of slots that may take requests, and the queue of requests waiting for one.
type Pool struct {
	maxQueue int // waiters allowed; 0 = unlimited
	depth    int // requests per slot at most (1 = no pipelining)

	// QueueTimeout is the longest a request waits in the queue (--queue-timeout) before
	// Acquire gives up with ErrQueueTimeout; 0 = until its context ends. Set it before the
	// pool is used. A request pipelined on a busy slot is not in the queue: it is bounded by
	// --timeout of the request ahead of it instead.
	QueueTimeout time.Duration

	mu      sync.Mutex
	slots   []*Slot   // slots of groups that are neither retired, broken nor full
	serving []*Group  // groups added and neither retired nor broken (full ones included); see Stats
	waiters []*waiter // FIFO; a waiter that gave up is removed (leave)
	waiting int       // len(waiters)
	closed  bool
	due     []func() // OnRecycle callbacks to run once mu is released (see unlock)
}

type waiter struct {
	ch    chan *Slot // buffered(1): Release never blocks
	since time.Time  // when it joined the queue (Stats' OldestWait)
}

// NewPool returns an empty pool whose queue holds at most maxQueue waiting requests
// (0 = unlimited) and that pipelines up to depth requests per slot (values below 1 mean 1).
func NewPool(maxQueue, depth int) *Pool { return &Pool{maxQueue: maxQueue, depth: max(depth, 1)} }

// Add makes the slots of g available.
func (p *Pool) Add(g *Group) {
	p.mu.Lock()
	p.slots = append(p.slots, g.Slots...)
	p.serving = append(p.serving, g)
	for _, s := range g.Slots {
		p.handOffLocked(s)
	}
	p.unlock()
}

// unlock releases mu, then runs the OnRecycle callbacks that became due while it was held.
func (p *Pool) unlock() {
	due := p.due
	p.due = nil
	p.mu.Unlock()
	for _, f := range due {
		f()
	}
}

// Acquire returns a free slot, waiting in the queue if there is none, until ctx ends.
func (p *Pool) Acquire(ctx context.Context) (*Slot, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	if s := p.takeLocked(); s != nil {
		p.unlock()
		return s, nil
	}
	if p.maxQueue > 0 && p.waiting >= p.maxQueue {
		p.mu.Unlock()
		return nil, ErrQueueFull
	}
	w := &waiter{ch: make(chan *Slot, 1), since: time.Now()}
	p.waiters = append(p.waiters, w)
	p.waiting++
	p.mu.Unlock()

	var expired <-chan time.Time
	if p.QueueTimeout > 0 {
		t := time.NewTimer(p.QueueTimeout)
		defer t.Stop()
		expired = t.C
	}
	select {
	case s := <-w.ch:
		if s == nil {
			return nil, ErrClosed
		}
		return s, nil
	case <-ctx.Done():
		p.leave(w)
		return nil, ctx.Err()
	case <-expired:
		p.leave(w)
		return nil, ErrQueueTimeout
	}
}

// leave takes w out of the queue after its wait ended without a slot. The entry is removed,
// not left behind as a hole: while every worker hangs no slot is handed off, and holes would
// pile up with every request that times out.
func (p *Pool) leave(w *waiter) {
	p.mu.Lock()
	if i := slices.Index(p.waiters, w); i >= 0 {
		p.waiters = slices.Delete(p.waiters, i, i+1)
		p.waiting--
	}
	p.mu.Unlock()
	// A slot may have been handed over just before we left the queue.
	select {
	case s := <-w.ch:
		if s != nil {
			p.giveBack(s)
		}
	default:
	}
}

// takeLocked picks the slot for a new request, or nil if every slot is at full depth: the
// least busy slot, ties going to the least busy worker process.
func (p *Pool) takeLocked() *Slot {
	var best *Slot
	for _, s := range p.slots {
		if s.inflight >= p.depth {
			continue
		}
		if best == nil || s.inflight < best.inflight ||
			s.inflight == best.inflight && s.Group.busy < best.Group.busy {
			best = s
		}
	}
	if best != nil {
		p.giveLocked(best)
	}
	return best
}

// giveLocked counts one more request on s: on the slot, its group and the group's
// MaxRequests. At RecycleAt the group's OnRecycle becomes due; at MaxRequests the group
// leaves the free slots.
func (p *Pool) giveLocked(s *Slot) {
	g := s.Group
	s.inflight++
	g.busy++
	n := g.taken.Add(1)
	if g.RecycleAt > 0 && n >= int64(g.RecycleAt) && !g.recycled {
		g.recycled = true
		if g.OnRecycle != nil {
			p.due = append(p.due, g.OnRecycle)
		}
	}
	if g.MaxRequests > 0 && n >= int64(g.MaxRequests) && !g.full {
		g.full = true
		p.removeGroupLocked(g)
	}
}

// giveBack returns a slot that was handed to a request which never ran on it (its wait in
// the queue ended just as the slot came): the request is not counted, and a group that it
// had brought to its cap takes requests again.
func (p *Pool) giveBack(s *Slot) {
	p.mu.Lock()
	g := s.Group
	s.inflight--
	g.busy--
	n := g.taken.Add(-1)
	if g.full && n < int64(g.MaxRequests) && !g.retired && !g.broken && !p.closed {
		g.full = false
		p.slots = append(p.slots, g.Slots...)
	}
	p.afterRequestLocked(s)
	p.unlock()
}

// handOffLocked gives room on s to waiters, first come first served.
func (p *Pool) handOffLocked(s *Slot) {
	for len(p.waiters) > 0 && s.inflight < p.depth && !s.Group.full {
		w := p.waiters[0]
		p.waiters[0] = nil
		p.waiters = p.waiters[1:]
		p.waiting--
		p.giveLocked(s)
		w.ch <- s
	}
}

// Release returns a slot after its request finished cleanly.
func (p *Pool) Release(s *Slot) {
	p.mu.Lock()
	s.inflight--
	s.Group.busy--
	p.afterRequestLocked(s)
	p.unlock()
}

// afterRequestLocked gives the room a request left on s to a waiter, or, on a group out of
// service, closes Drained when the group's last request is back.
func (p *Pool) afterRequestLocked(s *Slot) {
	g := s.Group
	if g.retired || g.broken || g.full || p.closed {
		if g.busy == 0 && g.retired {
			closeOnce(g.drained)
		}
		return
	}
	p.handOffLocked(s)
}

// Discard takes back a slot whose worker broke the protocol or died. The slot is never used
// again, and the group's OnBroken runs so that the worker gets replaced.
func (p *Pool) Discard(s *Slot) {
	p.mu.Lock()
	g := s.Group
	s.inflight--
	g.busy--
	first := !g.broken
	p.removeGroupLocked(g)
	p.outOfServiceLocked(g)
	g.broken = true
	if g.busy == 0 && g.retired {
		closeOnce(g.drained)
	}
	p.mu.Unlock()
	if first && g.OnBroken != nil {
		g.OnBroken()
	}
}

// Retire stops new requests to g. Drained closes when its busy slots are back.
func (p *Pool) Retire(g *Group) {
	p.mu.Lock()
	p.removeGroupLocked(g)
	p.outOfServiceLocked(g)
	g.retired = true
	if g.busy == 0 {
		closeOnce(g.drained)
	}
	p.mu.Unlock()
}

// outOfServiceLocked takes g out of the groups in service (Retire, Discard).
func (p *Pool) outOfServiceLocked(g *Group) {
	if i := slices.Index(p.serving, g); i >= 0 {
		p.serving = slices.Delete(p.serving, i, i+1)
	}
}

func (p *Pool) removeGroupLocked(g *Group) {
	kept := p.slots[:0]
	for _, s := range p.slots {
		if s.Group != g {
			kept = append(kept, s)
		}
	}
	for i := len(kept); i < len(p.slots); i++ {
		p.slots[i] = nil
	}
	p.slots = kept
}

// Idle reports how many slots have no request.
func (p *Pool) Idle() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, s := range p.slots {
		if s.inflight == 0 {
			n++
		}
	}
	return n
}

// Queued reports how many requests wait for a slot.
func (p *Pool) Queued() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waiting
}

// Stats is a snapshot of the pool, for readiness and metrics.
type Stats struct {
	Workers int // worker processes in service: added, neither retired nor broken
	Slots   int // their slots (threads)
	Busy    int // of those, slots running or holding at least one request
	Queued  int // requests waiting for a slot
	// OldestWait is how long the first of them has waited; 0 when none waits.
	OldestWait time.Duration
	Closed     bool
}

// Stats reports the pool's state. It takes the pool's lock once and walks the slots, so it is
// meant for a health check or a scrape, not for the request path.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := Stats{Workers: len(p.serving), Queued: p.waiting, Closed: p.closed}
	if len(p.waiters) > 0 { // FIFO, and leave removes a waiter that gave up: the first is the oldest
		st.OldestWait = time.Since(p.waiters[0].since)
	}
	for _, g := range p.serving {
		st.Slots += len(g.Slots)
		for _, s := range g.Slots {
			if s.inflight > 0 {
				st.Busy++
			}
		}
	}
	return st
}

// Ready reports whether the pool can take requests: it is open and at least one worker is
// in service (a worker at its --max-requests cap counts: its replacement is on the way).
func (p *Pool) Ready() bool {
	st := p.Stats()
	return !st.Closed && st.Workers > 0
}

// Close fails every waiting and future Acquire with ErrClosed.
func (p *Pool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	for _, w := range p.waiters {
		w.ch <- nil
	}
	p.waiters, p.waiting, p.slots, p.serving = nil, 0, nil, nil
}

func closeOnce(ch chan struct{}) {
	select {
	case <-ch:
	default:
		close(ch)
	}
}
