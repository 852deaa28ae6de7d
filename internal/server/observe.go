package server

import (
	"errors"
	"strconv"
	"time"

	"github.com/gonicorn/gonicorn/internal/dispatch"
)

// Observer is told what the front does, for metrics (cmd/gonicorn adapts package metrics to
// it). Its methods are called by every connection goroutine at once, on the request path:
// they must be cheap and safe for concurrent use. A nil Config.Observer costs a request one
// comparison per hook.
type Observer interface {
	RequestBegun() // a request head was read
	RequestEnded() // ... and that request is done with, answered or not
	Request(Observation)
	// Rejected is a request the front answered itself, or a connection it closed, for
	// reason: the status ("400", "408", "413", "414", "431", "501", "505"), "queue_full",
	// "queue_timeout" or "proxy_protocol".
	Rejected(reason string)
	BodySpooled(bytes int64) // a request body went to a temp file
}

// Observation is one answered request.
type Observation struct {
	Method []byte // valid during the call only
	Status int
	// Queue: from the request read whole to the worker starting on it (its turn on the
	// slot); App: from then to the worker's end of it; Total: from its first byte to the
	// end of its response (as the access log's duration). Queue and App are 0 when no worker
	// ran it.
	Queue, App, Total time.Duration
	BodyIn, BodyOut   int64
}

// observeBody reports a body that went to a temp file.
func (cn *conn) observeBody(b *body) {
	if o := cn.srv.cfg.Observer; o != nil && b.file != nil {
		o.BodySpooled(b.n)
	}
}

// observeAnswer reports a request that a worker answered.
func (cn *conn) observeAnswer(start time.Time, res result, bodyIn int64) {
	o := cn.srv.cfg.Observer
	if o == nil {
		return
	}
	queue, app := cn.times.queueAndApp()
	ob := Observation{Method: cn.req.Method, Status: res.status, Total: time.Since(start),
		BodyIn: max(bodyIn, 0), BodyOut: res.bodyBytes, Queue: max(queue, 0), App: max(app, 0)}
	o.Request(ob)
}

// observeError reports a request the server answered with an error status itself: a
// rejection by the front (4xx, 501, 505; 503s are reported by their cause, see
// observeRejected), or a worker's failure (500, 502).
func (cn *conn) observeError(status int) {
	o := cn.srv.cfg.Observer
	if o == nil {
		return
	}
	if status/100 == 4 || status == 501 || status == 505 {
		o.Rejected(strconv.Itoa(status))
	}
	ob := Observation{Method: cn.req.Method, Status: status}
	if !cn.reqStart.IsZero() {
		ob.Total = time.Since(cn.reqStart)
	}
	o.Request(ob)
}

// observeRejected reports a rejection that is not told by its status alone.
func (s *Server) observeRejected(reason string) {
	if o := s.cfg.Observer; o != nil {
		o.Rejected(reason)
	}
}

// Conns reports how many client connections are open, and how many of them wait for a
// request (idle keep-alive, or not sent their first one yet). It walks the connections under
// the server's lock: for a scrape, not the request path.
func (s *Server) Conns() (open, idle int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for cn := range s.conns {
		if cn.wait.Load() != waitNone {
			idle++
		}
	}
	return len(s.conns), idle
}

// queueRejection names why Acquire gave a request no slot, for Observer.Rejected.
func queueRejection(err error) string {
	switch {
	case errors.Is(err, dispatch.ErrQueueFull):
		return "queue_full"
	case errors.Is(err, dispatch.ErrQueueTimeout):
		return "queue_timeout"
	}
	return "stopping" // the pool closed, or the request's context ended
}
