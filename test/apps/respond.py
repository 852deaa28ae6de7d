"""Response framing test app (test/respond_test.go). Not validated: the
validator would wrap lists and file wrappers in its own iterator.

/                   a list response: "hello"
/gen                a generator yielding one block: "hello"
/biglist?n=N        a list of N bytes in 64 KiB blocks
/file?path=P&offset=O&cl=N
                    wsgi.file_wrapper over P from offset O, with
                    Content-Length N if given
/write-raise?cl=N   write(b"partial"), then raises (Content-Length N if given)
/yield-raise        yields b"partial", then raises
/status?s=S         start_response(S), a list body
/cl?v=V             a list body b"body" with Content-Length V
/list-short         a list of 5 bytes with Content-Length 10
/list-long          a list of 10 bytes with Content-Length 5
/hang               never answers (until --timeout kills the worker)
"""
import time
from urllib.parse import parse_qs


def query(environ):
    q = parse_qs(environ.get("QUERY_STRING", ""), encoding="latin-1",
                 keep_blank_values=True)
    return {k: v[0] for k, v in q.items()}


TEXT = [("Content-Type", "text/plain")]


def file_route(environ, start_response, q):
    f = open(q["path"], "rb")
    f.seek(int(q.get("offset", 0)))
    headers = list(TEXT)
    if "cl" in q:
        headers.append(("Content-Length", q["cl"]))
    start_response("200 OK", headers)
    return environ["wsgi.file_wrapper"](f, 32768)


def write_raise_route(environ, start_response, q):
    headers = list(TEXT)
    if "cl" in q:
        headers.append(("Content-Length", q["cl"]))
    write = start_response("200 OK", headers)
    write(b"partial")
    raise RuntimeError("respond-write-raise")


def yield_raise_route(environ, start_response, q):
    start_response("200 OK", TEXT)
    yield b"partial"
    raise RuntimeError("respond-yield-raise")


def application(environ, start_response):
    path = environ["PATH_INFO"]
    q = query(environ)
    if path == "/gen":
        start_response("200 OK", TEXT)
        return (b for b in [b"hello"])
    if path == "/biglist":
        n = int(q["n"])
        block = bytes(range(256)) * 256
        start_response("200 OK", TEXT)
        return [block[:min(len(block), n - i)] for i in range(0, n, len(block))]
    if path == "/file":
        return file_route(environ, start_response, q)
    if path == "/write-raise":
        return write_raise_route(environ, start_response, q)
    if path == "/yield-raise":
        return yield_raise_route(environ, start_response, q)
    if path == "/status":
        start_response(q["s"], TEXT)
        return [b"body"]
    if path == "/cl":
        start_response("200 OK", TEXT + [("Content-Length", q["v"])])
        return [b"body"]
    if path == "/list-short":
        start_response("200 OK", TEXT + [("Content-Length", "10")])
        return [b"01234"]
    if path == "/list-long":
        start_response("200 OK", TEXT + [("Content-Length", "5")])
        return [b"01234", b"56789"]
    if path == "/hang":
        time.sleep(3600)
    start_response("200 OK", TEXT)
    return [b"hello"]
