"""Basic end-to-end test app, wrapped in wsgiref.validate.validator.

/            hello
/environ     the CGI part of the environ and the body, as JSON (latin-1 strings escaped)
/echo        the request body
/list        a list response, not validated (see application)
"""
import json
from wsgiref.validate import validator


def _app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/environ":
        # wsgiref.validate insists on read(size).
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        out = {k: v for k, v in environ.items() if isinstance(v, str)}
        out["wsgi.multithread"] = environ["wsgi.multithread"]
        out["wsgi.multiprocess"] = environ["wsgi.multiprocess"]
        out["wsgi.input_terminated"] = environ.get("wsgi.input_terminated")
        out["body"] = body.decode("latin-1")
        data = json.dumps(out, sort_keys=True).encode()
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(data)))])
        return [data]
    if path == "/echo":
        data = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return [data]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"Hello, World!"]


_validated = validator(_app)


def application(environ, start_response):
    # /list is served without the validator, whose iterator wrapper hides the list: a list
    # response reaches the master in one piece and is framed with Content-Length.
    if environ["PATH_INFO"] == "/list":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"Hello, ", b"World!"]
    return _validated(environ, start_response)
