// Package hooks runs gunicorn's server hooks, the functions a config file defines under
// their names (on_starting, pre_fork, post_fork, pre_request...; docs/hooks.md).
//
// The worker-side hooks (WorkerSide) run in the workers, which evaluate the config file
// again themselves (python/gonicorn_hooks.py); this package only says which they are and
// what their cfg holds (Settings). The master-side hooks (MasterSide) run in one Python
// helper process that the master starts when the file defines any of them and keeps until
// it exits (Process): the master asks it to call a hook and waits for the answer, over a
// socketpair, one JSON line each way.
package hooks
