package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestFastAnswerNotHeldBehindHungRequest: with one worker thread busy, the next two requests
// are pipelined on its link (package dispatch). The worker may hold a fast answer back to send
// it with the next one; when the next one hangs, the fast answer must still go out, and the
// --timeout must hit the hung request, not the fast one ahead of it.
func TestFastAnswerNotHeldBehindHungRequest(t *testing.T) {
	s := pepStart(t, "supervise", "-w", "1", "--timeout", "2")
	type result struct {
		name string
		r    *response
	}
	results := make(chan result, 3)
	send := func(name, path string) {
		go func() { results <- result{name, s.get(path)} }()
	}
	send("busy", "/pid?sleep=0.5") // occupies the only slot
	time.Sleep(100 * time.Millisecond)
	send("fast", "/pid") // pipelined behind it
	time.Sleep(100 * time.Millisecond)
	send("hung", "/hang") // pipelined behind the fast one
	got := map[string]int{}
	for range 3 {
		r := <-results
		got[r.name] = r.r.status
	}
	if got["busy"] != 200 || got["fast"] != 200 {
		t.Errorf("busy and fast requests got %d and %d; want 200 for both", got["busy"], got["fast"])
	}
	if got["hung"] != 504 {
		t.Errorf("hung request got %d; want 504", got["hung"])
	}
	if !s.log.waitFor("WORKER TIMEOUT", 5*time.Second) {
		t.Fatal("no WORKER TIMEOUT in the log")
	}
	for _, line := range strings.Split(s.log.String(), "\n") {
		if strings.Contains(line, "[CRITICAL] WORKER TIMEOUT") && !strings.Contains(line, "GET /hang ") {
			t.Errorf("timeout line %q; want it to name GET /hang", line)
		}
	}
}
