"""WSGI app for test/configfile_test.go: settings that reach the workers from a config file.

/pid             the worker's pid
/pid?wait=PATH   prints "configapp: waiting" to stderr, waits until the file PATH exists (the
                 test creates it once every worker holds a request), then answers the pid
/env?name=NAME   the value of the environment variable NAME ("" if unset)
/multithread     wsgi.multithread, "True" or "False"
/sleep?s=N       sleeps N seconds (a request longer than the configured timeout)
"""
import os
import sys
import time
from urllib.parse import parse_qs
from wsgiref.validate import validator


def app(environ, start_response):
    path = environ["PATH_INFO"]
    q = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    if path == "/pid":
        if "wait" in q:
            print("configapp: waiting", file=sys.stderr, flush=True)
            while not os.path.exists(q["wait"]):
                time.sleep(0.005)
        body = str(os.getpid())
    elif path == "/env":
        body = os.environ.get(q.get("name", ""), "")
    elif path == "/multithread":
        body = str(environ["wsgi.multithread"])
    elif path == "/sleep":
        time.sleep(float(q.get("s", "0")))
        body = "slept"
    else:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]


application = validator(app)
