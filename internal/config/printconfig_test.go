package config

import (
	"strings"
	"testing"
)

// Each effective setting names the layer that set it last: default, the file,
// GUNICORN_CMD_ARGS or GONICORN_CMD_ARGS, the command line; aliases count for their setting.
func TestEffectiveSources(t *testing.T) {
	c, err := parseFile(t, "-c g.conf.py -t 5 --log-file /tmp/e.log", env("GUNICORN_CMD_ARGS", "--threads 2 -w 4"), map[string]Value{
		"workers": pyv("int", "3"), "wsgi_app": pyv("str", "mod:app"), "keepalive": pyv("int", "9"), "proxy_allow_ips": pyv("str", "10.0.0.1"),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]string{
		"wsgi_app": {"mod:app", "file g.conf.py"}, "config": {"g.conf.py", "command line"},
		"workers": {"4", "GUNICORN_CMD_ARGS"}, "threads": {"2", "GUNICORN_CMD_ARGS"},
		"timeout": {"5", "command line"}, "keepalive": {"9", "file g.conf.py"},
		"errorlog": {"/tmp/e.log", "command line"}, "proxy_allow_ips": {"10.0.0.1", "file g.conf.py"},
		"graceful_timeout": {"30", "default"}, "worker_class": {"sync", "default"},
	}
	got := map[string]Effective{}
	for _, e := range c.Effective {
		if _, dup := got[e.Name]; dup {
			t.Errorf("%s listed twice", e.Name)
		}
		got[e.Name] = e
	}
	for name, w := range want {
		if e := got[name]; e.Value != w[0] || e.Source != w[1] {
			t.Errorf("%s = %q [%s]; want %q [%s]", name, e.Value, e.Source, w[0], w[1])
		}
	}
	for _, hidden := range []string{"help", "version", "log_file", "print_config"} {
		if _, ok := got[hidden]; ok {
			t.Errorf("%s listed; want only gonicorn's settings", hidden)
		}
	}
	if out := PrintConfig(c); !strings.Contains(out, "workers                    = 4") || !strings.Contains(out, "[GUNICORN_CMD_ARGS]") {
		t.Errorf("PrintConfig:\n%s", out)
	}
}
