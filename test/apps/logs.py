"""WSGI app for test/logs_test.go: queryable logs and request ids (issue 12, section 3).

/                   hello
/missing            404
/raise              raises ValueError (the master logs the traceback with the request id)
/printtb            prints a caught exception's chained traceback on stderr itself
/hang               blocks forever (--timeout)
/id                 answers HTTP_X_REQUEST_ID as the app got it
/appid              sets its own X-Request-ID response header
/echo               answers the request body
"""
import sys
import threading
import traceback

_never = threading.Event()


def application(environ, start_response):
    path = environ["PATH_INFO"]
    status, headers, body = "200 OK", [("Content-Type", "text/plain")], b"ok"
    if path == "/missing":
        status, body = "404 Not Found", b"not found"
    elif path == "/raise":
        raise ValueError("logs-raise-marker")
    elif path == "/printtb":
        try:
            try:
                {}["logs-inner-marker"]
            except KeyError as e:
                raise RuntimeError("logs-printed-marker") from e
        except RuntimeError:
            traceback.print_exc()
            sys.stderr.flush()
        print("logs: after the traceback", file=sys.stderr, flush=True)
    elif path == "/hang":
        _never.wait()
    elif path == "/id":
        body = environ.get("HTTP_X_REQUEST_ID", "<none>").encode("latin-1")
    elif path == "/appid":
        headers.append(("X-Request-ID", "from-the-app"))
    elif path == "/echo":
        body = environ["wsgi.input"].read()
    start_response(status, headers)
    return [body]
