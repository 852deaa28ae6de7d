"""Misbehaving WSGI app for test/badapp_test.go.

Not wrapped in wsgiref.validate.validator: the validator would catch most of
these mistakes itself (an AssertionError inside the app), so the worker's and
the master's own checks would never be exercised. Routes that must wait for
the test use the same gate as pep.py (?gate=PORT).

/ok                 a normal response
/raise-before       raises before start_response
/raise-after        a block, the gate, then raises
/status?s=S         start_response(S, ...)
/header?n=N&v=V     a response header (N, V)
/longer             Content-Length 5, body of 10 bytes
/shorter            Content-Length 10, body of 5 bytes
/str-list           returns a list of str
/str-gen            yields a str
/exit               the worker process exits (os._exit) mid-request
/slow               waits for the gate, then answers
"""
import os
import socket
from urllib.parse import parse_qs


def query(environ):
    q = parse_qs(environ.get("QUERY_STRING", ""), encoding="latin-1")
    return {k: v[0] for k, v in q.items()}


def wait_gate(q):
    with socket.create_connection(("127.0.0.1", int(q["gate"]))) as s:
        s.recv(1)


def application(environ, start_response):
    path = environ["PATH_INFO"]
    q = query(environ)
    text = [("Content-Type", "text/plain")]
    if path == "/raise-before":
        raise RuntimeError("badapp-raise-before")
    if path == "/raise-after":
        start_response("200 OK", text)

        def body():
            yield b"block1"
            wait_gate(q)
            raise RuntimeError("badapp-raise-after")
        return body()
    if path == "/status":
        start_response(q["s"], text)
        return [b"bad status"]
    if path == "/header":
        start_response("200 OK", text + [(q["n"], q["v"])])
        return [b"bad header"]
    if path == "/longer":
        start_response("200 OK", text + [("Content-Length", "5")])
        return iter([b"01234", b"56789"])
    if path == "/shorter":
        start_response("200 OK", text + [("Content-Length", "10")])
        return iter([b"01234"])
    if path == "/str-list":
        start_response("200 OK", text)
        return ["a str, not bytes"]
    if path == "/str-gen":
        start_response("200 OK", text)
        return iter(["a str, not bytes"])
    if path == "/exit":
        os._exit(1)
    if path == "/slow":
        wait_gate(q)
        start_response("200 OK", text)
        return [b"slow done"]
    start_response("200 OK", text)
    return [b"ok from %d" % os.getpid()]
