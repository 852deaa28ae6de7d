package server

// Runners: the goroutines that serve requests. A connection's own goroutine only waits for
// its next request (conn.awaitNext), in frames small enough for the smallest stack, and
// hands each request to a runner; serving one needs an 8 KiB stack, which an idle
// connection then does not keep (10,000 idle connections would hold 80 MiB of it).
//
// A runner that finished a request waits for the next one from any connection, so its grown
// stack serves request after request: a goroutine started per request cost the master about
// 10 % of a small request's CPU, in its start, the two stack copies of its growth and its
// end. At most maxIdleRunners wait; more end, and so do all once the server stops.

// maxIdleRunners bounds the runners waiting for a request, and so the stacks kept for them
// (8 KiB each) after a burst of concurrent requests.
const maxIdleRunners = 256

// runOne serves cn's next request on a runner and reports whether the connection stays
// open.
func (s *Server) runOne(cn *conn) bool {
	select {
	case s.runq <- cn: // a waiting runner takes it
	default:
		go s.runner(cn)
	}
	return <-cn.done
}

// runner serves cn's request, then the requests handed to it, until none comes while it is
// one of too many waiting, or the server stops.
func (s *Server) runner(cn *conn) {
	for {
		cn.done <- cn.serveOne(cn.ctx)
		if s.idleRunners.Add(1) > maxIdleRunners {
			s.idleRunners.Add(-1)
			return
		}
		select {
		case cn = <-s.runq:
			s.idleRunners.Add(-1)
		case <-s.stopping:
			s.idleRunners.Add(-1)
			return
		}
	}
}
