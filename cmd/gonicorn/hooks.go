package main

import (
	"path/filepath"

	"github.com/gonicorn/gonicorn/internal/arbiter"
	"github.com/gonicorn/gonicorn/internal/config"
	"github.com/gonicorn/gonicorn/internal/hooks"
)

// workerHooks is what the workers need to run the config file's worker-side server hooks
// (docs/hooks.md); the zero value when it defines none.
func workerHooks(cfg *config.Config) arbiter.WorkerHooks {
	names := hooks.WorkerSide(cfg.Hooks)
	if len(names) == 0 {
		return arbiter.WorkerHooks{}
	}
	path, err := filepath.Abs(cfg.ConfigFile)
	if err != nil {
		path = cfg.ConfigFile
	}
	return arbiter.WorkerHooks{ConfigFile: path, Names: names, Settings: hooks.Settings(cfg)}
}
