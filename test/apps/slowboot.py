"""WSGI app for test/health_test.go whose import waits until the file named by $SLOWBOOT_GATE
exists: the test sees the master before any worker is ready."""
import os
import time

while not os.path.exists(os.environ["SLOWBOOT_GATE"]):
    time.sleep(0.005)


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
