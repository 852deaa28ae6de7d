package arbiter

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"
)

// Overlapping reloads are answered together, once the last of their spawns is done, with
// the first failure among them.
func TestReloadWaitOverlapping(t *testing.T) {
	var r reloadWait
	first, second := make(chan error, 1), make(chan error, 1)
	r.add(2, first)
	r.done(nil)
	r.add(1, second) // a second HUP while the first reload boots
	failed := errors.New("worker 7: boom")
	r.done(failed)
	for _, c := range []chan error{first, second} {
		select {
		case err := <-c:
			t.Fatalf("answered %v with a spawn still booting", err)
		default:
		}
	}
	r.done(nil)
	for i, c := range []chan error{first, second} {
		if err := <-c; err != failed {
			t.Errorf("reload %d answered %v; want %v", i+1, err, failed)
		}
	}
	// The next reload starts afresh: no failure left over.
	third := make(chan error, 1)
	r.add(1, third)
	r.done(nil)
	if err := <-third; err != nil {
		t.Errorf("reload after a failed one answered %v; want nil", err)
	}
}

// A reload that started no spawn is answered at once.
func TestReloadWaitNoSpawn(t *testing.T) {
	var r reloadWait
	c := make(chan error, 1)
	r.add(0, c)
	select {
	case err := <-c:
		if err != nil {
			t.Errorf("answered %v; want nil", err)
		}
	default:
		t.Fatal("a reload with no spawn was not answered")
	}
}

// A reload asked for after Run returned is answered with ErrStopped and ctx's error, so that
// the master's goroutine waiting for it ends.
func TestReloadAfterRunEnded(t *testing.T) {
	a := New(Spec{Workers: 1, Threads: 1}, nil, slog.New(slog.DiscardHandler), nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := a.Run(ctx); err != nil {
		t.Fatalf("Run = %v; want nil", err)
	}
	select {
	case err := <-a.Reload(Spec{Workers: 1, Threads: 1}):
		if !errors.Is(err, ErrStopped) || !errors.Is(err, context.Canceled) {
			t.Errorf("Reload after Run = %v; want ErrStopped and context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Reload after Run was never answered")
	}
}
