package arbiter

import (
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// subreaper counts the forks under way (preload.go) that need the master to be a child
// subreaper (PR_SET_CHILD_SUBREAPER), so that it is one exactly while any is. It is
// package-level because the attribute it mirrors is the process's, shared by every Arbiter
// in it.
var subreaper struct {
	mu sync.Mutex
	n  int
}

// setSubreaper makes the master a child subreaper (on) or, once no fork needs it any more,
// not (off): the orphans of its descendants are re-parented to it instead of to init.
func setSubreaper(on bool) error {
	subreaper.mu.Lock()
	defer subreaper.mu.Unlock()
	if !on {
		subreaper.n--
		if subreaper.n > 0 {
			return nil
		}
		return unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
	}
	if subreaper.n == 0 {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("prctl(PR_SET_CHILD_SUBREAPER): %w", err)
		}
	}
	subreaper.n++
	return nil
}
