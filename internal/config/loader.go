package config

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// loaderScript evaluates a config file and prints its globals as JSON (see its docstring).
//
//go:embed loader.py
var loaderScript string

// loadTimeout bounds a config file's evaluation: a file that hangs (a network call, say)
// fails the start or the reload instead of blocking the master.
const loadTimeout = 30 * time.Second

// Value is one global of a config file, as the loader reports it.
type Value struct {
	Kind string `json:"kind"` // str, int, float, bool, none, strlist, callable or other
	// Value is the value for str (string), int (a decimal string), float (number), bool,
	// strlist ([]string) and callable (its name); absent for none and other.
	Value json.RawMessage `json:"value"`
	Repr  string          `json:"repr"` // Python's repr(), cut to 200 characters, for messages
	Type  string          `json:"type"` // Python's type name: "dict", "module"...
	// Arity is a callable's number of positional parameters (gunicorn's util.get_arity), -1
	// if the loader could not tell; nil for other kinds.
	Arity *int `json:"arity"`
}

// Loader evaluates the config file at path with the interpreter python and returns its
// globals by name. Parse calls it; tests pass their own.
type Loader func(python, path string) (map[string]Value, error)

// LoadFile is the real Loader: it runs python with the embedded loader script. An error
// carries the Python traceback (or the interpreter's complaint) as it was printed.
func LoadFile(python, path string) (map[string]Value, error) {
	ctx, cancel := context.WithTimeout(context.Background(), loadTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "-c", loaderScript, path)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	// The loader dies with the master (PR_SET_PDEATHSIG), as the workers do: a master that
	// stops while a slow file is evaluated on HUP leaves no Python process behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err := cmd.Run()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("evaluating it with %s took longer than %v", python, loadTimeout)
	}
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return nil, fmt.Errorf("running %s: %w", python, err)
		}
		// Only line breaks are trimmed: the traceback's first line may be indented.
		if msg := strings.Trim(strings.TrimRight(stderr.String(), " \t\n"), "\n"); msg != "" {
			return nil, errors.New(msg)
		}
		return nil, fmt.Errorf("%s exited with %v", python, err)
	}
	var globals map[string]Value
	if err := json.Unmarshal(stdout.Bytes(), &globals); err != nil {
		return nil, fmt.Errorf("reading the loader's output from %s: %v", python, err)
	}
	return globals, nil
}
