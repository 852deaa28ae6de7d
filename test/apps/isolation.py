"""WSGI app for test/isolation_test.go: what one request can do to the requests after it.

Run with -w 1 --threads 1, so that every request runs on the same worker thread.

/late      starts a thread that waits until /victim runs, then calls the ended request's
           write(), start_response and wsgi.input.read(); answers "late"
/victim    yields "victim-start;", lets the /late thread go, waits for it, and yields
           "victim-end:" and what each call did (the exception's type name, or "ok")
/spray     starts a thread that calls write(b"x") in a loop until it raises (after the
           request ended); answers with the x's written before its end
/sprayed   waits for the /spray thread and answers "sprayed:" and the exception's type name
/hold?gate=PORT   connects to the test's gate, waits for one byte, answers "held"
/break?gate=PORT  like /hold, then writes a frame of an unknown kind straight onto the
           worker's socket (a protocol error), then answers "secret"
/badfile   sends S and an F frame with a 3-byte payload and an fd (a protocol error)
/fdjunk    sends a frame of an unknown kind with an fd attached (a protocol error)
/stream?n=N&size=S  yields N blocks of S bytes ("a"), one at a time
/pid       the worker's pid
"""
import array
import os
import socket
import sys
import threading
from urllib.parse import parse_qs

state = {}


def outcome(call):
    try:
        call()
    except Exception as e:
        return type(e).__name__
    return "ok"


def late(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    inp = environ["wsgi.input"]
    go, done = threading.Event(), threading.Event()
    results = []

    def run():
        go.wait(10)
        results.append(outcome(lambda: write(b"LEAKED")))
        results.append(outcome(lambda: start_response("500 Leaked", [])))
        results.append(outcome(inp.read))
        done.set()

    state["late"] = (go, done, results)
    threading.Thread(target=run, daemon=True).start()
    return [b"late"]


def victim(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield b"victim-start;"
    go, done, results = state.pop("late")
    go.set()
    done.wait(10)
    yield ("victim-end:" + ",".join(results)).encode()


def spray(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    done = threading.Event()
    result = []

    def run():
        try:
            while True:
                write(b"x")
        except Exception as e:
            result.append(type(e).__name__)
        done.set()

    state["spray"] = (done, result)
    threading.Thread(target=run, daemon=True).start()
    return []


def sprayed(environ, start_response):
    done, result = state.pop("spray")
    done.wait(10)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("sprayed:" + ",".join(result)).encode()]


def stream(environ, start_response):
    q = parse_qs(environ.get("QUERY_STRING", ""))
    n, size = int(q["n"][0]), int(q["size"][0])
    start_response("200 OK", [("Content-Type", "text/plain")])
    block = b"a" * size
    for _ in range(n):
        yield block


def gate(environ):
    q = parse_qs(environ.get("QUERY_STRING", ""))
    c = socket.create_connection(("127.0.0.1", int(q["gate"][0])))
    c.recv(1)
    c.close()


def worker_socket():
    """The worker's socket for this request: the `link` of handle_request."""
    f = sys._getframe()
    while f is not None and "link" not in f.f_locals:
        f = f.f_back
    return f.f_locals["link"].sock


def frame(kind, payload):
    return len(payload).to_bytes(4, "little") + kind + payload


def send_with_fd(sock, data):
    fd = os.open("/dev/null", os.O_RDONLY)
    try:
        sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))])
    finally:
        os.close(fd)


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/late":
        return late(environ, start_response)
    if path == "/victim":
        return victim(environ, start_response)
    if path == "/spray":
        return spray(environ, start_response)
    if path == "/sprayed":
        return sprayed(environ, start_response)
    if path == "/stream":
        return stream(environ, start_response)
    if path == "/hold":
        gate(environ)
        body = b"held"
    elif path == "/break":
        gate(environ)
        worker_socket().sendall(frame(b"Q", b"bad"))
        body = b"secret"
    elif path == "/badfile":
        import marshal
        start = marshal.dumps(("200 OK", []), 2)
        send_with_fd(worker_socket(), frame(b"S", start) + frame(b"F", b"bad"))
        body = b"unreachable"
    elif path == "/fdjunk":
        send_with_fd(worker_socket(), frame(b"Q", b"junk"))
        body = b"unreachable"
    else:
        body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]
