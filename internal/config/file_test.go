package config

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// pyv is a config file global as the loader reports it: kind and value, with a repr.
func pyv(kind string, value any) Value {
	v := Value{Kind: kind, Repr: reprOf(value)}
	if value != nil {
		v.Value, _ = json.Marshal(value)
	}
	return v
}

func reprOf(value any) string {
	if s, ok := value.(string); ok {
		return "'" + s + "'"
	}
	b, _ := json.Marshal(value)
	return string(b)
}

// fakeFile is a Loader that returns globals for any path, and records what it was asked.
type fakeFile struct {
	globals      map[string]Value
	err          error
	python, path string
}

func (f *fakeFile) load(python, path string) (map[string]Value, error) {
	f.python, f.path = python, path
	return f.globals, f.err
}

func parseFile(t *testing.T, args string, getenv func(string) string, globals map[string]Value) (*Config, error) {
	t.Helper()
	f := &fakeFile{globals: globals}
	return ParseFrom(strings.Fields(args), Sources{Getenv: getenv, Load: f.load})
}

// gunicorn's names (and the gonicorn-only ones with '_') set the settings.
func TestConfigFileMapping(t *testing.T) {
	c, err := parseFile(t, "-c gunicorn.conf.py", env(), map[string]Value{
		"bind": pyv("strlist", []string{"0.0.0.0:80", "unix:/run/a.sock"}), "workers": pyv("int", "3"),
		"threads": pyv("str", "4"), "timeout": pyv("float", 2.5), "graceful_timeout": pyv("int", "7"),
		"keepalive": pyv("int", "5"), "max_requests": pyv("int", "1000"), "max_requests_jitter": pyv("int", "50"),
		"limit_request_line": pyv("int", "4094"), "limit_request_fields": pyv("int", "50"),
		"limit_request_field_size": pyv("int", "2048"), "accesslog": pyv("str", "-"), "errorlog": pyv("str", "/tmp/e.log"),
		"loglevel": pyv("str", "debug"), "access_log_format": pyv("str", "%(h)s %(r)s"), "pidfile": pyv("str", "/tmp/g.pid"),
		"raw_env": pyv("strlist", []string{"A=1", "B=2"}), "pythonpath": pyv("str", "/srv/a, /srv/b"), "chdir": pyv("str", "/srv"),
		"wsgi_app": pyv("str", "mysite.wsgi:application"), "forwarded_allow_ips": pyv("strlist", []string{"10.0.0.1", "10.1.0.0/16"}),
		"proxy_protocol": pyv("bool", true), "proxy_allow_ips": pyv("str", "10.0.0.2"), "header_map": pyv("str", "refuse"),
		"root_path": pyv("str", "/app"), "worker_class": pyv("str", "gthread"),
		"max_worker_memory": pyv("int", "512"), "max_worker_lifetime": pyv("int", "3600"), "max_queue": pyv("int", "8"),
		"queue_timeout": pyv("float", 1.5), "max_boot_failures": pyv("int", "0"), "max_connections": pyv("int", "100"),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := Config{App: "mysite.wsgi:application", Bind: []string{"0.0.0.0:80", "unix:/run/a.sock"}, Workers: 3, Threads: 4,
		Timeout: 2500 * time.Millisecond, GracefulTimeout: 7 * time.Second, KeepAlive: 5 * time.Second, MaxRequests: 1000,
		MaxRequestsJitter: 50, LimitRequestLine: 4094, LimitRequestFields: 50, LimitRequestFieldSize: 2048,
		AccessLogFile: "-", ErrorLogFile: "/tmp/e.log", LogLevel: "debug", AccessLogFormat: "%(h)s %(r)s", PIDFile: "/tmp/g.pid",
		Env: []string{"A=1", "B=2"}, PythonPath: []string{"/srv/a", "/srv/b"}, Chdir: "/srv", ForwardedAllowIPs: "10.0.0.1,10.1.0.0/16",
		ProxyProtocol: "auto", ProxyAllowFrom: "10.0.0.2", HeaderMap: "refuse", RootPath: "/app", MaxWorkerMemory: 512,
		MaxWorkerLifetime: time.Hour, MaxQueue: 8, QueueTimeout: 1500 * time.Millisecond, MaxBootFailures: 0, MaxConnections: 100}
	got := reflect.ValueOf(*c)
	w := reflect.ValueOf(want)
	for i := 0; i < w.NumField(); i++ {
		name := w.Type().Field(i).Name
		if w.Field(i).IsZero() && name != "MaxBootFailures" {
			continue // not set by this file
		}
		if !reflect.DeepEqual(got.Field(i).Interface(), w.Field(i).Interface()) {
			t.Errorf("%s = %v; want %v", name, got.Field(i).Interface(), w.Field(i).Interface())
		}
	}
	if len(c.Warnings) != 0 {
		t.Errorf("Warnings = %q; want none", c.Warnings)
	}
}

// defaults < config file < GONICORN_CMD_ARGS < command line; a list given in a later layer
// replaces the earlier one; APP_MODULE wins over wsgi_app.
func TestConfigFilePrecedence(t *testing.T) {
	globals := map[string]Value{
		"workers": pyv("int", "2"), "threads": pyv("int", "2"), "timeout": pyv("int", "10"), "max_requests": pyv("int", "9"),
		"bind": pyv("strlist", []string{"127.0.0.1:1", "127.0.0.1:2"}), "raw_env": pyv("strlist", []string{"K=file"}),
		"pythonpath": pyv("str", "filedir"), "wsgi_app": pyv("str", "fileapp"),
	}
	c, err := parseFile(t, "--threads 5 -e K=cmd -e L=cmd --max-requests 11 cmdapp",
		env("GONICORN_CMD_ARGS", "-c gunicorn.conf.py -w 3 -b 127.0.0.1:3 --threads 4 -e K=env"), globals)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"workers (GONICORN_CMD_ARGS over the file)", c.Workers, 3},
		{"threads (command line over both)", c.Threads, 5},
		{"timeout (the file over the default)", c.Timeout, 10 * time.Second},
		{"max-requests (command line over the file)", c.MaxRequests, 11},
		{"bind (replaced, not appended)", c.Bind, []string{"127.0.0.1:3"}},
		{"env (replaced twice)", c.Env, []string{"K=cmd", "L=cmd"}},
		{"pythonpath (from the file)", c.PythonPath, []string{"filedir"}},
		{"app (APP_MODULE over wsgi_app)", c.App, "cmdapp"},
	} {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s = %v; want %v", tc.name, tc.got, tc.want)
		}
	}
	// Without APP_MODULE, wsgi_app is the app.
	c, err = parseFile(t, "-c f.py", env(), globals)
	if err != nil || c.App != "fileapp" {
		t.Errorf("app without APP_MODULE = %v, %v; want fileapp from wsgi_app", c, err)
	}
	// Between GONICORN_CMD_ARGS and the command line too, a list is replaced.
	c, err = parseFile(t, "-b 127.0.0.1:9 app", env("GONICORN_CMD_ARGS", "-b 127.0.0.1:7 -b 127.0.0.1:8"), nil)
	if err != nil || !reflect.DeepEqual(c.Bind, []string{"127.0.0.1:9"}) {
		t.Errorf("bind = %v, %v; want the command line's alone", c.Bind, err)
	}
}

// The file is evaluated by --python as given, else the default interpreter.
func TestConfigFileInterpreter(t *testing.T) {
	for _, tc := range []struct {
		args, cmdArgs, venv, want string
	}{
		{"-c f.py app", "", "", "python3"},
		{"-c f.py app", "", "/venv", "/venv/bin/python"},
		{"-c f.py --python /opt/py app", "--python /env/py", "/venv", "/opt/py"},
		{"app", "--config f.py --python /env/py", "", "/env/py"},
	} {
		f := &fakeFile{}
		_, err := ParseFrom(strings.Fields(tc.args), Sources{Getenv: env("GONICORN_CMD_ARGS", tc.cmdArgs, "VIRTUAL_ENV", tc.venv), Load: f.load})
		if err != nil || f.python != tc.want || f.path != "f.py" {
			t.Errorf("args %q, GONICORN_CMD_ARGS %q: loader got (%q, %q), %v; want (%q, \"f.py\")", tc.args, tc.cmdArgs, f.python, f.path, err, tc.want)
		}
	}
}

// The gunicorn settings harmless to ignore are warnings; hooks are run (Config.Hooks, a
// hook set to None is not one); a refused setting with a
// value that asks for nothing (daemon = False) is accepted; other globals are ignored; None
// leaves a default.
func TestConfigFileWarnings(t *testing.T) {
	c, err := parseFile(t, "-c conf.py app", env(), map[string]Value{
		"post_fork": pyv("callable", "post_fork"), "on_starting": pyv("callable", "on_starting"),
		"daemon": pyv("bool", false), "preload_app": pyv("bool", true), "secure_scheme_headers": pyv("other", nil),
		"worker_tmp_dir": pyv("str", "/dev/shm"), "user": pyv("none", nil), "reload": pyv("bool", false),
		"suppress_ragged_eofs": pyv("bool", true), "protocol": pyv("str", "http"), "dirty_apps": pyv("strlist", []string{}),
		"multiprocessing": pyv("other", nil), "cpu_count": pyv("callable", "cpu_count"), "my_helper": pyv("int", "3"),
		"when_ready": pyv("none", nil), "accesslog": pyv("none", nil), "worker_class": pyv("str", "sync"),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"secure_scheme_headers", "worker_tmp_dir"}
	if !c.Preload {
		t.Errorf("preload_app = True: Preload false")
	}
	if len(c.Warnings) != len(want) {
		t.Fatalf("Warnings = %q; want one each for %q", c.Warnings, want)
	}
	for i, name := range want {
		if w := c.Warnings[i]; !strings.Contains(w, "conf.py") || !strings.Contains(w, name+":") || !strings.Contains(w, "ignored") {
			t.Errorf("warning %d = %q; want it to name conf.py and %s and say it is ignored", i, w, name)
		}
	}
	if want := []string{"on_starting", "post_fork"}; !slices.Equal(c.Hooks, want) {
		t.Errorf("Hooks = %q; want %q", c.Hooks, want)
	}
	if c.AccessLogFile != "" {
		t.Errorf("accesslog = None: AccessLogFile = %q; want the default (off)", c.AccessLogFile)
	}
}

// A hook must take gunicorn's arguments, as gunicorn's validate_callable checks at start;
// post_request may take its first 2 or 3 (validate_post_request).
func TestConfigFileHookArity(t *testing.T) {
	hook := func(arity int) Value { v := pyv("callable", "f"); v.Arity = &arity; return v }
	for _, tc := range []struct {
		name  string
		arity int
		ok    bool
	}{
		{"post_fork", 2, true}, {"post_fork", 1, false}, {"on_starting", 1, true}, {"on_starting", 2, false},
		{"nworkers_changed", 3, true}, {"post_request", 4, true}, {"post_request", 3, true},
		{"post_request", 2, true}, {"post_request", 1, false}, {"pre_request", -1, true}, // -1: unknown
	} {
		c, err := parseFile(t, "-c conf.py app", env(), map[string]Value{tc.name: hook(tc.arity)})
		switch {
		case tc.ok && (err != nil || !slices.Equal(c.Hooks, []string{tc.name})):
			t.Errorf("%s with %d arguments: %v; want it taken", tc.name, tc.arity, err)
		case !tc.ok && (err == nil || !strings.Contains(err.Error(), "conf.py: "+tc.name+" = ") || !strings.Contains(err.Error(), "gunicorn calls "+tc.name+"(")):
			t.Errorf("%s with %d arguments: %v; want an error naming the file, the hook and its arguments", tc.name, tc.arity, err)
		}
	}
}

// gunicorn imports a hook given by its import path; gonicorn asks for the function.
func TestConfigFileHookPath(t *testing.T) {
	_, err := parseFile(t, "-c conf.py app", env(), map[string]Value{"post_fork": pyv("str", "myapp.hooks.reset")})
	if err == nil || !strings.Contains(err.Error(), "conf.py: post_fork = 'myapp.hooks.reset': give the function, not its import path: from myapp.hooks import reset as post_fork") {
		t.Errorf("post_fork = 'myapp.hooks.reset': %v; want an error saying how to import it", err)
	}
}

// ./gunicorn.conf.py is read without -c, as gunicorn reads it, with a notice saying so; -c
// names another file instead.
func TestDefaultConfigFileRead(t *testing.T) {
	f := &fakeFile{globals: map[string]Value{"workers": pyv("int", "3")}}
	exists := func(p string) bool { return p == DefaultConfigFile }
	c, err := ParseFrom([]string{"app"}, Sources{Getenv: env(), Load: f.load, Exists: exists})
	if err != nil {
		t.Fatal(err)
	}
	if f.path != DefaultConfigFile || c.Workers != 3 || c.ConfigFile != DefaultConfigFile || len(c.Notices) != 1 ||
		!strings.Contains(c.Notices[0], "./gunicorn.conf.py") || len(c.Warnings) != 0 {
		t.Errorf("without -c: loaded %q, workers %d, ConfigFile %q, Notices %q, Warnings %q; want ./gunicorn.conf.py read with a notice",
			f.path, c.Workers, c.ConfigFile, c.Notices, c.Warnings)
	}
	c, err = ParseFrom([]string{"-c", "other.conf.py", "app"}, Sources{Getenv: env(), Load: f.load, Exists: exists})
	if err != nil || f.path != "other.conf.py" || len(c.Notices) != 0 {
		t.Errorf("with -c: loaded %q, Notices %q, %v; want other.conf.py loaded, no notice", f.path, c.Notices, err)
	}
	f.path = ""
	if _, err = ParseFrom([]string{"app"}, Sources{Getenv: env(), Load: f.load, Exists: func(string) bool { return false }}); err != nil || f.path != "" {
		t.Errorf("no ./gunicorn.conf.py: loaded %q, %v; want nothing loaded", f.path, err)
	}
}

// A wrong type or an invalid value is an error naming the file, the setting and the value.
func TestConfigFileErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		value Value
		want  []string
	}{
		{"workers", pyv("str", "four"), []string{"workers", "'four'", "integer"}},
		{"workers", pyv("int", "0"), []string{"workers", "0", "at least 1"}},
		{"workers", pyv("bool", true), []string{"workers", "true", "want an integer"}},
		{"timeout", pyv("str", "soon"), []string{"timeout", "'soon'"}},
		{"timeout", pyv("strlist", []string{"1"}), []string{"timeout", "number of seconds"}},
		{"bind", pyv("int", "8000"), []string{"bind", "8000", "string"}},
		{"bind", pyv("str", "host:99999"), []string{"bind", "host:99999"}},
		{"raw_env", pyv("strlist", []string{"NOEQUALS"}), []string{"raw_env", "NOEQUALS", "KEY=VALUE"}},
		{"loglevel", pyv("str", "loud"), []string{"loglevel", "loud"}},
		{"header_map", pyv("int", "3"), []string{"header_map", "3", "string"}},
		{"proxy_protocol", pyv("str", "yes"), []string{"proxy_protocol", "yes"}},
		{"forwarded_allow_ips", pyv("str", "proxy"), []string{"forwarded_allow_ips", "proxy"}},
		{"worker_class", pyv("str", "gevent"), []string{"worker_class", "gevent"}},
		{"worker_class", pyv("callable", "MyWorker"), []string{"worker_class"}},
		{"wsgi_app", pyv("str", ":app"), []string{"wsgi_app", ":app"}},
		{"secure_scheme_headers", pyv("other", nil), nil}, // ignored with a warning, no error
	} {
		_, err := parseFile(t, "-c /etc/gonicorn.conf.py app", env(), map[string]Value{tc.name: tc.value})
		if tc.want == nil {
			if err != nil {
				t.Errorf("%s = %s: %v; want no error", tc.name, tc.value.Repr, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s = %s: no error; want one mentioning %q", tc.name, tc.value.Repr, tc.want)
			continue
		}
		for _, sub := range append(tc.want, "/etc/gonicorn.conf.py") {
			if !strings.Contains(err.Error(), sub) {
				t.Errorf("%s = %s: error %q; want it to mention %q", tc.name, tc.value.Repr, err, sub)
			}
		}
	}
	// A file that cannot be evaluated: the loader's message, with the file's name.
	f := &fakeFile{err: errors.New("Traceback (most recent call last):\n  File \"/x/conf.py\", line 1\nNameError: name 'y' is not defined")}
	_, err := ParseFrom([]string{"-c", "/x/conf.py", "app"}, Sources{Getenv: env(), Load: f.load})
	var fe *FileError
	if !errors.As(err, &fe) || fe.Path != "/x/conf.py" || !strings.Contains(err.Error(), "NameError") {
		t.Errorf("failing file: %v; want a FileError for /x/conf.py with the traceback", err)
	}
	if _, err := ParseFrom([]string{"-c", "python:mod", "app"}, Sources{Getenv: env(), Load: f.load}); err == nil || !strings.Contains(err.Error(), "python:mod") {
		t.Errorf("-c python:mod: %v; want an error naming it", err)
	}
}

// The real loader: python3 evaluates a file with __file__ set and its directory on sys.path.
func TestLoadFilePython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not on PATH")
	}
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("confhelper.py", "REQUESTS = 250\n")
	conf := write("gunicorn.conf.py", `import os
import multiprocessing
from confhelper import REQUESTS  # the file's directory is on sys.path
chdir = os.path.dirname(__file__)
workers = 2
timeout = 2.5
bind = ("127.0.0.1:8001", "127.0.0.1:8002")
max_requests = REQUESTS
accesslog = None
preload_app = True
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}
print("printed by the file")  # must not spoil the loader's output

def post_fork(server, worker):
    pass
`)
	globals, err := LoadFile(py, conf)
	if err != nil {
		t.Fatal(err)
	}
	for name, kind := range map[string]string{"chdir": "str", "workers": "int", "timeout": "float", "bind": "strlist",
		"max_requests": "int", "accesslog": "none", "preload_app": "bool", "secure_scheme_headers": "other",
		"post_fork": "callable", "os": "other", "REQUESTS": "int"} {
		if globals[name].Kind != kind {
			t.Errorf("%s: kind %q; want %q", name, globals[name].Kind, kind)
		}
	}
	if a := globals["post_fork"].Arity; a == nil || *a != 2 {
		t.Errorf("post_fork: arity %v; want 2", a)
	}
	c, err := ParseFrom([]string{"-c", conf, "--python", py, "app"}, Sources{Getenv: env(), Load: LoadFile})
	if err != nil {
		t.Fatal(err)
	}
	if c.Chdir != dir || c.Workers != 2 || c.Timeout != 2500*time.Millisecond || c.MaxRequests != 250 ||
		!slices.Equal(c.Bind, []string{"127.0.0.1:8001", "127.0.0.1:8002"}) || len(c.Warnings) != 1 || !c.Preload || !slices.Equal(c.Hooks, []string{"post_fork"}) {
		t.Errorf("from %s: chdir %q workers %d timeout %v max-requests %d bind %q warnings %q hooks %q", conf, c.Chdir, c.Workers, c.Timeout, c.MaxRequests, c.Bind, c.Warnings, c.Hooks)
	}

	for _, tc := range []struct{ src, want string }{
		{"workers = (\n", "SyntaxError"},
		{"import os\nworkers = int(os.environ['NO_SUCH_VARIABLE_HERE'])\n", "KeyError"},
	} {
		bad := write("bad.conf.py", tc.src)
		_, err := ParseFrom([]string{"-c", bad, "--python", py, "app"}, Sources{Getenv: env(), Load: LoadFile})
		if err == nil || !strings.Contains(err.Error(), "config file "+bad) || !strings.Contains(err.Error(), tc.want) ||
			!strings.Contains(err.Error(), `File "`+bad+`", line`) {
			t.Errorf("%q: error %v; want one naming %s with the traceback (%s)", tc.src, err, bad, tc.want)
		}
	}
	if _, err := LoadFile(py, filepath.Join(dir, "missing.py")); err == nil || !strings.Contains(err.Error(), "missing.py") {
		t.Errorf("missing file: %v; want an error naming it", err)
	}
}
