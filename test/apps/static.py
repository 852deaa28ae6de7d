"""Test app for static files served by the master (test/static_test.go).

Every request it gets is counted; /count answers how many came before it, so a test can
tell that static hits never reached Python. Any other path answers "app: PATH".
"""
import threading

_lock = threading.Lock()
_count = 0


def application(environ, start_response):
    global _count
    path = environ["PATH_INFO"]
    with _lock:
        seen = _count
        _count += 1
    if path == "/count":
        body = str(seen).encode()
    else:
        body = ("app: %s %s" % (environ["REQUEST_METHOD"], path)).encode("latin-1")
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
