package config

import (
	"os"
	"os/user"
	"strconv"
	"strings"
	"testing"
)

// A config file's user, group, umask (an int, as Python writes 0o117), initgroups and
// daemon are gunicorn's settings; the user is resolved into the workers' credential.
func TestPrivsFromFile(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("TestPrivsFromFile needs root: only root may name another user")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Fatal(err)
	}
	c, err := parseFile(t, "-c conf.py app", env(), map[string]Value{
		"user": pyv("str", "nobody"), "group": pyv("int", "0"), "umask": pyv("int", "79"),
		"initgroups": pyv("bool", true), "daemon": pyv("bool", true),
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.User != "nobody" || c.Group != "0" || c.UmaskBits() != 0o117 || !c.InitGroups || !c.Daemon {
		t.Errorf("User %q Group %q umask %04o InitGroups %v Daemon %v; want nobody, 0, 0117, true, true",
			c.User, c.Group, c.UmaskBits(), c.InitGroups, c.Daemon)
	}
	if cr := c.Credential; cr == nil || strconv.Itoa(int(cr.Uid)) != nobody.Uid || cr.Gid != 0 || len(cr.Groups) == 0 || cr.Groups[0] != 0 {
		t.Errorf("Credential = %+v; want uid %s, gid 0, groups starting with 0", cr, nobody.Uid)
	}
}

// An unknown user or a bad umask fails Parse, naming the flag and the value.
func TestPrivsErrors(t *testing.T) {
	for _, tc := range []struct{ args, want string }{
		{"-u no-such-user-gonicorn app", "--user no-such-user-gonicorn: no such user"},
		{"--group no-such-group-gonicorn app", "--group no-such-group-gonicorn: no such group"},
		{"-m 0o7777 app", "--umask 0o7777: want a mask of permission bits such as 0o22, 022 or 18 (at most 0o777)"},
	} {
		if _, err := Parse(strings.Fields(tc.args), env()); err == nil || err.Error() != tc.want {
			t.Errorf("Parse(%q) error %v; want %q", tc.args, err, tc.want)
		}
	}
}
