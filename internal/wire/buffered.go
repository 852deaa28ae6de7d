package wire

// Buffered reports how many bytes after the current frame are already read from the
// socket. The server uses it to write blocks that arrived together in one write, while never
// holding back a block when nothing else is waiting.
func (r *Reader) Buffered() int { return r.w - r.r - r.cur }
