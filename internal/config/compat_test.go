package config

import (
	"errors"
	"strings"
	"testing"
)

// gunicorn's flags and values for the settings gonicorn implements under other spellings.
func TestGunicornSpellings(t *testing.T) {
	for _, tc := range []struct {
		args  string
		check func(c *Config) bool
	}{
		{"app --proxy-protocol", func(c *Config) bool { return c.ProxyProtocol == "auto" && c.App == "app" }},
		{"--proxy-protocol -w 2 app", func(c *Config) bool { return c.ProxyProtocol == "auto" && c.Workers == 2 }},
		{"--proxy-protocol v2 app", func(c *Config) bool { return c.ProxyProtocol == "v2" && c.App == "app" }},
		{"--proxy-protocol=v1 app", func(c *Config) bool { return c.ProxyProtocol == "v1" }},
		{"--proxy-protocol TRUE app", func(c *Config) bool { return c.ProxyProtocol == "auto" }},
		{"--proxy-protocol 0 app", func(c *Config) bool { return c.ProxyProtocol == "off" }},
		{"--log-file /tmp/e.log app", func(c *Config) bool { return c.ErrorLogFile == "/tmp/e.log" }},
		{"--log-file - app", func(c *Config) bool { return c.ErrorLogFile == "-" }},
		{"-v", func(c *Config) bool { return c.ShowVersion }},
		{"--version", func(c *Config) bool { return c.ShowVersion }},
		{"-k gthread --threads 4 app", func(c *Config) bool { return c.Threads == 4 }},
		{"-k sync app", func(c *Config) bool { return c.App == "app" }},
		{"--worker-class=GThread app", func(c *Config) bool { return c.App == "app" }},
		{"-k gunicorn.workers.gthread.ThreadWorker app", func(c *Config) bool { return c.App == "app" }},
		{"-k gunicorn.workers.sync.SyncWorker app", func(c *Config) bool { return c.App == "app" }},
		{"-k egg:gunicorn#sync app", func(c *Config) bool { return c.App == "app" }},
	} {
		c, err := Parse(strings.Fields(tc.args), env())
		if err != nil || !tc.check(c) {
			t.Errorf("Parse(%q) = %+v, %v", tc.args, c, err)
		}
	}
}

// Other worker classes are refused with one line that names the flag and value and says
// what to do instead, on the command line and in a config file.
func TestWorkerClassRefused(t *testing.T) {
	for _, k := range []string{"gevent", "eventlet", "tornado", "gunicorn.workers.ggevent.GeventWorker", "uvicorn.workers.UvicornWorker", "asgi"} {
		_, err := Parse([]string{"-k", k, "app"}, env())
		var se *SettingError
		if !errors.As(err, &se) || !strings.HasPrefix(err.Error(), "--worker-class "+k+": ") || strings.Contains(err.Error(), "\n") {
			t.Errorf("-k %s: %v; want one line starting --worker-class %s:", k, err, k)
		}
	}
	_, err := Parse([]string{"-k", "gevent", "app"}, env())
	if err == nil || !strings.Contains(err.Error(), "use --threads N") {
		t.Errorf("-k gevent: %v; want it to say: use --threads N", err)
	}
	_, err = parseFile(t, "-c g.conf.py app", env(), map[string]Value{"worker_class": pyv("str", "gevent")})
	if err == nil || !strings.HasPrefix(err.Error(), "config file g.conf.py: worker_class = 'gevent': gonicorn's workers are not async") {
		t.Errorf("worker_class = 'gevent': %v", err)
	}
	if c, err := parseFile(t, "-c g.conf.py app", env(), map[string]Value{"worker_class": pyv("str", "gthread")}); err != nil || len(c.Warnings) != 0 {
		t.Errorf("worker_class = 'gthread': %v, %q", err, c.Warnings)
	}
}

// GUNICORN_CMD_ARGS is read like GONICORN_CMD_ARGS; when both are set GONICORN_CMD_ARGS wins
// and a warning says GUNICORN_CMD_ARGS is not read; the command line wins over both.
func TestGunicornCmdArgs(t *testing.T) {
	c, err := Parse([]string{"app"}, env("GUNICORN_CMD_ARGS", "-w 3 --threads 2"))
	if err != nil || c.Workers != 3 || c.Threads != 2 || len(c.Warnings) != 0 {
		t.Errorf("GUNICORN_CMD_ARGS alone: %+v, %v", c, err)
	}
	c, err = Parse([]string{"--threads", "5", "app"}, env("GUNICORN_CMD_ARGS", "-w 3 --threads 2", "GONICORN_CMD_ARGS", "-w 4"))
	if err != nil || c.Workers != 4 || c.Threads != 5 || len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "GUNICORN_CMD_ARGS is not read") {
		t.Errorf("both: workers %d threads %d warnings %q, %v; want 4, 5 and a warning", c.Workers, c.Threads, c.Warnings, err)
	}
	_, err = Parse([]string{"app"}, env("GUNICORN_CMD_ARGS", "--workers many"))
	if err == nil || !strings.Contains(err.Error(), "(in GUNICORN_CMD_ARGS)") {
		t.Errorf("bad GUNICORN_CMD_ARGS: %v; want an error naming the variable", err)
	}
}
