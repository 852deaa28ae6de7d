package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/gonicorn/gonicorn/internal/arbiter"
	"github.com/gonicorn/gonicorn/internal/config"
	"github.com/gonicorn/gonicorn/internal/dispatch"
	"github.com/gonicorn/gonicorn/internal/errorlog"
)

// checkConfig is --check-config and --print-config, as gunicorn's: the configuration was
// read and validated already (Parse); print it when asked, then start one worker, which
// imports the app as a serving worker would (same interpreter, --chdir, --pythonpath, --env),
// and stop it. It binds no socket and serves nothing. It returns the exit status: 0 when the
// app loads, 1 with the reason on stderr when it does not (gunicorn exits 1 for both).
func checkConfig(cfg *config.Config) int {
	if cfg.PrintConfig {
		fmt.Print(config.PrintConfig(cfg))
	}
	spec := workerSpec(cfg)
	spec.Workers, spec.Threads, spec.MaxBootFailures = 1, 1, 0
	spec.DevMode = false // a --reload worker would serve a load error instead of failing
	// The worker's own log lines (booting, its traceback) are not wanted here: the error
	// returned carries the traceback.
	sink := errorlog.NewSink(io.Discard)
	handler := errorlog.NewHandler(sink, slog.LevelError)
	arb := arbiter.New(spec, dispatch.NewPool(1, 1), slog.New(handler), handler)
	if err := arb.Boot(context.Background()); err != nil {
		fmt.Fprintf(os.Stderr, "gonicorn: --check-config: %v\n", err)
		return exitConfig
	}
	arb.Stop(0)
	return 0
}
