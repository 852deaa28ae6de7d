"""App for the TLS tests (test/tls_test.go).

/env answers a JSON object of the environ's str values that describe the connection:
wsgi.url_scheme, HTTPS, SSL_*, SERVER_*, REMOTE_ADDR. /big?n=N answers N bytes. A POST
answers the length of the body it read. Everything runs under wsgiref.validate.validator, so
the TLS variables must be valid CGI strings.

/hints sends two Link headers with wsgi.early_hints (a header with a CR with ?bad=1), then,
with ?wait=PATH, waits until PATH exists before it answers, so that a test can see the 103
arrive while the app is still working.
"""
import json
import os
import time
from urllib.parse import parse_qs
from wsgiref.validate import validator


def _hints(environ, start_response):
    q = parse_qs(environ["QUERY_STRING"])
    hints = [("Link", "</a.css>; rel=preload; as=style"), ("Link", "</b.js>; rel=preload; as=script")]
    if q.get("bad"):
        hints.append(("X-Bad", "a\r\nInjected: 1"))
    environ["wsgi.early_hints"](hints)
    deadline = time.monotonic() + 20
    while q.get("wait") and not os.path.exists(q["wait"][0]) and time.monotonic() < deadline:
        time.sleep(0.01)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "4")])
    return [b"done"]


def _app(environ, start_response):
    if environ["PATH_INFO"] == "/hints":
        return _hints(environ, start_response)
    if environ["REQUEST_METHOD"] == "POST":
        n = len(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))
        body = str(n).encode()
    elif environ["PATH_INFO"] == "/big":
        n = int(environ["QUERY_STRING"].partition("=")[2])
        body = b"x" * n
    else:
        keys = ("wsgi.url_scheme", "HTTPS", "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "REMOTE_ADDR")
        out = {k: v for k, v in environ.items()
               if isinstance(v, str) and (k in keys or k.startswith("SSL_"))}
        body = json.dumps(out, sort_keys=True).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


application = validator(_app)
