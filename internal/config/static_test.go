package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The static settings from flags and from a config file (static_map, the static_* booleans),
// with relative directories taken from --chdir.
func TestStaticSettings(t *testing.T) {
	base := t.TempDir()
	c, err := parseFile(t, "-c f.py --chdir "+base+" --static /a=. --static /b/="+base+" --static-max-age 5 app", env(), nil)
	if err != nil {
		t.Fatal(err)
	}
	m := c.StaticMounts()
	if len(m) != 2 || m[0].Prefix != "/a" || m[0].Dir != base || m[1].Prefix != "/b/" || m[1].Dir != base ||
		m[0].MaxAge != 5*time.Second || m[0].Index || m[0].FollowSymlinks || m[0].Dotfiles {
		t.Errorf("StaticMounts() = %+v", m)
	}
	c, err = parseFile(t, "-c f.py --chdir "+filepath.Dir(base)+" app", env(), map[string]Value{
		"static_map": pyv("strlist", []string{"/s=" + filepath.Base(base)}), "static_index": pyv("bool", true),
		"static_follow_symlinks": pyv("bool", true), "static_dotfiles": pyv("bool", false),
		"sendfile_root": pyv("str", "/p="+base),
	})
	if err != nil {
		t.Fatal(err)
	}
	if m = c.StaticMounts(); len(m) != 1 || m[0].Dir != base || !m[0].Index || !m[0].FollowSymlinks || m[0].Dotfiles {
		t.Errorf("from a config file: StaticMounts() = %+v", m)
	}
	if r := c.SendfileRoots(); len(r) != 1 || r[0].Prefix != "/p" || r[0].Dir != base {
		t.Errorf("SendfileRoots() = %+v", r)
	}
}

func TestStaticErrors(t *testing.T) {
	dir := t.TempDir()
	for args, want := range map[string]string{
		"--static /s":                         `invalid value "/s" for --static: want URL_PREFIX=DIRECTORY`,
		"--static s=" + dir:                   `invalid value "s=` + dir + `" for --static: the URL prefix must start with '/'`,
		"--static /a/../b=" + dir:             `for --static: the URL prefix "/a/../b" has an empty, dot or encoded segment`,
		"--static /s=" + dir + "/nope":        `invalid value "/s=` + dir + `/nope" for --static: no such directory`,
		"--sendfile-root /p=" + dir + "/nope": `invalid value "/p=` + dir + `/nope" for --sendfile-root: no such directory`,
		"--static-max-age x":                  `--static-max-age`,
	} {
		_, err := parseFile(t, args+" app", env(), nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v; want an error with %q", args, err, want)
		}
	}
	_, err := parseFile(t, "-c f.py app", env(), map[string]Value{"static_index": pyv("str", "yes")})
	if err == nil || !strings.Contains(err.Error(), "static_index = 'yes'") {
		t.Errorf("static_index = 'yes': %v; want an error naming the setting and the value", err)
	}
}
