#!/usr/bin/python3
"""CPU time per request of the Python worker alone, against the app called in-process.

    taskset -c 0 bench/workerloop.py [DIR MODULE:CALLABLE PATH]   # default: the harness's django-json

$WORKERLOOP_PYTHON names another folder of the worker's modules (an older python/), to
compare two versions: run them alternately and compare within the run's minutes.

Answers "what does gonicorn's worker add to each request?" without the master or the network:
a child process runs the real worker loop (gonicorn_worker.serve, from python/) on one end of
a socketpair, and this process plays the master on the other end, one request at a time (R
frame with a marshal environ as the master writes it, then the answer's frames up to E). A
second child calls the app in a loop as ../shared/bench/ceiling/inproc.py does. Both children
report their own CPU time (user + sys); the rounds alternate, so the two are compared under
the same machine load. The difference is the worker's own cost per request: environ decoding,
the Response object, the frames and the two system calls, plus what switching processes
costs the app's caches (the in-process loop never switches).
"""
import io
import marshal
import os
import socket
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
HARNESS = os.environ.get("HARNESS", os.path.join(REPO, "..", "shared", "bench"))
ROUNDS, PER_ROUND = 6, 2000

HDR = struct.Struct("<IB")
U32 = struct.Struct("<I")


def environ_for(path):
    """The environ as the master sends it for `GET path` from wrk (docs/protocol.md)."""
    return {
        "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": "",
        "RAW_URI": path, "REQUEST_URI": path, "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1", "SERVER_SOFTWARE": "gonicorn", "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "50000", "HTTP_HOST": "127.0.0.1:8000", "wsgi.url_scheme": "http",
        "HTTP_X_REQUEST_ID": "0123456789abcdef0123456789abcdef",
    }


def load(where, spec):
    sys.path.insert(0, where)
    import importlib
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name or "application")


def worker_child(sock, where, spec):
    """The real worker loop on sock, with the app loaded as the worker loads it."""
    sys.path.insert(0, os.environ.get("WORKERLOOP_PYTHON", os.path.join(REPO, "python")))
    import gonicorn_worker
    app = load(where, spec)
    gonicorn_worker.serve(sock, app, multiprocess=True)
    os._exit(0)


def inproc_child(conn, where, spec, path):
    """Calls the app PER_ROUND times per byte read from conn; writes back its CPU seconds."""
    app = load(where, spec)
    base = environ_for(path)
    base.update({"wsgi.version": (1, 0), "wsgi.errors": sys.stderr, "wsgi.multithread": False,
                 "wsgi.multiprocess": True, "wsgi.run_once": False})

    def start_response(status, headers, exc_info=None):
        return None

    while True:
        how = conn.recv(1)
        if not how:
            break
        cpu0 = time.process_time()
        for _ in range(PER_ROUND):
            if how == b"p":  # a round trip to another process first, as a worker makes
                conn.sendall(b"p")
                conn.recv(1)
            environ = dict(base)
            environ["wsgi.input"] = io.BytesIO(b"")
            result = app(environ, start_response)
            try:
                for _ in result:
                    pass
            finally:
                close = getattr(result, "close", None)
                if close:
                    close()
        conn.sendall(b"%f\n" % (time.process_time() - cpu0))
    os._exit(0)


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def read_frame(sock, buf):
    while True:
        if len(buf) >= 5:
            n, kind = HDR.unpack_from(buf)
            if len(buf) >= 5 + n:
                return kind, bytes(buf[5:5 + n]), buf[5 + n:]
        data = sock.recv(1 << 16)
        if not data:
            sys.exit("worker closed the socket")
        buf += data


def main():
    args = sys.argv[1:] or [os.path.join(HARNESS, "apps", "djsite"), "djsite.wsgi:application", "/json"]
    where, spec, path = args
    master, worker = socket.socketpair()
    wpid = os.fork()
    if wpid == 0:
        master.close()
        worker_child(worker, where, spec)
    worker.close()
    if os.environ.get("WORKERLOOP_DRIVER_CPU"):  # the master's part on another core
        os.sched_setaffinity(0, {int(os.environ["WORKERLOOP_DRIVER_CPU"])})
    sys.path.insert(0, os.path.join(REPO, "python"))
    import gonicorn_wire
    vector = marshal.dumps(gonicorn_wire.VECTOR)
    master.sendall(HDR.pack(len(vector), ord("V")) + vector)
    kind, payload, buf = read_frame(master, b"")
    if kind != ord("Y") or not marshal.loads(payload)["ok"]:
        sys.exit("worker handshake failed: %r" % (payload,))
    env = marshal.dumps(environ_for(path))
    request = HDR.pack(4 + len(env), ord("R")) + U32.pack(len(env)) + env

    ctl, child_end = socket.socketpair()
    ipid = os.fork()
    if ipid == 0:
        ctl.close()
        master.close()
        inproc_child(child_end, where, spec, path)
    child_end.close()

    def through_worker(n):
        nonlocal buf
        cpu0 = cpu_seconds(wpid)
        for _ in range(n):
            master.sendall(request)
            while True:
                kind, _, buf = read_frame(master, buf)
                if kind == ord("E"):
                    break
                if kind == ord("X"):
                    sys.exit("the app raised in the worker")
        return cpu_seconds(wpid) - cpu0

    def in_process(switch=False):
        if not switch:
            ctl.sendall(b"x")
            return float(ctl.makefile().readline())
        ctl.sendall(b"p")
        for _ in range(PER_ROUND):
            ctl.recv(1)
            ctl.sendall(b"p")
        return float(ctl.makefile().readline())

    through_worker(300)  # warm up both
    ctl.sendall(b"x")
    ctl.makefile().readline()
    w_total = i_total = 0.0
    s_total = 0.0
    for r in range(ROUNDS):
        w, i, sw = through_worker(PER_ROUND), in_process(), in_process(switch=True)
        w_total, i_total, s_total = w_total + w, i_total + i, s_total + sw
        print("round %d: worker %6.1f us/request, in-process %6.1f us/call, in-process with a "
              "process switch per call %6.1f us" % (r + 1, w / PER_ROUND * 1e6,
                                                   i / PER_ROUND * 1e6, sw / PER_ROUND * 1e6), flush=True)
    n = ROUNDS * PER_ROUND
    print("all:     worker %6.1f us/request, in-process %6.1f us/call, in-process with a process "
          "switch per call %6.1f us (%s %s)"
          % (w_total / n * 1e6, i_total / n * 1e6, s_total / n * 1e6, spec, path))
    master.close()
    ctl.close()
    os.waitpid(wpid, 0)
    os.waitpid(ipid, 0)


if __name__ == "__main__":
    main()
