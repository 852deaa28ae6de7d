package server

import "io"

// An idle keep-alive connection holds no buffer: its input buffer and request frame go back
// to the server's pools while it waits for a next request, and a read takes a buffer only
// when there is something to read (rawio.Conn.ReadLazy). What an idle connection costs is then
// its goroutine's stack, the conn and the runtime's socket state (docs/limits.md).

type (
	inBuf    = [initialBufSize]byte
	frameBuf = [smallFrame]byte
)

// getInBuf returns an input buffer of initialBufSize bytes from the pool.
func (s *Server) getInBuf() []byte {
	if b, ok := s.inBufs.Get().(*inBuf); ok {
		return b[:]
	}
	return new(inBuf)[:]
}

// putInBuf gives b back to the pool if it is a pool-sized buffer; a grown one is left to
// the garbage collector. The caller must hold no other reference to b.
func (s *Server) putInBuf(b []byte) {
	if len(b) == initialBufSize && cap(b) == initialBufSize {
		s.inBufs.Put((*inBuf)(b))
	}
}

// releaseBuffers gives the connection's input buffer and small request frame back to the
// pools. Only when no request is in progress: nothing may point into them.
func (cn *conn) releaseBuffers() {
	s := cn.srv
	if cn.r == cn.w {
		s.putInBuf(cn.buf)
		cn.buf, cn.r, cn.w, cn.pinned = nil, 0, 0, 0
	}
	if cap(cn.frame) == smallFrame {
		s.smallFrames.Put((*frameBuf)(cn.frame[:smallFrame]))
	}
	cn.frame = nil
}

// readIdle waits for the first bytes of a next request without holding a buffer, and reads
// them into a fresh cn.buf. Like cn.read it returns (0, io.EOF) at the end of the stream.
func (cn *conn) readIdle() (int, error) {
	cn.releaseBuffers()
	if cn.raw == nil {
		cn.buf = cn.srv.getInBuf()
		return cn.read(cn.buf)
	}
	b, n, err := cn.raw.ReadLazy(cn.srv.getInBufFn, cn.srv.putInBufFn)
	if b == nil {
		b = cn.srv.getInBuf()
	}
	cn.buf = b
	if err == nil && n == 0 {
		return 0, io.EOF
	}
	return n, err
}
