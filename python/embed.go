// Package python holds the Python side of gonicorn: the worker that runs
// the WSGI application, started by the master as `python -c Source`.
package python

import _ "embed"

// Source is gonicorn_worker.py. It is embedded in the binary, rather than
// installed as a package, so that users need nothing but a Python 3.9+
// interpreter and their application: no pip install, no version skew
// between the master and the worker, and any venv's python works.
//
//go:embed gonicorn_worker.py
var Source string
