// Package python holds the Python side of gonicorn: the worker that runs
// the WSGI application, started by the master with Args.
package python

import _ "embed"

// The worker's sources are embedded in the binary, rather than installed as
// a package, so that users need nothing but a Python 3.9+ interpreter and
// their application: no pip install, no version skew between the master and
// the worker, and any venv's python works.
var (
	// boot is gonicorn_boot.py, run with -c: it makes each Module a module.
	//go:embed gonicorn_boot.py
	boot string
	//go:embed gonicorn_wire.py
	wireSource string
	//go:embed gonicorn_response.py
	responseSource string
	//go:embed gonicorn_django.py
	djangoSource string
	//go:embed gonicorn_dev.py
	devSource string
	//go:embed gonicorn_hooks.py
	hooksSource string
	//go:embed gonicorn_worker.py
	workerSource string
	//go:embed gonicorn_preload.py
	preloadSource string
	//go:embed gonicorn_master.py
	masterSource string
)

// A Module is one of the worker's Python modules: its name in sys.modules
// and its source.
type Module struct {
	Name, Source string
}

// Modules are the worker's modules in the order the bootstrap installs them:
// each imports only those before it, and the last one's main() runs the
// worker. One job each (see gonicorn_worker.py), so that no file grows past
// a few hundred lines.
func Modules() []Module {
	return []Module{
		{"gonicorn_wire", wireSource},         // frames, the link, the handshake
		{"gonicorn_response", responseSource}, // one request through the app
		{"gonicorn_django", djangoSource},     // Django projects and settings
		{"gonicorn_dev", devSource},           // development mode (--reload)
		{"gonicorn_hooks", hooksSource},       // the config file's server hooks
		{"gonicorn_worker", workerSource},     // app loading, serving loop, main
	}
}

// Args are the interpreter's arguments that start a worker: the bootstrap
// run with -c, then each module's name and source (docs/protocol.md, "Worker
// process start"). One process start, nothing written to disk. The
// bootstrap takes them off sys.argv before it loads the app. Linux allows
// 128 KiB per argument and 2 MiB in all; the largest is far below.
func Args() []string {
	args := []string{"-c", boot}
	for _, m := range Modules() {
		args = append(args, m.Name, m.Source)
	}
	return args
}

// PreloadArgs are the interpreter's arguments that start the preloader of
// --preload: Args with gonicorn_preload after the worker's modules, so that
// the bootstrap runs gonicorn_preload.main(), which imports the app once and
// forks the workers from it (docs/protocol.md, "Preload").
func PreloadArgs() []string {
	return append(Args(), "gonicorn_preload", preloadSource)
}

// HookArgs are the interpreter's arguments that start the master's hook process, which runs
// the config file's master-side server hooks (gonicorn_master.py, internal/hooks): the
// bootstrap, then the hooks' stand-ins and the process's loop.
func HookArgs() []string {
	return []string{"-c", boot, "gonicorn_hooks", hooksSource, "gonicorn_master", masterSource}
}
