// Command gonicorn is a production WSGI (PEP 3333) server: a Go master that speaks HTTP/1.1
// and supervises Python worker processes. It takes gunicorn's flags, signals and log format:
//
//	gonicorn -w 4 --threads 8 -b 0.0.0.0:8000 mysite.wsgi:application
//
// main parses the configuration and calls run; it is the only place that calls os.Exit.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/gonicorn/gonicorn/internal/arbiter"
	"github.com/gonicorn/gonicorn/internal/config"
)

// Exit statuses, as gunicorn's: 1 for a configuration or start-up error, 3 when the
// application cannot be loaded or workers keep dying right after boot (WORKER_BOOT_ERROR).
const (
	exitConfig  = 1
	exitAppLoad = 3
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "ctl" { // gonicorn ctl: a client of the control socket
		os.Exit(ctlMain(os.Args[2:], os.Stdout, os.Stderr))
	}
	if len(os.Args) > 1 && os.Args[1] == "top" { // gonicorn top: the control socket's live view
		os.Exit(topMain(os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
	}
	// setProcTitle overwrites the memory os.Args point into; the configuration (and a
	// reload, and a binary upgrade) read copies.
	os.Args = cloneArgs(os.Args)
	cfg, err := config.Parse(os.Args[1:], os.Getenv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gonicorn: error: %v\n", err)
		var fe *config.FileError    // a config file that failed: its traceback needs no usage hint
		var se *config.SettingError // a gunicorn setting refused: its one line says what to do
		if !errors.As(err, &fe) && !errors.As(err, &se) {
			fmt.Fprintln(os.Stderr, "Run 'gonicorn --help' for usage.")
		}
		os.Exit(exitConfig)
	}
	switch {
	case cfg.ShowHelp:
		fmt.Print(config.Usage(os.Getenv))
		return
	case cfg.ShowVersion:
		fmt.Println("gonicorn (version " + config.Version + ")")
		return
	case cfg.CheckConfig || cfg.PrintConfig:
		os.Exit(checkConfig(cfg))
	}
	if detaches(cfg) {
		os.Exit(daemonize(cfg))
	}
	stderr := detached() // the starting process's pipe, in the detached master of -D
	if err := run(context.Background(), cfg); err != nil {
		var le *arbiter.LoadError
		var be *arbiter.BootLoopError
		if errors.As(err, &le) {
			// run wrote the traceback to the error log.
			fmt.Fprintf(stderr, "gonicorn: Worker failed to boot: could not load application %q (see the traceback in the error log)\n", le.App)
			os.Exit(exitAppLoad)
		}
		if errors.As(err, &be) {
			fmt.Fprintf(stderr, "gonicorn: %v\n", err)
			os.Exit(exitAppLoad)
		}
		fmt.Fprintf(stderr, "gonicorn: error: %v\n", err)
		os.Exit(exitConfig)
	}
}
