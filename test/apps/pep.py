"""PEP 3333 end-to-end test app (test/pep3333_test.go).

Most routes are wrapped in wsgiref.validate.validator; the few that are not
say why. Routes that must wait for the test synchronise on a "gate": the test
listens on a loopback port (?gate=PORT), the app connects to it and blocks
reading one byte, which the test writes once it saw what it was waiting for.
Routes that report an event (close() was called) write a marker file
(?marker=PATH) the test waits for.

/env             the CGI part of the environ and the wsgi.* flags, as JSON
/input?mode=M    runs the wsgi.input methods of mode M over the body; JSON
/write?mode=M    the write() callable, alone or before a returned iterable
/exc-before      start_response again with exc_info before anything was sent
/exc-after       a block, the gate, then start_response with exc_info
/second-start    start_response twice without exc_info
/close?mode=M    an iterable whose close() writes the marker
/errors?msg=S    writes S to wsgi.errors; answers the worker pid
/file            wsgi.file_wrapper over a real file (not validated)
/bytesio         wsgi.file_wrapper over a BytesIO (no fileno)
/stream          yields block 1, waits for the gate, yields block 2
/echo            the body, with Content-Length
/status?code=N   an empty response with status N
/cl              a generator body with the app's Content-Length
/big?n=N         N bytes of a known pattern, in 64 KiB blocks
"""
import hashlib
import io
import json
import os
import socket
import sys
from urllib.parse import parse_qs
from wsgiref.validate import validator


def query(environ):
    q = parse_qs(environ.get("QUERY_STRING", ""), encoding="latin-1")
    return {k: v[0] for k, v in q.items()}


def wait_gate(q):
    """Blocks until the test writes a byte to (or closes) the gate."""
    with socket.create_connection(("127.0.0.1", int(q["gate"]))) as s:
        s.recv(1)


def mark(q, text="closed"):
    tmp = q["marker"] + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, q["marker"])  # the test never sees a half-written marker


def json_response(start_response, obj):
    data = json.dumps(obj, sort_keys=True).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(data)))])
    return [data]


def env_route(environ, start_response):
    out = {k: v for k, v in environ.items() if isinstance(v, str)}
    for k in ("wsgi.multithread", "wsgi.multiprocess", "wsgi.run_once",
              "wsgi.input_terminated"):
        out[k] = environ.get(k)
    out["wsgi.version"] = list(environ["wsgi.version"])
    out["wsgi.version_is_tuple"] = type(environ["wsgi.version"]) is tuple
    out["wsgi.file_wrapper"] = "wsgi.file_wrapper" in environ
    return json_response(start_response, out)


def input_route(environ, start_response):
    inp = environ["wsgi.input"]
    mode = query(environ)["mode"]
    got = []    # every byte read, in order: must be the whole body
    parts = []  # what the individual calls returned, for the test to check
    if mode == "readall":
        # read() without a size: wsgiref.validate only allows read(size), so
        # this calls the server's stream under the validator's wrapper.
        data = getattr(inp, "input", inp).read()
        got.append(data)
    elif mode == "chunks":
        while True:
            data = inp.read(65536)
            if not data:
                break
            got.append(data)
    elif mode == "mixed":
        for data in (inp.readline(), inp.readline(3), inp.read(5)):
            got.append(data)
            parts.append(data.decode("latin-1"))
        lines = inp.readlines()
        parts.append(len(lines))
        got.extend(lines)
    elif mode == "iter":
        # The server's own __iter__, not the validator's (a readline() loop).
        lines = list(getattr(inp, "input", inp))
        parts.append(len(lines))
        parts.append(all(line.endswith(b"\n") for line in lines[:-1]))
        got.extend(lines)
    else:
        raise ValueError("unknown mode %r" % mode)
    # At the end every method returns b''.
    eof = [inp.read(1), inp.read(65536), inp.readline(), inp.readline(5),
           inp.readlines(), list(inp)]
    body = b"".join(got)
    return json_response(start_response, {
        "sha256": hashlib.sha256(body).hexdigest(),
        "n": len(body),
        "parts": parts,
        "eof": [repr(x) for x in eof],
        "content_length": environ.get("CONTENT_LENGTH"),
        "terminated": environ.get("wsgi.input_terminated"),
        "transfer_encoding": environ.get("HTTP_TRANSFER_ENCODING"),
    })


def write_route(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"written-1 ")
    write(b"")  # an empty write sends nothing and must not end the body
    write(b"written-2 ")
    if query(environ).get("mode") == "iter":
        def rest():
            yield b"yielded-1 "
            yield b"yielded-2"
        return rest()
    return []


def exc_before_route(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    try:
        raise ValueError("pep-exc-before")
    except ValueError:
        start_response("500 Internal Server Error",
                       [("Content-Type", "text/plain"), ("X-Error-Page", "1")],
                       sys.exc_info())
        return [b"error page"]


def exc_after_route(environ, start_response):
    q = query(environ)
    start_response("200 OK", [("Content-Type", "text/plain")])

    def body():
        yield b"block1"
        wait_gate(q)
        try:
            raise ValueError("pep-exc-after")
        except ValueError:
            # Something was sent: this re-raises (PEP 3333).
            start_response("500 Internal Server Error",
                           [("Content-Type", "text/plain")], sys.exc_info())
        yield b"never sent"
    return body()


def second_start_route(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    start_response("201 Created", [("Content-Type", "text/plain")])
    return [b"not reached"]


class ClosingBody:
    """An iterable with a close() that writes the marker file."""

    def __init__(self, q, mode):
        self.q, self.mode, self.n = q, mode, 0

    def __iter__(self):
        return self

    def __next__(self):
        self.n += 1
        if self.mode == "raise":
            raise RuntimeError("pep-close-raise")
        if self.mode == "forever":
            return b"x" * 65536
        if self.n > 2:
            raise StopIteration
        return b"block%d " % self.n

    def close(self):
        mark(self.q)


def close_route(environ, start_response):
    q = query(environ)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return ClosingBody(q, q["mode"])


def errors_route(environ, start_response):
    err = environ["wsgi.errors"]
    err.write(query(environ)["msg"] + "\n")
    err.flush()
    return json_response(start_response, {"pid": os.getpid()})


def file_route(environ, start_response):
    # Not validated: the validator wraps the returned iterable, which hides
    # the wsgi.file_wrapper from the worker, so the fd would never be passed.
    q = query(environ)
    f = open(q["path"], "rb")
    f.seek(int(q.get("offset", 0)))
    headers = [("Content-Type", "application/octet-stream")]
    if "cl" in q:
        headers.append(("Content-Length", q["cl"]))
    start_response("200 OK", headers)
    return environ["wsgi.file_wrapper"](f, 32768)


def bytesio_route(environ, start_response):
    data = b"".join(b"bytesio %05d\n" % i for i in range(10000))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return environ["wsgi.file_wrapper"](io.BytesIO(data), 8192)


def stream_route(environ, start_response):
    q = query(environ)
    start_response("200 OK", [("Content-Type", "text/plain")])

    def body():
        yield b"block1"
        wait_gate(q)
        yield b"block2"
    return body()


def echo_route(environ, start_response):
    data = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response("200 OK", [("Content-Type", "application/octet-stream"),
                              ("Content-Length", str(len(data)))])
    return [data]


def status_route(environ, start_response):
    code = query(environ)["code"]
    reason = {"204": "No Content", "304": "Not Modified"}[code]
    start_response(code + " " + reason, [("X-Status", code)])
    return []


def cl_route(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", "12")])

    def body():
        yield b"hello "
        yield b"world!"
    return body()


def big_route(environ, start_response):
    n = int(query(environ)["n"])
    start_response("200 OK", [("Content-Type", "application/octet-stream")])

    def body():
        block = bytes(range(256)) * 256  # 64 KiB
        left = n
        while left > 0:
            yield block[:left]
            left -= len(block)
    return body()


ROUTES = {
    "/env": env_route,
    "/input": input_route,
    "/write": write_route,
    "/exc-before": exc_before_route,
    "/exc-after": exc_after_route,
    "/second-start": second_start_route,
    "/close": close_route,
    "/errors": errors_route,
    "/bytesio": bytesio_route,
    "/stream": stream_route,
    "/echo": echo_route,
    "/status": status_route,
    "/cl": cl_route,
    "/big": big_route,
}

UNVALIDATED = {"/file": file_route}


def _dispatch(environ, start_response):
    route = ROUTES.get(environ["PATH_INFO"], env_route)
    return route(environ, start_response)


_validated = validator(_dispatch)


def application(environ, start_response):
    route = UNVALIDATED.get(environ["PATH_INFO"])
    if route is not None:
        return route(environ, start_response)
    return _validated(environ, start_response)
