package config

import (
	"strings"
	"testing"
)

// --no-sendfile, gunicorn's sendfile = False in a config file, and the SENDFILE variable.
func TestSendfileSetting(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   string
		getenv func(string) string
		file   map[string]Value
		want   bool // NoSendfile
	}{
		{"default", "app", env(), nil, false},
		{"flag", "--no-sendfile app", env(), nil, true},
		{"GUNICORN_CMD_ARGS", "app", env("GUNICORN_CMD_ARGS", "--no-sendfile"), nil, true},
		{"sendfile = False", "-c g.py app", env(), map[string]Value{"sendfile": pyv("bool", false)}, true},
		{"sendfile = True", "-c g.py app", env(), map[string]Value{"sendfile": pyv("bool", true)}, false},
		{"sendfile = 'false'", "-c g.py app", env(), map[string]Value{"sendfile": pyv("str", "false")}, true},
		{"sendfile = None", "-c g.py app", env(), map[string]Value{"sendfile": pyv("none", nil)}, false},
		{"no_sendfile = True", "-c g.py app", env(), map[string]Value{"no_sendfile": pyv("bool", true)}, true},
		// gunicorn: unset, SENDFILE decides: y, 1, yes, true (any case) keep it on.
		{"SENDFILE=0", "app", env("SENDFILE", "0"), nil, true},
		{"SENDFILE=no", "app", env("SENDFILE", "no"), nil, true},
		{"SENDFILE=Yes", "app", env("SENDFILE", "Yes"), nil, false},
		{"SENDFILE=1", "app", env("SENDFILE", "1"), nil, false},
		// The file's setting wins over the variable, as gunicorn's set setting does.
		{"SENDFILE=0, sendfile = True", "-c g.py app", env("SENDFILE", "0"), map[string]Value{"sendfile": pyv("bool", true)}, false},
	} {
		c, err := parseFile(t, tc.args, tc.getenv, tc.file)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if c.NoSendfile != tc.want || len(c.Warnings) != 0 {
			t.Errorf("%s: NoSendfile = %v, warnings %q; want %v, none", tc.name, c.NoSendfile, c.Warnings, tc.want)
		}
	}
	_, err := parseFile(t, "-c g.py app", env(), map[string]Value{"sendfile": pyv("str", "maybe")})
	if err == nil || !strings.Contains(err.Error(), "g.py: sendfile = 'maybe': want True or False") {
		t.Errorf("sendfile = 'maybe': %v; want an error naming the file, the setting and the value", err)
	}
}

// --forwarder-headers: gunicorn's default, its list syntax in a config file, and bad names.
func TestForwarderHeadersSetting(t *testing.T) {
	c, err := Parse([]string{"app"}, env())
	if err != nil || c.ForwarderHeaders != "SCRIPT_NAME,PATH_INFO" {
		t.Fatalf("default: %v, %q; want gunicorn's SCRIPT_NAME,PATH_INFO", err, c.ForwarderHeaders)
	}
	c, err = parseFile(t, "-c g.py app", env(), map[string]Value{"forwarder_headers": pyv("strlist", []string{"SCRIPT_NAME", "REMOTE_USER"})})
	if err != nil || c.ForwarderHeaders != "SCRIPT_NAME,REMOTE_USER" {
		t.Errorf("forwarder_headers = [...]: %v, %q", err, c.ForwarderHeaders)
	}
	if _, err := Parse([]string{"--forwarder-headers", "SCRIPT NAME:", "app"}, env()); err == nil || !strings.Contains(err.Error(), "--forwarder-headers") {
		t.Errorf("a bad name: %v; want an error naming --forwarder-headers", err)
	}
}

// casefold_http_method changes nothing (see its note), so any value is accepted silently.
func TestCasefoldAccepted(t *testing.T) {
	for _, v := range []Value{pyv("bool", true), pyv("bool", false)} {
		c, err := parseFile(t, "-c g.py app", env(), map[string]Value{"casefold_http_method": v})
		if err != nil || len(c.Warnings) != 0 {
			t.Errorf("casefold_http_method = %s: %v, warnings %q; want it accepted silently", v.Repr, err, c.Warnings)
		}
	}
}
