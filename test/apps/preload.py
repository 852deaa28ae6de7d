"""The app of the --preload tests (test/preload_test.go).

At import it appends its pid to the file $PRELOAD_IMPORTS, so a test counts
the imports and knows which process did them; then it reads VERSION from
$PRELOAD_VERSION (a file), so that a reload shows whether it imported the
code afresh; with $PRELOAD_FAIL set, or the version "broken", the import
then fails.

/        "PID PPID VERSION" of the worker that answers
/hold    appends the pid to the file $PRELOAD_HELD, then answers as / once
         the file $PRELOAD_RELEASE exists (the test creates it when every
         worker holds one request)
/hang    never answers (--timeout)
"""
import os
import time

with open(os.environ["PRELOAD_IMPORTS"], "a") as f:
    f.write("%d\n" % os.getpid())
VERSION = "none"
if os.environ.get("PRELOAD_VERSION"):
    with open(os.environ["PRELOAD_VERSION"]) as f:
        VERSION = f.read().strip()
if os.environ.get("PRELOAD_FAIL") or VERSION == "broken":
    raise RuntimeError("preload-marker: the app refuses to load")


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/hang":
        while True:
            time.sleep(1)
    if path == "/hold":
        with open(os.environ["PRELOAD_HELD"], "a") as f:
            f.write("%d\n" % os.getpid())
        release = os.environ["PRELOAD_RELEASE"]
        for _ in range(30000):
            if os.path.exists(release):
                break
            time.sleep(0.001)
    out = ("%d %d %s" % (os.getpid(), os.getppid(), VERSION)).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(out)))])
    return [out]
