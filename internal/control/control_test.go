package control

import (
	"os"
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
