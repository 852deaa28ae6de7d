"""WSGI app for test/upgrade_test.go (binary upgrade on USR2), wrapped in
wsgiref.validate.validator.

At import it reads the file VERSION in the directory named by $UPGRADE_DIR: a worker of
the new master imports the app afresh, so it answers the version written before USR2.
The version "broken" fails to import.

/            answers "VERSION PID" (PID: the worker's pid)
/?sleep=S    the same after sleeping S seconds, so that requests are in flight when a
             master gets TERM
"""
import os
import time
from urllib.parse import parse_qs
from wsgiref.validate import validator

with open(os.path.join(os.environ["UPGRADE_DIR"], "VERSION")) as f:
    VERSION = f.read().strip()
if VERSION == "broken":
    raise RuntimeError("upgrade.py: this version does not import")


def _app(environ, start_response):
    q = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    if "sleep" in q:
        time.sleep(float(q["sleep"]))
    body = ("%s %d" % (VERSION, os.getpid())).encode()
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]


application = validator(_app)
