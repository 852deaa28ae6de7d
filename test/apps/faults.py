"""WSGI app for test/faults_test.go: workers that die mid-request and the fds a worker holds.

/hold?gate=PORT  connects to the test's loopback gate, sends the worker's pid, then blocks
                 reading one byte (the test kill -9s the worker meanwhile)
/segv            dereferences NULL (ctypes.string_at(0)): the worker dies of SIGSEGV
/fds             one line per open fd: "N TARGET" (os.readlink of /proc/self/fd/N)
/env?name=NAME   the value of the environment variable NAME in the worker ("" if unset)
/pid             the worker's pid
/echo            "PID LENGTH SHA256" of the request body
"""
import ctypes
import hashlib
import os
import socket
from urllib.parse import parse_qs


def open_fds():
    lines = []
    for name in sorted(os.listdir("/proc/self/fd"), key=int):
        try:
            target = os.readlink("/proc/self/fd/" + name)
        except OSError:
            continue  # the directory listdir had open, closed by now
        lines.append("%s %s" % (name, target))
    return "\n".join(lines)


def application(environ, start_response):
    path = environ["PATH_INFO"]
    q = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    if path == "/hold":
        c = socket.create_connection(("127.0.0.1", int(q["gate"])))
        c.sendall(b"%d\n" % os.getpid())
        c.recv(1)
        c.close()
        body = "released"
    elif path == "/segv":
        ctypes.string_at(0)
        body = "unreachable"
    elif path == "/fds":
        body = open_fds()
    elif path == "/env":
        body = os.environ.get(q.get("name", ""), "")
    elif path == "/echo":
        data = environ["wsgi.input"].read()
        body = "%d %d %s" % (os.getpid(), len(data), hashlib.sha256(data).hexdigest())
    else:
        body = str(os.getpid())
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]
