package hooks

import (
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gonicorn/gonicorn/internal/config"
	"github.com/gonicorn/gonicorn/internal/errorlog"
)

func TestSides(t *testing.T) {
	names := []string{"child_exit", "on_starting", "post_fork", "pre_request", "when_ready", "worker_exit"}
	if got, want := WorkerSide(names), []string{"post_fork", "pre_request", "worker_exit"}; !slices.Equal(got, want) {
		t.Errorf("WorkerSide(%q) = %q; want %q", names, got, want)
	}
	if got, want := MasterSide(names), []string{"child_exit", "on_starting", "when_ready"}; !slices.Equal(got, want) {
		t.Errorf("MasterSide(%q) = %q; want %q", names, got, want)
	}
}

// The hooks' cfg has gunicorn's types: numbers, booleans, lists.
func TestSettingsTyped(t *testing.T) {
	c, err := config.Parse([]string{"-w", "3", "-t", "2.5", "--graceful-timeout", "10", "-b", "127.0.0.1:1", "-b", "127.0.0.1:2", "--reuse-port", "app"}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(Settings(c)), &m); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]any{"workers": 3.0, "timeout": 2.5, "graceful_timeout": 10.0,
		"bind": []any{"127.0.0.1:1", "127.0.0.1:2"}, "reuse_port": true, "wsgi_app": "app"} {
		if got := m[name]; !equalJSON(got, want) {
			t.Errorf("cfg.%s = %#v; want %#v", name, got, want)
		}
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// The hook process runs a hook with its arguments, answers an exception as a *HookError,
// and ignores a hook the file does not define.
func TestProcess(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	conf := filepath.Join(dir, "gunicorn.conf.py")
	src := "OUT = " + quote(out) + `
def nworkers_changed(server, new_value, old_value):
    with open(OUT, "a") as f:
        f.write("%s %s %s %s\n" % (new_value, old_value, server.num_workers, server.cfg.workers))
def pre_fork(server, worker):
    raise ValueError("age %s pid %s" % (worker.age, worker.pid))
`
	if err := os.WriteFile(conf, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Start(Options{Python: py, ConfigFile: conf, Names: []string{"nworkers_changed", "pre_fork"},
		Settings: `{"workers": 4}`, Out: errorlog.NewHandler(errorlog.NewSink(os.Stderr), slog.LevelInfo)})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Call("nworkers_changed", State{NumWorkers: 5}, nil, 5, nil); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); string(b) != "5 None 5 4\n" {
		t.Errorf("nworkers_changed wrote %q; want \"5 None 5 4\\n\"", b)
	}
	var he *HookError
	if err := p.Call("pre_fork", State{}, &Worker{Age: 7}, nil); !errors.As(err, &he) || !strings.Contains(he.Traceback, "ValueError: age 7 pid [booting]") {
		t.Errorf("pre_fork = %v; want a *HookError with the ValueError", err)
	}
	if err := p.Call("on_exit", State{}, nil); err != nil {
		t.Errorf("on_exit, not defined: %v; want nil", err)
	}
	p.Close()
	if err := p.Call("nworkers_changed", State{}, nil, 1, 2); err == nil {
		t.Error("a call after Close succeeded")
	}
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }
