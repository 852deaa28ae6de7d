// Package python holds the Python side of gonicorn: the worker that runs
// the WSGI application, started by the master with Args.
package python

import _ "embed"

// Source is gonicorn_worker.py. It is embedded in the binary, rather than
// installed as a package, so that users need nothing but a Python 3.9+
// interpreter and their application: no pip install, no version skew
// between the master and the worker, and any venv's python works.
//
//go:embed gonicorn_worker.py
var Source string

// DjangoSource is gonicorn_django.py: loading a Django project's
// WSGI_APPLICATION and reporting its static-file settings. A module of its own
// so that the worker stays small; the worker makes it the module
// gonicorn_django when an app needs it.
//
//go:embed gonicorn_django.py
var DjangoSource string

// Args are the interpreter's arguments that start a worker: Source run with -c,
// and DjangoSource as its first argument (sys.argv[1], which the worker removes
// before it loads the app). Linux allows 128 KiB per argument; both are far below.
func Args() []string {
	return []string{"-c", Source, DjangoSource}
}
