package metrics

import (
	"net"
	"testing"
	"time"
)

// TestStatsdLines checks the datagrams against gunicorn's format, with a UDP listener.
func TestStatsdLines(t *testing.T) {
	ln, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, tt := range []struct {
		prefix, tags string
		want         [2]string // request datagram, workers datagram
	}{
		{"", "", [2]string{
			"gunicorn.request.duration:12.345|ms\ngunicorn.requests:1|c|@1.0\ngunicorn.request.status.404:1|c|@1.0",
			"gunicorn.workers:3|g"}},
		{"svc.app..", "env:prod,team:web", [2]string{
			"svc.app.gunicorn.request.duration:12.345|ms|#env:prod,team:web\nsvc.app.gunicorn.requests:1|c|@1.0|#env:prod,team:web\nsvc.app.gunicorn.request.status.404:1|c|@1.0|#env:prod,team:web",
			"svc.app.gunicorn.workers:3|g|#env:prod,team:web"}},
	} {
		s, err := NewStatsd(ln.LocalAddr().String(), tt.prefix, tt.tags)
		if err != nil {
			t.Fatal(err)
		}
		s.Request(404, 12345*time.Microsecond)
		s.Workers(3)
		s.Close()
		buf := make([]byte, 2048)
		for i, want := range tt.want {
			ln.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, err := ln.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(buf[:n]); got != want {
				t.Errorf("prefix %q tags %q: datagram %d = %q; want %q", tt.prefix, tt.tags, i, got, want)
			}
		}
	}
}
