"""App for the HTTP/2 tests (test/h2_test.go), under wsgiref.validate.validator.

/env answers a JSON object of the environ's str values. A POST answers the length of the body
it read. /big?n=N answers N bytes (a list: the master knows the length); /stream?n=N&k=K
yields K blocks of N bytes (a generator: no length). /hints sends a Link with
wsgi.early_hints first. /count appends a line to the file named by COUNT_FILE (in the
environment) for each call, so a test can tell how many requests reached the app;
/count?wait=PATH then waits until PATH exists (at most 20 s) before it answers. /raise fails
before its response starts; /cut after its first block; /short sends 5 of the 10 bytes its
Content-Length announces; /badheader returns a header value with a newline.
"""
import json
import os
import time
from urllib.parse import parse_qs
from wsgiref.validate import validator


def _query(environ):
    return {k: v[0] for k, v in parse_qs(environ["QUERY_STRING"]).items()}


def _count(environ):
    q = _query(environ)
    with open(os.environ["COUNT_FILE"], "a") as f:
        f.write("call\n")
    deadline = time.monotonic() + 20
    while q.get("wait") and not os.path.exists(q["wait"]) and time.monotonic() < deadline:
        time.sleep(0.01)
    return b"counted"


def _cut():
    yield b"first block"
    raise RuntimeError("cut")


def _app(environ, start_response):
    path, q = environ["PATH_INFO"], _query(environ)
    if path == "/raise":
        raise RuntimeError("before the response")
    if path == "/cut":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return _cut()
    if path == "/short":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "10")])
        return [b"12345"]
    if path == "/badheader":
        start_response("200 OK", [("X-Bad", "a\nb")])
        return [b"never"]
    if environ["REQUEST_METHOD"] == "POST":
        n = len(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))
        body = str(n).encode()
    elif path == "/big":
        body = b"x" * int(q["n"])
    elif path == "/stream":
        n, k = int(q["n"]), int(q["k"])
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return (b"y" * n for _ in range(k))
    elif path == "/hints":
        environ["wsgi.early_hints"]([("Link", "</a.css>; rel=preload; as=style")])
        body = b"done"
    elif path == "/count":
        body = _count(environ)
    else:
        out = {k: v for k, v in environ.items() if isinstance(v, str)}
        body = json.dumps(out, sort_keys=True).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


application = validator(_app)
