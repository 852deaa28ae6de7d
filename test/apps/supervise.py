"""WSGI app for test/supervise_test.go: hung requests and leaking workers.

/pid                answers the worker's pid
/pid?sleep=S        the same after sleeping S seconds
/hang               prints a line to stderr, then blocks forever in
                    hang_forever_here (the stack dump must name it)
/hang-after         sends one block, then blocks forever
/leak               keeps 5 MiB more (written, so resident), answers the pid
/grandchild         starts `sleep 300` with the worker's stdout and stderr (as
                    subprocess.Popen does without redirection), answers
                    "WORKERPID GRANDCHILDPID"
/break              writes a frame of an unknown kind to the worker's socket (one
                    --thread) as a stray thread could: the master sees a protocol
                    error from a worker that is alive

Set in the workers' environment (-e KEY=VALUE), at import:
SUPERVISE_IMPORT_SLEEP=S    sleeps S seconds (a slow app import, for reload tests)
SUPERVISE_BALLAST_MIB=N     keeps N MiB (resident), so a fresh worker is already big
SUPERVISE_THREAD=1          starts a non-daemon thread that never ends, so the worker
                            does not exit when its sockets close
SUPERVISE_IGNORE_TERM=1     ignores SIGTERM
"""
import os
import signal
import subprocess
import sys
import threading
import time
from urllib.parse import parse_qs

_never = threading.Event()
_leaked = []

time.sleep(float(os.environ.get("SUPERVISE_IMPORT_SLEEP", "0")))
_ballast = b"x" * (int(os.environ.get("SUPERVISE_BALLAST_MIB", "0")) << 20)
if os.environ.get("SUPERVISE_THREAD") == "1":
    threading.Thread(target=_never.wait, name="never-ends").start()
if os.environ.get("SUPERVISE_IGNORE_TERM") == "1":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def hang_forever_here():
    print("supervise: hanging", file=sys.stderr, flush=True)
    _never.wait()


def application(environ, start_response):
    path = environ["PATH_INFO"]
    q = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    text = [("Content-Type", "text/plain")]
    if path == "/hang":
        hang_forever_here()
    if path == "/hang-after":
        start_response("200 OK", text)

        def body():
            yield b"block1"
            hang_forever_here()
        return body()
    if path == "/grandchild":
        # A session of its own keeps it out of the server's process group, which the
        # harness checks; the test kills it by pid.
        child = subprocess.Popen(["sleep", "300"], start_new_session=True)
        start_response("200 OK", text)
        return [b"%d %d" % (os.getpid(), child.pid)]
    if path == "/break":
        fd = int(os.environ["GONICORN_FDS"].split(",")[0])
        os.write(fd, b"\x00\x00\x00\x00Z")  # empty frame of kind Z
        start_response("200 OK", text)
        return [str(os.getpid()).encode()]
    if path == "/leak":
        _leaked.append(b"x" * (5 << 20))
    if "sleep" in q:
        time.sleep(float(q["sleep"]))
    start_response("200 OK", text)
    return [str(os.getpid()).encode()]
