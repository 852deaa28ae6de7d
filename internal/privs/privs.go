// Package privs resolves gunicorn's -u/--user, -g/--group, --initgroups and -m/--umask into
// the credentials the workers are started with, and checks, before any worker starts, that
// those credentials can reach what a worker needs (the interpreter, --chdir). The master
// keeps its own (root's) privileges: it binds the sockets, writes the pid file and signals
// the workers. See docs/privileges.md.
package privs

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Spec is what the user asked for: each "" when not given.
type Spec struct {
	User       string // -u: a user name or a numeric uid
	Group      string // -g: a group name or a numeric gid
	InitGroups bool   // --initgroups: the supplementary groups are the user's, from /etc/group
}

// Credential returns the credential the workers run with, or nil when s asks for no change
// (neither --user nor --group, or the ones this process already has). The rules are
// gunicorn's (util.set_owner_process), with one difference: --user without --group takes
// the user's primary group, as su and systemd's User= do, where gunicorn keeps the master's
// group (root's, most often), which would leave the workers in group 0.
//
//   - supplementary groups: the user's (from /etc/group) plus the group with --initgroups,
//     else only the group;
//   - a numeric id needs no entry in /etc/passwd or /etc/group (a container's uid), but
//     --initgroups then has no user to read the groups of, and gives just the group.
//
// An unknown name is an error naming the flag and the value; so is a different user or
// group when this process is not root (only root may switch).
func (s Spec) Credential() (*syscall.Credential, error) {
	if s.User == "" && s.Group == "" {
		return nil, nil
	}
	uid, gid := uint32(os.Geteuid()), uint32(os.Getegid())
	var u *user.User
	if s.User != "" {
		var err error
		if uid, u, err = lookupUser(s.User); err != nil {
			return nil, err
		}
		if u != nil && s.Group == "" {
			g, _ := strconv.ParseUint(u.Gid, 10, 32)
			gid = uint32(g)
		}
	}
	if s.Group != "" {
		var err error
		if gid, err = lookupGroup(s.Group); err != nil {
			return nil, err
		}
	}
	if uid == uint32(os.Geteuid()) && gid == uint32(os.Getegid()) && !s.InitGroups {
		return nil, nil
	}
	if os.Geteuid() != 0 {
		flag := "--user " + s.User
		if s.User == "" {
			flag = "--group " + s.Group
		}
		return nil, fmt.Errorf("%s: only root may start the workers as another user or group, and gonicorn runs as uid %d; start it as root, or leave out --user and --group", flag, os.Geteuid())
	}
	groups := []uint32{gid}
	if s.InitGroups && u != nil {
		ids, err := u.GroupIds()
		if err != nil {
			return nil, fmt.Errorf("--initgroups: reading the groups of user %s: %w", u.Username, err)
		}
		for _, id := range ids {
			g, err := strconv.ParseUint(id, 10, 32)
			if err == nil && uint32(g) != gid {
				groups = append(groups, uint32(g))
			}
		}
	}
	return &syscall.Credential{Uid: uid, Gid: gid, Groups: groups}, nil
}

// lookupUser resolves -u: a number is a uid (its passwd entry, if any, is returned too), any
// other value a user name.
func lookupUser(v string) (uint32, *user.User, error) {
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		u, _ := user.LookupId(v)
		return uint32(n), u, nil
	}
	u, err := user.Lookup(v)
	if err != nil {
		return 0, nil, fmt.Errorf("--user %s: no such user", v)
	}
	n, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return 0, nil, fmt.Errorf("--user %s: uid %q is not a number", v, u.Uid)
	}
	return uint32(n), u, nil
}

// lookupGroup resolves -g: a number is a gid, any other value a group name.
func lookupGroup(v string) (uint32, error) {
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		return uint32(n), nil
	}
	g, err := user.LookupGroup(v)
	if err != nil {
		return 0, fmt.Errorf("--group %s: no such group", v)
	}
	n, err := strconv.ParseUint(g.Gid, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("--group %s: gid %q is not a number", v, g.Gid)
	}
	return uint32(n), nil
}

// ParseUmask parses -m as gunicorn does (auto_int): "0o22", "0x12" or "18", and a leading 0
// means octal ("022", "0022"). The value must fit the permission bits (0 to 0o777).
func ParseUmask(v string) (int, error) {
	s := strings.TrimSpace(v)
	base := 10
	switch {
	case len(s) > 2 && (s[:2] == "0o" || s[:2] == "0O"):
		s, base = s[2:], 8
	case len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X"):
		s, base = s[2:], 16
	case len(s) > 1 && s[0] == '0':
		s, base = s[1:], 8
	}
	n, err := strconv.ParseUint(s, base, 32)
	if err != nil || n > 0o777 {
		return 0, fmt.Errorf("--umask %s: want a mask of permission bits such as 0o22, 022 or 18 (at most 0o777)", v)
	}
	return int(n), nil
}

// CheckReach reports, as a clear error, whether a process with credential c can search
// every directory on the way to path and open path itself with the permission bits want
// (a mask of 4 read, 2 write, 1 execute/search). what names path for the message
// ("--chdir", "--python"). nil c (no switch) is always fine: the master itself reaches it.
// Symlinks are followed, as the kernel does. ACLs and capabilities are not read: a denial
// here is one the mode bits make.
func CheckReach(c *syscall.Credential, what, path string, want uint32) error {
	if c == nil || c.Uid == 0 {
		return nil
	}
	abs, err := filepath.Abs(path)
	if err == nil {
		abs, err = filepath.EvalSymlinks(abs)
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, path, err)
	}
	dirs := []string{}
	for d := filepath.Dir(abs); ; d = filepath.Dir(d) {
		dirs = append([]string{d}, dirs...)
		if d == "/" {
			break
		}
	}
	for _, d := range dirs {
		if err := allowed(c, d, 1); err != nil {
			return fmt.Errorf("%s %s: the workers' user (uid %d, gid %d) cannot enter %s (%v); make it searchable (chmod o+x) or choose another --user", what, path, c.Uid, c.Gid, d, err)
		}
	}
	if err := allowed(c, abs, want); err != nil {
		return fmt.Errorf("%s %s: the workers' user (uid %d, gid %d) cannot use it (%v); change its mode or owner, or choose another --user", what, path, c.Uid, c.Gid, err)
	}
	return nil
}

// allowed reports whether c has the permission bits want on path by its owner, group and
// other bits (POSIX's order: the first class that matches decides).
func allowed(c *syscall.Credential, path string, want uint32) error {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return err
	}
	mode := st.Mode & 0o777
	var have uint32
	switch {
	case st.Uid == c.Uid:
		have = mode >> 6
	case st.Gid == c.Gid || contains(c.Groups, st.Gid):
		have = mode >> 3 & 7
	default:
		have = mode & 7
	}
	if have&want != want {
		return fmt.Errorf("mode %04o, owner %d:%d", mode, st.Uid, st.Gid)
	}
	return nil
}

func contains(ids []uint32, id uint32) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}
