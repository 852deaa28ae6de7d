"""gonicorn's master-side server hooks: the process that runs them.

The Go master starts this process (python -c <gonicorn_boot.py>
gonicorn_hooks SOURCE gonicorn_master SOURCE; internal/hooks) only when the
config file defines on_starting, on_reload, when_ready, pre_fork, pre_exec,
child_exit, nworkers_changed or on_exit, and keeps it as long as it runs.
main() evaluates the file (GONICORN_CONFIG) once, as gunicorn's master
does, then answers the master's calls on fd 3, one JSON line each way:

  master: {"id": 7, "hook": "pre_fork", "num_workers": 2,
           "worker": {"age": 3, "pid": "[booting]"}, "args": []}
  helper: {"id": 7, "ok": true}
      or  {"id": 7, "ok": false, "error": "Traceback ..."}

Before any call it writes {"id": 0, "ok": ...}: whether the file loaded.
The hooks get gunicorn_hooks' stand-ins: server (the master: pid, cfg,
log, num_workers) and, for pre_fork and child_exit, worker (age, pid, ppid,
cfg, log, alive). One call at a time, in the order the master makes them.
What a hook prints or logs goes to the error log (stdout and stderr are
the master's pipe). It exits at EOF. Standard library only.
"""

import json
import os
import signal
import socket
import sys
import traceback

import gonicorn_hooks

# The master-side hooks and their arguments after server.
SIGNATURES = {
    'on_starting': (), 'on_reload': (), 'when_ready': (), 'pre_exec': (),
    'on_exit': (), 'pre_fork': ('worker',), 'child_exit': ('worker',),
    'nworkers_changed': ('args',),
}


def main():
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the master decides
    sock = socket.socket(fileno=3)
    f = sock.makefile('rwb')
    try:
        module = gonicorn_hooks.load_config(os.environ['GONICORN_CONFIG'])
        cfg = gonicorn_hooks.Config(
            json.loads(os.environ.get('GONICORN_HOOK_CFG') or '{}'))
        log = gonicorn_hooks.make_log(cfg)
        server = gonicorn_hooks.Server(cfg, log, getattr(cfg, 'workers', 1))
    except BaseException:
        answer(f, 0, traceback.format_exc())
        return
    answer(f, 0, None)
    for line in f:
        call = json.loads(line)
        answer(f, call['id'], run(module, server, call))


def run(module, server, call):
    """Calls one hook; returns None, or the traceback of its exception."""
    name = call['hook']
    fn = getattr(module, name, None)
    if name not in SIGNATURES or not callable(fn):
        return None
    server.num_workers = call.get('num_workers', server.num_workers)
    args = [server]
    if 'worker' in SIGNATURES[name]:
        args.append(make_worker(server, call.get('worker') or {}))
    if 'args' in SIGNATURES[name]:
        args.extend(call.get('args') or ())
    try:
        fn(*args)
    except Exception:
        return traceback.format_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    return None


def make_worker(server, w):
    """gunicorn's Worker as the master's hooks see it: before its process
    starts (pre_fork: pid '[booting]') or after it was reaped (child_exit)."""
    worker = gonicorn_hooks.Worker(w.get('age', 0), server.cfg, server.log)
    worker.pid = w.get('pid', '[booting]')
    worker.ppid = server.pid
    worker.alive = w.get('alive', True)
    return worker


def answer(f, call_id, error):
    reply = {'id': call_id, 'ok': error is None}
    if error is not None:
        reply['error'] = error
    f.write(json.dumps(reply).encode() + b'\n')
    f.flush()


if __name__ == '__main__':
    main()
