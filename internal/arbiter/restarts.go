package arbiter

import "strings"

// The reasons OnRestart is told, as metrics label them (docs/operations.md):
//
//	crash         a serving worker died (a signal, an exit, a broken protocol)
//	timeout       a serving worker was killed for --timeout
//	max_requests  recycled for --max-requests
//	lifetime      recycled for --max-worker-lifetime
//	memory        recycled for --max-worker-memory
//	reload        replaced (or dropped) by a HUP
//	ttou          removed by TTOU, not replaced

// restarted tells OnRestart, if set.
func (a *Arbiter) restarted(reason string) {
	if a.OnRestart != nil {
		a.OnRestart(reason)
	}
}

// exitRestartReason says why a serving worker that exited is being replaced.
func exitRestartReason(w *worker) string {
	if w.timedOut.Load() {
		return "timeout"
	}
	return "crash"
}

// recycleRestartReason maps the reason recycle logs (built by Run's limit checks, each
// naming its setting) to its label.
func recycleRestartReason(logged string) string {
	switch {
	case strings.Contains(logged, "max-worker-lifetime"):
		return "lifetime"
	case strings.Contains(logged, "max-worker-memory"):
		return "memory"
	}
	return "max_requests"
}
