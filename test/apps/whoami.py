"""Reports the worker's credentials, for the --user/--group tests.

/        {"uid": ..., "gid": ..., "groups": [...], "pid": ..., "ppid": ...} as JSON
/body    the length of the request body, read from the file the master passed
"""
import json
import os


def application(environ, start_response):
    if environ["PATH_INFO"] == "/body":
        n = len(environ["wsgi.input"].read())
        out = str(n).encode()
    else:
        out = json.dumps({
            "uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(), "egid": os.getegid(),
            "groups": sorted(os.getgroups()), "pid": os.getpid(), "ppid": os.getppid(),
        }).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(out)))])
    return [out]
