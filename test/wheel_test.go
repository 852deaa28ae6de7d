package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestWheelInVirtualenv is `pip install gonicorn` as a Python user does it: tools/wheel builds
// the wheel for this machine from this checkout, pip installs the file (--no-index: no
// network) into a fresh virtualenv of Debian's Python (--system-site-packages, so Debian's
// Flask is importable), and `gonicorn app:app` — the venv's bin/gonicorn, with no --python,
// no activated virtualenv, whatever python3 comes first on PATH — serves a Flask app
// whose workers run under the venv's interpreter. python -m gonicorn runs the same binary.
func TestWheelInVirtualenv(t *testing.T) {
	py := debianPython(t, "flask")
	requireVenv(t, py)
	dir := t.TempDir()

	whl := buildWheel(t, filepath.Join(dir, "dist"))
	checkRecord(t, py, whl)

	venv := filepath.Join(dir, "venv")
	runOK(t, py, "-m", "venv", "--system-site-packages", venv)
	runOK(t, filepath.Join(venv, "bin", "python"), "-m", "pip", "install", "--no-index", "--no-deps",
		"--disable-pip-version-check", "--no-cache-dir", whl)

	want := runOK(t, binary, "--version")
	for _, cmd := range [][]string{
		{filepath.Join(venv, "bin", "gonicorn"), "--version"},
		{filepath.Join(venv, "bin", "python"), "-m", "gonicorn", "--version"},
	} {
		if got := runOK(t, cmd[0], cmd[1:]...); got != want {
			t.Errorf("%s = %q; want %q, as the binary built from this checkout", strings.Join(cmd, " "), got, want)
		}
	}

	// pip install --target DIR puts the package in DIR and the binary in DIR/bin, where
	// python -m gonicorn finds it too.
	target := filepath.Join(dir, "target")
	runOK(t, filepath.Join(venv, "bin", "python"), "-m", "pip", "install", "--no-index", "--no-deps",
		"--disable-pip-version-check", "--no-cache-dir", "--target", target, whl)
	if got := runOK(t, filepath.Join(venv, "bin", "python"), "-c",
		"import sys; sys.path.insert(0, sys.argv[1]); import gonicorn; print(gonicorn.find_gonicorn_bin())", target); got != filepath.Join(target, "bin", "gonicorn")+"\n" {
		t.Errorf("after pip install --target, find_gonicorn_bin() = %q; want %s/bin/gonicorn", got, target)
	}

	app := filepath.Join(dir, "app")
	if err := os.Mkdir(app, 0o755); err != nil {
		t.Fatal(err)
	}
	src := "import sys\nfrom flask import Flask\n\napp = Flask(__name__)\n\n\n" +
		"@app.route('/')\ndef index():\n    return {'prefix': sys.prefix, 'executable': sys.executable}\n"
	if err := os.WriteFile(filepath.Join(app, "app.py"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	// The command line is `gonicorn app:app` alone; the test's listener comes in by
	// GONICORN_CMD_ARGS.
	s := startInstalled(t, filepath.Join(venv, "bin", "gonicorn"), app, []string{"GONICORN_CMD_ARGS=--bind fd://3"}, "app:app")
	r := s.get("/")
	var got struct{ Prefix, Executable string }
	if err := json.Unmarshal(r.body, &got); r.status != 200 || err != nil {
		t.Fatalf("GET / = %d %q (%v); want 200 and JSON", r.status, r.body, err)
	}
	if got.Prefix != venv || got.Executable != filepath.Join(venv, "bin", "python") {
		t.Errorf("the app runs under sys.prefix %q, sys.executable %q; want the virtualenv's: %q, %q",
			got.Prefix, got.Executable, venv, filepath.Join(venv, "bin", "python"))
	}
}

// requireVenv fails (in CI) or skips the test unless py can create virtualenvs with pip
// (Debian: python3-venv).
func requireVenv(t *testing.T, py string) {
	t.Helper()
	if exec.Command(py, "-c", "import venv, ensurepip").Run() == nil {
		return
	}
	missing(t, "%s cannot create a virtualenv with pip (apt-get install python3-venv)", py)
}

// buildWheel runs tools/wheel for this machine's CPU into out and returns the wheel's path.
func buildWheel(t *testing.T, out string) string {
	t.Helper()
	printed := runOK(t, "go", "run", "../tools/wheel", "-arch", runtime.GOARCH, "-o", out)
	whl := strings.TrimSpace(printed)
	if filepath.Dir(whl) != out || !strings.HasSuffix(whl, ".whl") {
		t.Fatalf("tools/wheel printed %q; want the path of one wheel in %s", printed, out)
	}
	return whl
}

// checkRecord checks the wheel with Python's own zipfile, csv, hashlib and base64, apart
// from the Go that wrote it: RECORD lists every member with its urlsafe-base64 sha256 and
// size, and the binary's zip entry is executable.
func checkRecord(t *testing.T, py, whl string) {
	t.Helper()
	const check = `
import base64, csv, hashlib, io, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
names = z.namelist()
record = [n for n in names if n.endswith(".dist-info/RECORD")]
assert len(record) == 1, names
rows = list(csv.reader(io.TextIOWrapper(z.open(record[0]), "utf-8")))
assert sorted(r[0] for r in rows) == sorted(names), (rows, names)
for path, digest, size in rows:
    if path == record[0]:
        assert digest == size == "", (path, digest, size)
        continue
    data = z.read(path)
    want = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    assert digest == want and int(size) == len(data), (path, digest, size)
script = [n for n in names if n.endswith(".data/scripts/gonicorn")]
assert len(script) == 1 and z.getinfo(script[0]).external_attr >> 16 & 0o111, script
print("ok")
`
	if out := runOK(t, py, "-c", check, whl); out != "ok\n" {
		t.Errorf("checking %s with Python: %q", whl, out)
	}
}

// runOK runs a command with the environment of a user with no virtualenv activated and
// returns its standard output; any failure ends the test.
func runOK(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = userEnv()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out.String(), errOut.String())
	}
	return out.String()
}

// userEnv is the test's environment without the variables that would choose an interpreter
// or settings for gonicorn behind the test's back.
func userEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "VIRTUAL_ENV", "PYTHONHOME", "PYTHONPATH", "GONICORN_CMD_ARGS":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// startInstalled runs the gonicorn binary bin in dir with args, the user's environment plus
// env, and a fresh loopback listener as fd 3, and waits until its workers are ready.
func startInstalled(t *testing.T, bin, dir string, env []string, args ...string) *server {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(userEnv(), env...)
	s := launch(t, cmd)
	s.waitReady()
	return s
}
