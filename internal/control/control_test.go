package control

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"syscall"
	"testing"
)

func TestParseMode(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want os.FileMode
		ok   bool
	}{
		{"0600", 0o600, true},   // the default, octal as gunicorn's auto_int reads a leading 0
		{"0o660", 0o660, true},  // Python's octal literal
		{"384", 0o600, true},    // a config file's control_socket_mode = 0o600 arrives as 384
		{"0x1b6", 0o666, true},  // hexadecimal, as int(x, 0)
		{" 0700 ", 0o700, true}, // spaces around
		{"0800", 0, false},      // not octal
		{"01000", 0, false},     // beyond the permission bits
		{"rw", 0, false},
		{"", 0, false},
	} {
		got, err := ParseMode(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseMode(%q) = %#o, %v; want %#o, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// fakeMaster answers the commands with fixed values.
type fakeMaster struct{}

func (fakeMaster) Status() Status { return Status{PID: 1, Workers: 2, Queued: 3, OldestWait: 120.5} }
func (fakeMaster) Workers() []Worker {
	return []Worker{{PID: 7, CPU: 1.5, Slots: []Slot{{Idle: true}}}}
}
func (fakeMaster) Traffic() Traffic {
	return Traffic{Span: 10, Requests: 42, Rate: 4.2, P50: 3, P99: 40}
}
func (fakeMaster) Signal(syscall.Signal) error                       { return nil }
func (fakeMaster) Dump(context.Context, int) (map[int]string, error) { return nil, nil }

// "top" answers status, workers and traffic in one reply.
func TestTopCommand(t *testing.T) {
	s := &Server{master: fakeMaster{}}
	r := s.do([]string{"top"})
	b, _ := json.Marshal(r)
	for _, want := range []string{`"oldest_wait_ms":120.5`, `"cpu_seconds":1.5`,
		`"traffic":{"span_seconds":10,"requests":42,"requests_per_second":4.2,"p50_ms":3,"p99_ms":40}`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("top = %s; want %s in it", b, want)
		}
	}
	if r.Error != "" || r.Status == nil || len(r.Workers) != 1 {
		t.Errorf("top = %+v; want status, workers and no error", r)
	}
}
