package python

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPythonUnittest runs the worker's own unit tests (test_gonicorn_worker.py,
// test_gonicorn_django.py) with the python3 on PATH, so that go test covers the
// Python side too.
func TestPythonUnittest(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found")
	}
	cmd := exec.Command(py, "-m", "unittest", "-v", "test_gonicorn_worker", "test_gonicorn_django")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s -m unittest test_gonicorn_worker test_gonicorn_django: %v\n%s", py, err, out)
	}
	if testing.Verbose() {
		t.Logf("%s", out)
	}
}

func TestSourceEmbedded(t *testing.T) {
	if !strings.Contains(Source, "def handle_request(") {
		t.Fatal("Source does not hold gonicorn_worker.py")
	}
	if !strings.Contains(DjangoSource, "def load_application(") {
		t.Fatal("DjangoSource does not hold gonicorn_django.py")
	}
	if args := Args(); len(args) != 3 || args[0] != "-c" || args[1] != Source || args[2] != DjangoSource {
		t.Fatal("Args() is not -c Source DjangoSource")
	}
}
