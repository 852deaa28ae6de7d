"""App for the worker and master lifecycle tests (test/lifecycle_test.go).

At import it prints one line to stdout and one to stderr: the master must log them tagged
with the worker's pid.

/        "ok"
/slow    blocks until the test lets it go: it opens the FIFO named by $LIFECYCLE_FIFO for
         reading (the open returns when the test opens it for writing, so the test knows
         the request is in the app) and reads it to EOF (the test closes it to release
         the request). No sleeps: the test and the app synchronise on the FIFO.
"""
import os
import sys

print("lifecycle app: hello on stdout")
print("lifecycle app: hello on stderr", file=sys.stderr)


def application(environ, start_response):
    if environ["PATH_INFO"] == "/slow":
        with open(os.environ["LIFECYCLE_FIFO"], "rb") as f:
            f.read()
        body = b"slow done"
    else:
        body = b"ok"
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]
