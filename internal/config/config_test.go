package config

import (
	"flag"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite docs/settings.md")

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestParseDefaults(t *testing.T) {
	c, err := Parse([]string{"app"}, env())
	if err != nil {
		t.Fatal(err)
	}
	if c.App != "app" || c.Workers != 1 || c.Threads != 1 || c.Python != "python3" ||
		!reflect.DeepEqual(c.Bind, []string{"127.0.0.1:8000"}) || c.GracefulTimeout != 30*time.Second ||
		c.KeepAlive != 75*time.Second || c.LimitRequestLine != 8190 || c.LimitRequestBody != 1<<30 ||
		c.ErrorLogFile != "-" || c.AccessLogFile != "" || c.LogLevel != "info" ||
		c.ForwardedAllowIPs != "127.0.0.1,::1" || c.HeaderMap != "drop" {
		t.Errorf("Parse(app) = %+v", c)
	}
}

func TestParseEnvironmentDefaults(t *testing.T) {
	c, err := Parse([]string{"app"}, env("PORT", "9000", "WEB_CONCURRENCY", "3", "VIRTUAL_ENV", "/venv", "SCRIPT_NAME", "/mount", "FORWARDED_ALLOW_IPS", "10.0.0.0/8"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Bind, []string{"0.0.0.0:9000"}) || c.Workers != 3 || c.Python != "/venv/bin/python" || c.RootPath != "/mount" || c.ForwardedAllowIPs != "10.0.0.0/8" {
		t.Errorf("Parse with env = bind %v workers %d python %q root %q forwarded %q", c.Bind, c.Workers, c.Python, c.RootPath, c.ForwardedAllowIPs)
	}
}

func TestParseFlags(t *testing.T) {
	c, err := Parse(strings.Fields("-w 4 --threads 8 -b 0.0.0.0:8000 -b unix:/run/app.sock --chdir /srv --pythonpath a,b -e K=V -e SCRIPT_NAME=/x --graceful-timeout 2.5 myapp:create_app()"), env())
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{App: "myapp:create_app()", Bind: []string{"0.0.0.0:8000", "unix:/run/app.sock"}, Workers: 4, Threads: 8,
		Chdir: "/srv", PythonPath: []string{"a", "b"}, Env: []string{"K=V", "SCRIPT_NAME=/x"}, Python: "python3",
		GracefulTimeout: 2500 * time.Millisecond, RootPath: "/x"}
	if c.App != want.App || !reflect.DeepEqual(c.Bind, want.Bind) || c.Workers != 4 || c.Threads != 8 || c.Chdir != want.Chdir ||
		!reflect.DeepEqual(c.PythonPath, want.PythonPath) || !reflect.DeepEqual(c.Env, want.Env) || c.GracefulTimeout != want.GracefulTimeout || c.RootPath != "/x" {
		t.Errorf("Parse = %+v; want %+v", c, want)
	}
}

func TestCmdArgsEnvironment(t *testing.T) {
	// GONICORN_CMD_ARGS is read first; the command line wins.
	c, err := Parse([]string{"--workers", "5", "app"}, env("GONICORN_CMD_ARGS", "--workers 2 --threads 3"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Workers != 5 || c.Threads != 3 {
		t.Errorf("workers, threads = %d, %d; want 5, 3", c.Workers, c.Threads)
	}
}

func TestParseErrorsNameFlagAndValue(t *testing.T) {
	for _, tc := range []struct {
		args    string
		env     func(string) string
		wantSub []string
	}{
		{"--workers abc app", env(), []string{"workers", "abc"}},
		{"--workers 0 app", env(), []string{"--workers", "0"}},
		{"app", env("WEB_CONCURRENCY", "many"), []string{"--workers", "many", "WEB_CONCURRENCY"}},
		{"--threads -1 app", env(), []string{"--threads", "-1"}},
		{"--bind host:99999 app", env(), []string{"--bind", "host:99999"}},
		{"--bind unix: app", env(), []string{"--bind", "unix:"}},
		{"--log-level loud app", env(), []string{"--log-level", "loud"}},
		{"--env NOEQUALS app", env(), []string{"--env", "NOEQUALS"}},
		{"--graceful-timeout soon app", env(), []string{"graceful-timeout", "soon"}},
		{"--no-such-flag app", env(), []string{"no-such-flag"}},
		{"--root-path x/ app", env(), []string{"--root-path", "x/"}},
		{"--forwarded-allow-ips 10.0.0.1,proxy app", env(), []string{"--forwarded-allow-ips", "proxy"}},
		{"app", env("FORWARDED_ALLOW_IPS", "10.0.0.0/33"), []string{"--forwarded-allow-ips", "10.0.0.0/33"}},
		{"--header-map keep app", env(), []string{"--header-map", "keep"}},
		{"", env(), []string{"APP_MODULE"}},
		{"a b", env(), []string{"APP_MODULE"}},
		{":app", env(), []string{":app"}},
	} {
		_, err := Parse(strings.Fields(tc.args), tc.env)
		if err == nil {
			t.Errorf("Parse(%q) = nil error; want one mentioning %q", tc.args, tc.wantSub)
			continue
		}
		for _, sub := range tc.wantSub {
			if !strings.Contains(err.Error(), sub) {
				t.Errorf("Parse(%q) error = %q; want it to mention %q", tc.args, err, sub)
			}
		}
	}
}

func TestParseBind(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Bind
	}{
		{"127.0.0.1:8000", Bind{"tcp", "127.0.0.1:8000", ""}},
		{"[::1]:9000", Bind{"tcp", "[::1]:9000", ""}},
		{"0.0.0.0", Bind{"tcp", "0.0.0.0:8000", ""}},
		{"unix:/tmp/x.sock", Bind{"unix", "/tmp/x.sock", ""}},
		{"fd://3", Bind{"fd", "3", ""}},
		{"http://127.0.0.1:8080", Bind{"tcp", "127.0.0.1:8080", "http"}}, // plain, also with --certfile
		{"https://[::1]:8443", Bind{"tcp", "[::1]:8443", "https"}},
	} {
		got, err := ParseBind(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseBind(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

// TestSettingsDoc keeps docs/settings.md equal to the settings table.
func TestSettingsDoc(t *testing.T) {
	checkGenerated(t, "../../docs/settings.md", Markdown())
}

// checkGenerated compares the generated document at path with want, rewriting it first
// with -update.
func checkGenerated(t *testing.T, path, want string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s is out of date; run: go test ./internal/config -update", path)
	}
}

func TestProxyAllowIPsIsAnAlias(t *testing.T) {
	c, err := Parse([]string{"--proxy-allow-ips", "10.0.0.0/8", "app"}, env())
	if err != nil {
		t.Fatal(err)
	}
	if c.ProxyAllowFrom != "10.0.0.0/8" {
		t.Errorf("--proxy-allow-ips 10.0.0.0/8: ProxyAllowFrom = %q; want %q", c.ProxyAllowFrom, "10.0.0.0/8")
	}
}

func TestMetricsBindValidated(t *testing.T) {
	for _, tt := range []struct {
		bind string
		ok   bool
	}{
		{"127.0.0.1:9100", true},
		{"[::1]:9100", true},
		{":9100", true},
		{"0.0.0.0:0", true},
		{"127.0.0.1", false},      // no port
		{"127.0.0.1:http", false}, // a port number, not a service name
		{"127.0.0.1:70000", false},
		{"unix:/tmp/m.sock", false}, // probes and scrapers speak TCP
	} {
		_, err := Parse([]string{"--metrics-bind", tt.bind, "app"}, func(string) string { return "" })
		if (err == nil) != tt.ok {
			t.Errorf("Parse(--metrics-bind %q) error = %v; want ok=%v", tt.bind, err, tt.ok)
		} else if err != nil && !strings.Contains(err.Error(), "--metrics-bind") {
			t.Errorf("Parse(--metrics-bind %q) error = %v; want it to name --metrics-bind", tt.bind, err)
		}
	}
}
