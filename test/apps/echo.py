"""Echo app for the conformance test (test/conformance_test.go).

Every request is answered with 200 and a JSON object of what the server handed the
application: the method, RAW_URI, PATH_INFO, QUERY_STRING, every HTTP_* and CONTENT_*
key, and the body (base64). The response carries "X-Echo: 1", so the test can tell an
echo (the app saw the request) from an error the server answered itself.

PEP 3333 environ strings are latin-1 views of the wire bytes; json.dumps writes them as
\\u00XX escapes, which the test maps back to bytes. A character above U+00FF would be a
server bug; the test reports it.

The app runs under wsgiref.validate.validator, which checks the environ and the app's
side of the protocol on every request. The validator requires PATH_INFO to be empty or
to start with "/", which an asterisk-form ("OPTIONS *") or authority-form
("CONNECT host:port") target cannot satisfy: those requests bypass it, as do requests
whose environ has HTTP_CONTENT_LENGTH or HTTP_CONTENT_TYPE (see application).
"""
import base64
import json
from wsgiref.validate import validator


def _echo(environ, start_response):
    # read(size) as wsgiref.validate insists; the server always sets CONTENT_LENGTH when
    # there is a body (a chunked body arrives de-chunked, with its length).
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    out = {
        "echo": True,
        "method": environ["REQUEST_METHOD"],
        "raw_uri": environ.get("RAW_URI"),
        "path_info": environ.get("PATH_INFO", ""),
        "query_string": environ.get("QUERY_STRING", ""),
        "server_protocol": environ.get("SERVER_PROTOCOL", ""),
        "headers": {k: v for k, v in environ.items()
                    if k.startswith(("HTTP_", "CONTENT_")) and isinstance(v, str)},
        "body_b64": base64.b64encode(body).decode("ascii"),
    }
    data = json.dumps(out, sort_keys=True).encode("ascii")
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(data))),
                              ("X-Echo", "1")])
    return [data]


_validated = validator(_echo)


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path and not path.startswith("/"):
        return _echo(environ, start_response)
    # With --header-map dangerous a "Content_Length" field becomes HTTP_CONTENT_LENGTH, as in
    # gunicorn (corpus valid/040_compat); the validator refuses that key, so such requests
    # bypass it too.
    if "HTTP_CONTENT_LENGTH" in environ or "HTTP_CONTENT_TYPE" in environ:
        return _echo(environ, start_response)
    return _validated(environ, start_response)
