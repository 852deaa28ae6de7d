package hooks

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"

	"github.com/gonicorn/gonicorn/internal/config"
)

// workerSide are gunicorn's hooks that run in the worker processes (python/gonicorn_hooks.py);
// the others run in the master's hook process (Process).
var workerSide = []string{"post_fork", "post_worker_init", "pre_request", "post_request",
	"worker_int", "worker_abort", "worker_exit"}

// WorkerSide returns the hooks among names that the workers run, in names' order.
func WorkerSide(names []string) []string {
	var out []string
	for _, n := range names {
		if slices.Contains(workerSide, n) {
			out = append(out, n)
		}
	}
	return out
}

// MasterSide returns the hooks among names that the master's hook process runs.
func MasterSide(names []string) []string {
	var out []string
	for _, n := range names {
		if !slices.Contains(workerSide, n) {
			out = append(out, n)
		}
	}
	return out
}

// Settings returns every effective setting of cfg by its gunicorn name, as a JSON object:
// the hooks' cfg (worker.cfg.workers, server.cfg.bind). Numbers are numbers (a duration in
// seconds, an int when whole), on/off settings booleans, lists lists, the rest strings.
func Settings(cfg *config.Config) string {
	m := make(map[string]any, len(cfg.Effective))
	for _, e := range cfg.Effective {
		m[e.Name] = typed(e)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "{}" // strings, numbers and lists always marshal
	}
	return string(b)
}

func typed(e config.Effective) any {
	switch e.Type {
	case "int":
		if n, err := strconv.ParseInt(e.Value, 10, 64); err == nil {
			return n
		}
	case "seconds":
		if f, err := strconv.ParseFloat(e.Value, 64); err == nil {
			if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
				return int64(f)
			}
			return f
		}
	case "bool":
		if b, err := strconv.ParseBool(e.Value); err == nil {
			return b
		}
	case "list":
		if e.List == nil {
			return []string{}
		}
		return e.List
	}
	return e.Value
}
