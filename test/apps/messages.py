"""WSGI app for test/messages_test.go: what a worker prints, and how it is logged.

/print              prints a line of chatter on stdout, answers ok
/printtb            prints a caught exception's traceback on stderr itself
/raise              raises (the master logs the traceback, once)
/hang               prints a line, then blocks forever in hang_here (--timeout)
/slow?gate=PORT     waits for the test's gate, then answers
/pid                answers the worker's pid
"""
import os
import socket
import sys
import threading
import traceback

_never = threading.Event()


def hang_here():
    print("messages: hanging", file=sys.stderr, flush=True)
    _never.wait()


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/print":
        print("messages: chatter", flush=True)
    elif path == "/printtb":
        try:
            raise KeyError("messages-printed-marker")
        except KeyError:
            traceback.print_exc()
            sys.stderr.flush()
    elif path == "/raise":
        raise ValueError("messages-raise-marker")
    elif path == "/hang":
        hang_here()
    elif path == "/slow":
        port = int(environ["QUERY_STRING"].partition("=")[2])
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.recv(1)
    body = str(os.getpid()).encode() if path == "/pid" else b"ok"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]
