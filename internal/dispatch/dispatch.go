// Package dispatch hands fully read requests to free worker slots.
//
// A slot is one Python worker thread and its socketpair; it serves one request at a time.
// Requests that find no free slot wait in one FIFO queue. When several slots are free, the
// one whose worker process has the fewest busy slots is chosen (least-loaded first), which
// spreads load over processes before it stacks threads of one process behind the GIL.
package dispatch

import (
	"context"
	"errors"
	"net"
	"sync"

	"github.com/gonicorn/gonicorn/internal/wire"
)

// ErrQueueFull is returned by Acquire when the wait queue is at its limit.
var ErrQueueFull = errors.New("dispatch: request queue is full")

// ErrClosed is returned by Acquire after Close.
var ErrClosed = errors.New("dispatch: pool is closed")

// Slot is one worker thread's end of the protocol. It is owned by whoever acquired it until
// Release or Discard.
type Slot struct {
	Conn   *net.UnixConn // master's end of the socketpair
	Reader *wire.Reader  // frames from the worker thread
	Group  *Group        // the worker process this slot belongs to
}

// Group is the set of slots of one worker process.
type Group struct {
	PID   int
	Slots []*Slot

	// OnBroken is called (once, outside the pool lock) when a slot of this group is
	// discarded: the worker broke the protocol or died, and its owner should replace it.
	OnBroken func()

	// The fields below are guarded by the Pool's mu.
	busy    int  // slots handed out and not yet released
	retired bool // no new requests; Drained closes when busy reaches 0
	broken  bool // OnBroken was called
	drained chan struct{}
}

// NewGroup returns a group for the slots of the worker with the given pid.
func NewGroup(pid int, slots []*Slot) *Group {
	g := &Group{PID: pid, Slots: slots, drained: make(chan struct{})}
	for _, s := range slots {
		s.Group = g
	}
	return g
}

// Drained is closed once the group was retired and every slot it lent out came back.
func (g *Group) Drained() <-chan struct{} { return g.drained }

// Pool is the set of slots that may take requests, and the queue of requests waiting for one.
type Pool struct {
	maxQueue int // waiters allowed; 0 = unlimited

	mu      sync.Mutex
	idle    []*Slot   // free slots of groups that are not retired
	waiters []*waiter // FIFO; a nil entry was cancelled
	waiting int       // non-nil entries in waiters
	closed  bool
}

type waiter struct{ ch chan *Slot } // buffered(1): Release never blocks

// NewPool returns an empty pool whose queue holds at most maxQueue waiting requests
// (0 = unlimited).
func NewPool(maxQueue int) *Pool { return &Pool{maxQueue: maxQueue} }

// Add makes the slots of g available.
func (p *Pool) Add(g *Group) {
	p.mu.Lock()
	for _, s := range g.Slots {
		p.putLocked(s)
	}
	p.mu.Unlock()
}

// Acquire returns a free slot, waiting in the queue if there is none, until ctx ends.
func (p *Pool) Acquire(ctx context.Context) (*Slot, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	if s := p.takeLocked(); s != nil {
		p.mu.Unlock()
		return s, nil
	}
	if p.maxQueue > 0 && p.waiting >= p.maxQueue {
		p.mu.Unlock()
		return nil, ErrQueueFull
	}
	w := &waiter{ch: make(chan *Slot, 1)}
	p.waiters = append(p.waiters, w)
	p.waiting++
	p.mu.Unlock()

	select {
	case s := <-w.ch:
		if s == nil {
			return nil, ErrClosed
		}
		return s, nil
	case <-ctx.Done():
		p.mu.Lock()
		for i, x := range p.waiters {
			if x == w {
				p.waiters[i] = nil
				p.waiting--
				break
			}
		}
		p.mu.Unlock()
		// A slot may have been handed over just before we left the queue.
		select {
		case s := <-w.ch:
			if s != nil {
				p.Release(s)
			}
		default:
		}
		return nil, ctx.Err()
	}
}

// takeLocked removes and returns the idle slot of the least busy group, or nil.
func (p *Pool) takeLocked() *Slot {
	best := -1
	for i, s := range p.idle {
		if best < 0 || s.Group.busy < p.idle[best].Group.busy {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	s := p.idle[best]
	last := len(p.idle) - 1
	p.idle[best] = p.idle[last]
	p.idle[last] = nil
	p.idle = p.idle[:last]
	s.Group.busy++
	return s
}

// putLocked gives s to the first waiter or puts it back on the idle list.
func (p *Pool) putLocked(s *Slot) {
	for len(p.waiters) > 0 {
		w := p.waiters[0]
		p.waiters[0] = nil
		p.waiters = p.waiters[1:]
		if w == nil {
			continue
		}
		p.waiting--
		s.Group.busy++
		w.ch <- s
		return
	}
	p.idle = append(p.idle, s)
}

// Release returns a slot after its request finished cleanly.
func (p *Pool) Release(s *Slot) {
	p.mu.Lock()
	g := s.Group
	g.busy--
	if g.retired || g.broken || p.closed {
		if g.busy == 0 && g.retired {
			closeOnce(g.drained)
		}
		p.mu.Unlock()
		return
	}
	p.putLocked(s)
	p.mu.Unlock()
}

// Discard takes back a slot whose worker broke the protocol or died. The slot is never used
// again, and the group's OnBroken runs so that the worker gets replaced.
func (p *Pool) Discard(s *Slot) {
	p.mu.Lock()
	g := s.Group
	g.busy--
	first := !g.broken
	p.removeGroupLocked(g)
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
	g.retired = true
	if g.busy == 0 {
		closeOnce(g.drained)
	}
	p.mu.Unlock()
}

func (p *Pool) removeGroupLocked(g *Group) {
	kept := p.idle[:0]
	for _, s := range p.idle {
		if s.Group != g {
			kept = append(kept, s)
		}
	}
	for i := len(kept); i < len(p.idle); i++ {
		p.idle[i] = nil
	}
	p.idle = kept
}

// Idle reports how many slots are free.
func (p *Pool) Idle() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

// Queued reports how many requests wait for a slot.
func (p *Pool) Queued() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waiting
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
		if w != nil {
			w.ch <- nil
		}
	}
	p.waiters, p.waiting, p.idle = nil, 0, nil
}

func closeOnce(ch chan struct{}) {
	select {
	case <-ch:
	default:
		close(ch)
	}
}
