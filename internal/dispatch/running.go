package dispatch

import "time"

// Running describes the request a slot's worker thread is running, for the control socket
// (gonicorn ctl workers): what an operator needs to tell a hung request from a busy one.
// A Running is not changed once the slot holds it.
type Running struct {
	Method string    // "GET"
	Target string    // the request-target as received: "/path?query"
	Client string    // the client's address, "host:port" (or the unix socket's name)
	Start  time.Time // when the worker got its turn on the slot: its answer is read next
}

// Run records that the slot's worker thread now runs r: the caller's turn came (Turn.Wait
// answered), so the request is the one the worker runs or runs next. The turn's end
// (Done, Fail, Break) clears it.
func (s *Slot) Run(r *Running) { s.running.Store(r) }

// Current returns the request the slot's worker thread runs, or nil when it runs none.
func (s *Slot) Current() *Running { return s.running.Load() }
