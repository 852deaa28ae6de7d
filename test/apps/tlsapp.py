"""App for the TLS tests (test/tls_test.go).

/env answers a JSON object of the environ's str values that describe the connection:
wsgi.url_scheme, HTTPS, SSL_*, SERVER_*, REMOTE_ADDR. /big?n=N answers N bytes. A POST
answers the length of the body it read. Everything runs under wsgiref.validate.validator, so
the TLS variables must be valid CGI strings.
"""
import json
from wsgiref.validate import validator


def _app(environ, start_response):
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
