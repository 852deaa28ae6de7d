package python

import (
	"os/exec"
	"testing"
)

// TestPreloadUnittest runs the preloader's own unit tests (test_gonicorn_preload.py) with
// the python3 on PATH.
func TestPreloadUnittest(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatalf("python3 not found: %v", err)
	}
	cmd := exec.Command(py, "-m", "unittest", "-v", "test_gonicorn_preload")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s -m unittest test_gonicorn_preload: %v\n%s", py, err, out)
	}
	if testing.Verbose() {
		t.Logf("%s", out)
	}
}
