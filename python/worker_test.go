package python

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPythonUnittest runs the worker's own unit tests (test_gonicorn_worker.py,
// test_gonicorn_django.py, test_gonicorn_dev.py, test_gonicorn_hooks.py) with the python3 on PATH, so that go test covers the
// Python side too.
func TestPythonUnittest(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found")
	}
	cmd := exec.Command(py, "-m", "unittest", "-v", "test_gonicorn_worker", "test_gonicorn_django", "test_gonicorn_dev", "test_gonicorn_hooks")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s -m unittest test_gonicorn_worker test_gonicorn_django test_gonicorn_hooks: %v\n%s", py, err, out)
	}
	if testing.Verbose() {
		t.Logf("%s", out)
	}
}

func TestSourcesEmbedded(t *testing.T) {
	want := map[string]string{
		"gonicorn_wire":     "class Link:",
		"gonicorn_response": "def handle_request(",
		"gonicorn_django":   "def load_application(",
		"gonicorn_dev":      "class Reporter:",
		"gonicorn_hooks":    "def load(",
		"gonicorn_worker":   "def main(",
	}
	mods := Modules()
	if len(mods) != len(want) || mods[len(mods)-1].Name != "gonicorn_worker" {
		t.Fatalf("Modules() = %d modules, want %d ending with gonicorn_worker", len(mods), len(want))
	}
	args := Args()
	if len(args) != 2+2*len(mods) || args[0] != "-c" || !strings.Contains(args[1], "def _boot(") {
		t.Fatalf("Args() does not start with -c and the bootstrap: %.40q", args)
	}
	for i, m := range mods {
		if !strings.Contains(m.Source, want[m.Name]) {
			t.Errorf("module %s: source does not hold %q", m.Name, want[m.Name])
		}
		if args[2+2*i] != m.Name || args[3+2*i] != m.Source {
			t.Errorf("Args()[%d:%d] is not module %s's name and source", 2+2*i, 4+2*i, m.Name)
		}
		if len(m.Source) > 128<<10 {
			t.Errorf("module %s: %d bytes, more than Linux allows in one argument (128 KiB)", m.Name, len(m.Source))
		}
	}
}

// The preloader's arguments are the worker's, then gonicorn_preload, whose main() the
// bootstrap runs (it is last).
func TestPreloadArgs(t *testing.T) {
	args, pre := Args(), PreloadArgs()
	if len(pre) != len(args)+2 || pre[len(args)] != "gonicorn_preload" || !strings.Contains(pre[len(args)+1], "def main(") {
		t.Fatalf("PreloadArgs() does not end with the gonicorn_preload module")
	}
	for i := range args {
		if pre[i] != args[i] {
			t.Fatalf("PreloadArgs()[%d] differs from Args()", i)
		}
	}
}
