"""WSGI app for test/ops_test.go: the queue, a graceful stop with requests queued, stack
dumps on demand and a boot crash loop.

/gate       prints "ops: at the gate" to stderr, then waits in wait_at_the_gate until the
            file named by $OPS_GATE exists (the test creates it to let every request go;
            the stack dump must name the function), then answers "gate open"
/n?i=I      answers "I K": K counts the requests this process started, so the test can
            see the order in which they were served
/pid        the worker's pid

If $OPS_CRASH is set, the worker process exits (os._exit(1)) 0.3 s after the app was
imported, that is right after its boot: a crash loop.
"""
import os
import sys
import threading
import time
from urllib.parse import parse_qs

_lock = threading.Lock()
_started = 0

if os.environ.get("OPS_CRASH"):
    threading.Timer(0.3, os._exit, args=(1,)).start()


def wait_at_the_gate():
    print("ops: at the gate", file=sys.stderr, flush=True)
    gate = os.environ["OPS_GATE"]
    while not os.path.exists(gate):
        time.sleep(0.005)


def application(environ, start_response):
    global _started
    with _lock:
        _started += 1
        k = _started
    path = environ["PATH_INFO"]
    q = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    if path == "/gate":
        wait_at_the_gate()
        body = "gate open"
    elif path == "/n":
        body = "%s %d" % (q.get("i", ""), k)
    else:
        body = str(os.getpid())
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]
