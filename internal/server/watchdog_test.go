package server

import (
	"testing"
	"time"

	"github.com/gonicorn/gonicorn/internal/dispatch"
	"github.com/gonicorn/gonicorn/internal/http1"
)

func TestWatchdog(t *testing.T) {
	const d = 30 * time.Millisecond
	cn := testConn(Config{Timeout: d})
	raw := []byte("GET /hang?x=1 HTTP/1.1\r\nHost: t\r\n\r\n")
	if _, err := http1.ParseHead(raw, nil, &cn.req); err != nil {
		t.Fatal(err)
	}
	fired := make(chan string, 4)
	g := dispatch.NewGroup(1, []*dispatch.Slot{{}})
	g.OnTimeout = func(request, _ string) { fired <- request }
	slot := g.Slots[0]

	// A request that ends in time: nothing fires, not even later.
	cn.arm(slot)
	if cn.disarm() {
		t.Error("disarm right after arm reported a timeout")
	}
	// Re-armed at once, as for the next request on a keep-alive connection: only this
	// request's deadline counts.
	cn.arm(slot)
	select {
	case r := <-fired:
		if r != "GET /hang?x=1 HTTP/1.1" {
			t.Errorf("OnTimeout(%q); want the request line", r)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("OnTimeout not called after the timeout")
	}
	if !cn.disarm() {
		t.Error("disarm after the timeout fired = false; want true (the answer is 504)")
	}
	select {
	case r := <-fired:
		t.Errorf("OnTimeout called twice (%q)", r)
	case <-time.After(3 * d):
	}

	// --timeout 0: nothing is armed.
	off := testConn(Config{})
	off.arm(slot)
	if off.wd.timer != nil || off.disarm() {
		t.Error("a watchdog was armed with --timeout 0")
	}
}
