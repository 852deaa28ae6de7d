package privs

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// -m takes gunicorn's auto_int syntax: a leading 0 is octal, as are 0o; 0x is hex.
func TestParseUmask(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"0", 0, true},
		{"0o117", 0o117, true},
		{"0O22", 0o22, true},
		{"022", 0o22, true},
		{"0022", 0o22, true},
		{"18", 18, true},
		{"79", 0o117, true}, // a config file's umask = 0o117, as its int
		{"0x12", 0o22, true},
		{"0o1000", 0, false}, // beyond the permission bits
		{"089", 0, false},    // not octal
		{"-1", 0, false},
		{"", 0, false},
		{"u=rwx", 0, false},
	} {
		got, err := ParseUmask(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParseUmask(%q) = %04o, %v; want %04o, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// No --user and no --group, or this process's own: no credential to switch to.
func TestCredentialNone(t *testing.T) {
	for _, s := range []Spec{{}, {User: strconv.Itoa(os.Geteuid()), Group: strconv.Itoa(os.Getegid())}} {
		if c, err := s.Credential(); c != nil || err != nil {
			t.Errorf("%+v.Credential() = %+v, %v; want nil, nil", s, c, err)
		}
	}
}

// Unknown names are errors naming the flag and the value.
func TestCredentialUnknown(t *testing.T) {
	for _, tc := range []struct {
		s    Spec
		want string
	}{
		{Spec{User: "no-such-user-gonicorn"}, "--user no-such-user-gonicorn: no such user"},
		{Spec{Group: "no-such-group-gonicorn"}, "--group no-such-group-gonicorn: no such group"},
	} {
		if _, err := tc.s.Credential(); err == nil || err.Error() != tc.want {
			t.Errorf("%+v.Credential() error %v; want %q", tc.s, err, tc.want)
		}
	}
}

// CheckReach follows POSIX's mode bits: the owner's bits for the owner, the group's for a
// member, the others' for anyone else, on every directory on the way and the file itself.
func TestCheckReach(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("TestCheckReach needs root, to make files of other owners")
	}
	root, err := os.MkdirTemp("", "privs-") // not t.TempDir: its parent is 0700
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	os.Chmod(root, 0o755)
	closed := filepath.Join(root, "closed")
	open := filepath.Join(root, "open")
	for _, d := range []string{closed, open} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(closed, 0o750)
	os.Chown(closed, 0, 4242) // group 4242 may enter, others may not
	file := filepath.Join(closed, "f")
	os.WriteFile(file, nil, 0o640)
	os.Chown(file, 0, 4242)
	stranger := &syscall.Credential{Uid: 4343, Gid: 4343}
	member := &syscall.Credential{Uid: 4343, Gid: 4343, Groups: []uint32{4343, 4242}}
	for _, tc := range []struct {
		c    *syscall.Credential
		path string
		want uint32
		err  string // "" = reachable
	}{
		{nil, file, 4, ""},
		{stranger, open, 5, ""},
		{stranger, file, 4, "cannot enter " + closed},
		{member, file, 4, ""},
		{member, file, 2, "cannot use it"},
		{member, closed, 5, ""},
	} {
		err := CheckReach(tc.c, "--chdir", tc.path, tc.want)
		if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("CheckReach(%+v, %s, %o) = %v; want %q", tc.c, tc.path, tc.want, err, tc.err)
		}
	}
}
