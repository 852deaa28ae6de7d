package server

import (
	"errors"
	"net"
)

// closedByMaster reports whether reading a worker's socket failed because the master closed
// it: the arbiter's Stop does that under a request still running when the master stops
// without waiting (a fast stop, or the end of --graceful-timeout). That is expected then, not a
// worker's failure.
func closedByMaster(err error) bool {
	return errors.Is(err, net.ErrClosed)
}
