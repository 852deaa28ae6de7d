package dispatch

import (
	"net"
	"testing"
	"time"
)

// A slot shows the request whose turn came, and is idle once that turn ended, however it
// ended; a request pipelined behind shows once its own turn comes.
func TestSlotShowsTheRunningRequest(t *testing.T) {
	s := &Slot{}
	send := func() Turn {
		t.Helper()
		turn, err := s.Send(func(*net.UnixConn) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		return turn
	}
	for _, end := range []func(Turn){Turn.Done, Turn.Fail, Turn.Break} {
		s = &Slot{}
		t1, t2 := send(), send()
		if s.Current() != nil {
			t.Fatalf("Current() before any turn came = %+v; want nil", s.Current())
		}
		r1 := &Running{Method: "GET", Target: "/one", Client: "127.0.0.1:1", Start: time.Now()}
		t1.Wait()
		s.Run(r1)
		if got := s.Current(); got != r1 {
			t.Errorf("Current() = %+v; want %+v", got, r1)
		}
		end(t1)
		if got := s.Current(); got != nil {
			t.Errorf("Current() after the turn ended = %+v; want nil (idle)", got)
		}
		t2.Wait()
		r2 := &Running{Method: "POST", Target: "/two"}
		s.Run(r2)
		if got := s.Current(); got != r2 {
			t.Errorf("Current() for the pipelined request = %+v; want %+v", got, r2)
		}
		t2.Done()
		if got := s.Current(); got != nil {
			t.Errorf("Current() at the end = %+v; want nil", got)
		}
	}
}
