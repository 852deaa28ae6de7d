"""A module with only an application factory, for `factory:create_app()` and
`factory:create_app("greeting")` (gunicorn's factory syntax, literal arguments)."""
import os
import sys
from wsgiref.validate import validator

CALLS = []


def create_app(greeting="hello"):
    CALLS.append(greeting)

    def app(environ, start_response):
        body = ("%s from pid %d, factory calls %d, env %s, path0 %s" % (
            greeting, os.getpid(), len(CALLS), os.environ.get("GREETING_ENV", "-"),
            sys.path[0])).encode()
        start_response("200 OK", [("Content-Type", "text/plain"),
                                  ("Content-Length", str(len(body)))])
        return [body]

    return validator(app)
