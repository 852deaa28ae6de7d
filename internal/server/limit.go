package server

import (
	"net"
	"time"
)

// takeConnSlot blocks until the number of open connections is below --max-connections, and
// takes a slot for the connection about to be accepted. While it blocks, the listener is not
// accepting: new connections complete their TCP handshake in the kernel and wait in the
// listen backlog (the backlog is net.core.somaxconn, 4096 on current Linux), and beyond it
// the kernel drops their SYNs, so clients retry. That costs the server nothing, unlike
// accepting and answering 503. It reports false when the server is shutting down.
func (s *Server) takeConnSlot(ln net.Listener) bool {
	if s.connSlots == nil {
		return true
	}
	select {
	case s.connSlots <- struct{}{}:
		return true
	default:
	}
	if now := time.Now().Unix(); s.fullLog.Load() < now-60 {
		s.fullLog.Store(now)
		s.log.Warn("max connections reached; new connections wait in the listen backlog",
			"max_connections", cap(s.connSlots), "addr", ln.Addr().String())
	}
	select {
	case s.connSlots <- struct{}{}:
		return true
	case <-s.stopping:
		return false
	}
}

// releaseConnSlot gives back the slot of a connection that closed (or was never accepted).
func (s *Server) releaseConnSlot() {
	if s.connSlots != nil {
		<-s.connSlots
	}
}
