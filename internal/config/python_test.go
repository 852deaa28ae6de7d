package config

import (
	"os"
	"path/filepath"
	"testing"
)

// TestDefaultPython walks the documented order: $VIRTUAL_ENV, then python and python3 beside
// the gonicorn executable (as in a virtualenv's bin/), then python3 on PATH.
func TestDefaultPython(t *testing.T) {
	bin := t.TempDir()
	exe := filepath.Join(bin, "gonicorn")
	write := func(name string, mode os.FileMode) string {
		t.Helper()
		p := filepath.Join(bin, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("gonicorn", 0o755)
	check := func(what string, getenv func(string) string, exe, want string) {
		t.Helper()
		if got := defaultPython(getenv, exe); got != want {
			t.Errorf("%s: defaultPython = %q; want %q", what, got, want)
		}
	}

	check("nothing beside the binary", env(), exe, "python3")
	check("executable path unknown", env(), "", "python3")

	// A file that is not executable, and a directory, are not interpreters.
	write("python", 0o644)
	if err := os.Mkdir(filepath.Join(bin, "python3"), 0o755); err != nil {
		t.Fatal(err)
	}
	check("non-executable python, directory python3", env(), exe, "python3")

	// python3 alone; then python, which comes first.
	if err := os.Remove(filepath.Join(bin, "python3")); err != nil {
		t.Fatal(err)
	}
	python3 := write("python3", 0o755)
	check("python3 beside the binary", env(), exe, python3)
	if err := os.Chmod(filepath.Join(bin, "python"), 0o755); err != nil {
		t.Fatal(err)
	}
	check("python and python3 beside the binary", env(), exe, filepath.Join(bin, "python"))

	// An activated virtualenv wins over the binary's directory.
	check("VIRTUAL_ENV set", env("VIRTUAL_ENV", "/venv"), exe, "/venv/bin/python")
}

// A virtualenv's python is a symlink to the base interpreter; the symlink's own path is the
// one to run, since Python finds its virtualenv (pyvenv.cfg) from the path it was started by.
func TestDefaultPythonKeepsSymlink(t *testing.T) {
	base := filepath.Join(t.TempDir(), "python3.11")
	if err := os.WriteFile(base, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	link := filepath.Join(bin, "python")
	if err := os.Symlink(base, link); err != nil {
		t.Fatal(err)
	}
	if got := defaultPython(env(), filepath.Join(bin, "gonicorn")); got != link {
		t.Errorf("defaultPython = %q; want the symlink %q", got, link)
	}
	// A dangling symlink is no interpreter.
	if err := os.Remove(base); err != nil {
		t.Fatal(err)
	}
	if got := defaultPython(env(), filepath.Join(bin, "gonicorn")); got != "python3" {
		t.Errorf("defaultPython with a dangling symlink = %q; want python3", got)
	}
}
