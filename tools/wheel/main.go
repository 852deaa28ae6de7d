// Command wheel builds gonicorn's wheels for `pip install gonicorn`: for each CPU it
// cross-compiles the static binary (CGO_ENABLED=0 GOOS=linux GOARCH=...) from this checkout
// and packs it with internal/wheel. It needs only the Go toolchain, no network and no Python
// packaging tools:
//
//	go run ./tools/wheel                  # dist/gonicorn-VERSION-py3-none-...x86_64.whl and ...aarch64.whl
//	go run ./tools/wheel -arch amd64 -o /tmp/wheels
//
// It is written in Go rather than Python so that the version is config.Version itself (the one
// --version prints; it cannot drift from the binary), the build and the packing are one
// program with one toolchain, and the wheel's format is checked by Go unit tests
// (internal/wheel) that run under go test ./... like everything else.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/gonicorn/gonicorn/internal/config"
	"github.com/gonicorn/gonicorn/internal/wheel"
)

func main() {
	arches := flag.String("arch", "amd64,arm64", "comma-separated GOARCH values to build wheels for (amd64, arm64)")
	out := flag.String("o", "dist", "directory the wheels are written to")
	flag.Parse()
	if flag.NArg() != 0 {
		fmt.Fprintf(os.Stderr, "wheel: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	if err := run(strings.Split(*arches, ","), *out); err != nil {
		fmt.Fprintf(os.Stderr, "wheel: %v\n", err)
		os.Exit(1)
	}
}

// run builds one wheel per GOARCH into the directory out and prints each wheel's path.
func run(arches []string, out string) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		return fmt.Errorf("reading the long description: %w", err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "gonicorn-wheel-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for _, arch := range arches {
		name, err := wheel.Filename(config.Version, arch) // the arch is checked before building
		if err != nil {
			return err
		}
		bin, err := build(root, arch, filepath.Join(tmp, "gonicorn-"+arch))
		if err != nil {
			return err
		}
		path := filepath.Join(out, name)
		spec := wheel.Spec{Version: config.Version, Arch: arch, Binary: bin, Readme: string(readme)}
		if err := writeWheel(path, spec); err != nil {
			return err
		}
		fmt.Println(path)
	}
	return nil
}

// moduleRoot returns the directory of gonicorn's go.mod, where the build runs.
func moduleRoot() (string, error) {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	path := strings.TrimSpace(string(gomod))
	if path == "" || path == os.DevNull {
		return "", errors.New("not inside the gonicorn module; run from the checkout: go run ./tools/wheel")
	}
	return filepath.Dir(path), nil
}

// build compiles ./cmd/gonicorn for linux/arch as a static binary at path and returns it.
// -trimpath keeps the build machine's paths out of it; -s -w drop the symbol table and DWARF
// (a third of the size; panics still print their stack traces).
func build(root, arch, path string) ([]byte, error) {
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", path, "./cmd/gonicorn")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("building gonicorn for linux/%s: %w", arch, err)
	}
	return os.ReadFile(path)
}

// writeWheel writes the wheel of spec to path through a temporary file in the same
// directory, so path is either the old file or the complete new wheel.
func writeWheel(path string, spec wheel.Spec) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".wheel-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after a successful rename, there is nothing to remove
	if err := wheel.Write(f, spec); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return os.Rename(f.Name(), path)
}
