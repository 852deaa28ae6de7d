package server

import (
	"net"
	"time"
)

// takeConnSlot takes a slot for a connection just accepted, making room at --max-connections
// the way nginx does: the connection idle in keep-alive the longest is closed (RFC 9112 §9.3:
// a server may close an idle connection at any time; clients retry on a new one). It is done
// after the accept, so that a connection is closed only for one that is there. Connections
// reading or serving a request, and new ones that have not sent their first request, are
// never closed for room; while there is no idle one, the accept loop waits, holding the one
// connection it accepted, for a connection to close. Meanwhile the listener is not accepting:
// new connections complete their TCP handshake in the kernel and wait in the listen backlog
// (its size is --backlog, capped by net.core.somaxconn), and beyond it the kernel drops their
// SYNs, so clients retry. That costs the server nothing, unlike accepting and answering 503.
// It reports false when the server is shutting down.
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
		s.log.Warn("max connections reached; closing idle keep-alive connections (oldest first) to admit new ones, else they wait in the listen backlog",
			"max_connections", cap(s.connSlots), "addr", ln.Addr().String())
	}
	s.roomWanted.Add(1)
	defer s.roomWanted.Add(-1)
	for {
		s.closeOldestIdle()
		select {
		case s.connSlots <- struct{}{}:
			return true
		case <-s.stopping:
			return false
		case <-s.becameIdle: // look again
		}
	}
}

// noteIdle tells an accept loop waiting for room that a connection became idle and may be
// closed for it. It costs one atomic load while no accept loop waits.
func (s *Server) noteIdle() {
	if s.roomWanted.Load() > 0 {
		select {
		case s.becameIdle <- struct{}{}:
		default: // one wake-up is pending already
		}
	}
}

// closeOldestIdle closes the connection that has waited longest in keep-alive for its next
// request, if any. The connection's goroutine ends and gives its slot back.
func (s *Server) closeOldestIdle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	var oldest *conn
	var since int64
	for cn := range s.conns {
		if cn.wait.Load() != waitNext {
			continue
		}
		if t := cn.idleSince.Load(); oldest == nil || t < since {
			oldest, since = cn, t
		}
	}
	if oldest != nil {
		oldest.evict()
	}
}

// releaseConnSlot gives back the slot of a connection that closed (or was never accepted).
func (s *Server) releaseConnSlot() {
	if s.connSlots != nil {
		<-s.connSlots
	}
}
