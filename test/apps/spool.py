"""Test app for the response spool (test/spool_test.go).

/stream?n=BYTES&progress=PATH   yields n bytes in 256 KiB blocks; block k is b"<k> "
                                repeated. After each block it writes the bytes yielded so far
                                to PATH, and when the server closes the iterable it writes them
                                to PATH.closed, so the test can follow the worker without
                                sleeping on it.
"""
import os
from urllib.parse import parse_qs

BLOCK = 256 << 10


def block(k, size):
    unit = b"%d " % k
    return (unit * (size // len(unit) + 1))[:size]


def record(path, n):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(n))
    os.replace(tmp, path)


class Stream:
    def __init__(self, n, progress):
        self.n, self.progress, self.sent = n, progress, 0

    def __iter__(self):
        k = 0
        while self.sent < self.n:
            size = min(BLOCK, self.n - self.sent)
            yield block(k, size)
            self.sent += size
            k += 1
            record(self.progress, self.sent)

    def close(self):
        record(self.progress + ".closed", self.sent)


def application(environ, start_response):
    q = parse_qs(environ["QUERY_STRING"])
    n, progress = int(q["n"][0]), q["progress"][0]
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return Stream(n, progress)
