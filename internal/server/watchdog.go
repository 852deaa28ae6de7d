package server

import (
	"sync"
	"time"

	"github.com/gonicorn/gonicorn/internal/dispatch"
)

// watchdog enforces --timeout on the request its connection has on a worker (gunicorn's
// timeout, but per request rather than per heartbeat). It is armed when the request's turn
// on its slot begins, that is when the worker starts on it, and disarmed when the worker
// reports the end (E or X) or the slot fails. If it fires first, the slot's group's
// OnTimeout logs the request, dumps the worker's Python stacks and kills it; the reader then
// sees EOF and, because fired is set, answers 504 instead of 502.
//
// One timer per connection, reused for each request, so the hot path does not allocate.
type watchdog struct {
	timer *time.Timer // created by the first arm; nil before

	mu       sync.Mutex     // guards the fields below; held by expire while it reads cn.req
	slot     *dispatch.Slot // the slot running the request; nil when disarmed
	deadline time.Time      // when the current request times out
	fired    bool           // the current request timed out
}

// arm starts the timeout of the current request, which slot is running.
func (cn *conn) arm(slot *dispatch.Slot) {
	d := cn.srv.cfg.Timeout
	if d <= 0 {
		return
	}
	wd := &cn.wd
	wd.mu.Lock()
	wd.slot, wd.fired, wd.deadline = slot, false, time.Now().Add(d)
	wd.mu.Unlock()
	if wd.timer == nil {
		wd.timer = time.AfterFunc(d, cn.expire)
	} else {
		wd.timer.Reset(d)
	}
}

// disarm stops the timeout of the current request and reports whether it had fired.
func (cn *conn) disarm() (fired bool) {
	cn.times.ended = time.Now() // the worker is done with the request
	wd := &cn.wd
	if wd.timer == nil {
		return false
	}
	wd.timer.Stop()
	wd.mu.Lock()
	fired = wd.fired
	wd.slot = nil
	wd.mu.Unlock()
	return fired
}

// expire runs on the timer's goroutine. The lock keeps cn.req stable while the request
// line is copied: the connection's goroutine cannot disarm, and so cannot move on to its
// next request, until expire is done.
func (cn *conn) expire() {
	wd := &cn.wd
	wd.mu.Lock()
	defer wd.mu.Unlock()
	// A callback of an earlier arming that lost the race with Stop finds the slot gone or
	// a later deadline.
	if wd.slot == nil || time.Now().Before(wd.deadline) {
		return
	}
	wd.fired = true
	g := wd.slot.Group
	wd.slot = nil
	if g.OnTimeout != nil {
		req := &cn.req
		g.OnTimeout(string(req.Method)+" "+string(req.Target)+" "+protoString(req), string(cn.reqID))
	}
}
