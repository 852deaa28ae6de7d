"""gonicorn worker, the response: one request through the WSGI application.

Its job: steps 3 to 5 of the life of a request (gonicorn_worker's
docstring). handle_request calls the app with a Response's start_response,
sends the body as the app produces it (a list in one send with its length,
any other iterable block by block, a FileWrapper over a regular file as its
fd), always calls close(), and ends the request with E, or with X and the
traceback if the application raised. PEP 3333's rules on start_response,
write() and the response iterable are enforced here.

Top-down: handle_request, the Response it drives, then encode_start (the
S payload) and FileWrapper. Frames go out through gonicorn_wire's Link.
Standard library only.
"""

import io
import itertools
import marshal
import os
import stat
import sys
import threading
import traceback

from gonicorn_wire import (
    E_FRAME, F, FILE_ARGS, H, HDR, L, MAX_PAYLOAD, S, U64, LinkBroken,
    data_frames, error_frame)


def handle_request(link, app, environ):
    """Runs one request and answers it: S, D or F frames, then E or X.
    Returns its Response (post_request reads it, gonicorn_hooks). Raises
    LinkBroken when the socket failed (after close() was called)."""
    resp = Response(link)
    environ['wsgi.early_hints'] = resp.early_hints
    inp = environ['wsgi.input']
    try:
        result = None
        blocks = ()
        try:
            result = app(environ, resp.start_response)
            if isinstance(result, (list, tuple)):
                blocks = resp.list_blocks(result)  # calls close()
            elif not (type(result) is FileWrapper and resp.send_file(result)):
                resp.send_iter(result)
        finally:
            # PEP 3333: close() is always called, whatever happened.
            close = getattr(result, 'close', None)
            if close is not None and not isinstance(result, (list, tuple)):
                close()
            inp.close()
        resp.end(blocks)
    except Exception:
        # The master logs the traceback from the X frame, with the request:
        # once. Only if that cannot reach it does it go to stderr.
        text = traceback.format_exc()
        try:
            resp.fail(text)
        except LinkBroken:
            sys.stderr.write(text)
            raise
    return resp


class Response:
    """The state of one response: start_response, write, and sending.

    It is bound to its request: once E or X went out, write() and
    start_response raise RuntimeError (wsgi.input is closed by then), so a
    thread of the app that outlives its request cannot put bytes into the
    next request's response on this socket. The lock makes each send, and
    the check that the request is still running, one step: a write() from
    another thread either goes out before E or raises."""

    def __init__(self, link):
        self.link = link
        self.start = None    # encoded S payload once start_response ran
        self.headers = None  # the headers list given to start_response
        self.sent = False    # S went out: status can no longer change
        self.ended = False   # E or X went out: the request is over
        self.failed = False  # X went out: the application failed
        self.lock = threading.Lock()  # held for each send and the end

    def _check_running(self, what):
        if self.ended:
            raise RuntimeError('%s called after its request ended' % what)

    def start_response(self, status, headers, exc_info=None):
        # No lock: nothing is sent here, and a start set after the end is
        # never sent. (encode_start may run an app's __str__.)
        self._check_running('start_response()')
        if exc_info is not None:
            try:
                if self.sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None  # PEP 3333: avoid a reference cycle
        elif self.start is not None:
            raise RuntimeError('start_response called a second time '
                               'without exc_info')
        self.start = encode_start(status, headers)
        self.headers = headers
        return self.write

    def _head(self, parts):
        """Appends the S frame to parts unless it was already sent."""
        if not self.sent:
            if self.start is None:
                raise RuntimeError('the application did not call '
                                   'start_response before its body')
            parts.append(HDR.pack(len(self.start), S))
            parts.append(self.start)
            self.sent = True

    def early_hints(self, headers):
        """wsgi.early_hints (gunicorn 25's API): sends the (name, value)
        headers at once as a 103 Early Hints (RFC 8297), before the final
        response. Ignored once the response has started, and by the master
        for an HTTP/1.0 client; bad headers raise as in start_response."""
        payload = encode_start('103 Early Hints', headers)
        with self.lock:
            self._check_running('wsgi.early_hints()')
            if headers and not self.sent:
                self.link.send([HDR.pack(len(payload), H), payload])

    def write(self, data):
        """The write() callable (PEP 3333): sends at once."""
        if not isinstance(data, bytes):
            raise TypeError('write() needs bytes, not %s'
                            % type(data).__name__)
        self._send_block(data, 'write()')

    def _send_block(self, block, what):
        """Sends one body block (with S if it was not sent yet)."""
        with self.lock:
            self._check_running(what)
            if block:
                parts = []
                self._head(parts)
                data_frames(parts, block)
                self.link.send(parts)

    def list_blocks(self, result):
        """A list or tuple: calls close() (if a subclass has one), checks
        and returns its blocks, to go out with E in one send (end)."""
        close = getattr(result, 'close', None)
        if close is not None:
            close()
        for block in result:
            if not isinstance(block, bytes):
                raise TypeError('response block must be bytes, not %s'
                                % type(block).__name__)
        return result

    def _length(self, n):
        """An L frame announcing an n-byte body, unless S went out already."""
        if self.sent:
            return []
        return [HDR.pack(U64.size, L), U64.pack(n)]

    def send_iter(self, result):
        """Any iterable: each block goes out as soon as the app yields it.
        The caller calls close(), then end()."""
        link = self.link
        for block in result:
            if not isinstance(block, bytes):
                raise TypeError('response block must be bytes, not %s'
                                % type(block).__name__)
            if block:
                # A cancel is looked for before each block but the first: a
                # one-block response (Django's HttpResponse) then costs no
                # extra recv, and a stream stops at its next block.
                if self.sent and link.cancelled():
                    return
                self._send_block(block, 'the response iterable')

    def end(self, blocks=()):
        """Sends what is left (S for an empty body, a list's blocks) and E
        in one send. The request is over: write() raises from now on."""
        with self.lock:
            # A body whose length is known here (a list's blocks, or an
            # empty one) gets L before S, so the master frames it with
            # Content-Length whatever the timing.
            parts = self._length(sum(len(block) for block in blocks))
            self._head(parts)
            for block in blocks:
                if block:
                    data_frames(parts, block)
            parts.append(E_FRAME)
            self.ended = True
            # Sent at once, also when the next request is already buffered:
            # holding a fast answer to send it with the next one saves a
            # send, but then it waits as long as the next request runs.
            self.link.send(parts)

    def fail(self, text):
        """Sends X with the traceback text. The request is over."""
        with self.lock:
            self.ended = self.failed = True
            self.link.send(error_frame(text))

    def send_file(self, wrapper):
        """A FileWrapper over a regular file: S + F with the fd. Returns
        False (nothing sent) if the file cannot be passed as an fd."""
        f = wrapper.filelike
        try:
            fd = f.fileno()
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return False
        except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
            return False
        try:
            offset = f.tell()
        except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
            offset = 0
        count = -1
        for name, value in self.headers or ():
            if name.lower() == 'content-length':
                try:
                    count = int(value)
                except ValueError:
                    pass
        with self.lock:
            parts = []
            self._head(parts)
            parts.append(HDR.pack(FILE_ARGS.size, F))
            parts.append(FILE_ARGS.pack(offset, count))
            self.link.send(parts, fd)
        return True


_TUPLE = frozenset([tuple])
_TWO = frozenset([2])
_STR = frozenset([str])


def encode_start(status, headers):
    """Returns the S payload for (status, headers), or raises TypeError.

    The common case is checked with C-level passes (no Python code per
    header); the Go side checks the bytes (tokens, CR/LF). str subclasses
    (e.g. Django's SafeString) are converted with str() on the slow path."""
    try:
        if (type(status) is str and type(headers) is list
                and set(map(type, headers)) <= _TUPLE
                and set(map(len, headers)) <= _TWO
                and set(map(type, itertools.chain.from_iterable(headers)))
                <= _STR):
            payload = marshal.dumps((status, headers), 2)
        else:
            payload = _encode_start_slow(status, headers)
    except (TypeError, ValueError) as e:
        raise TypeError('invalid status or headers: %s' % e) from None
    if len(payload) > MAX_PAYLOAD:
        raise ValueError('response headers too large: %d bytes' % len(payload))
    return payload


def _encode_start_slow(status, headers):
    if not isinstance(status, str):
        raise TypeError('status must be str, not %s' % type(status).__name__)
    if not isinstance(headers, list):
        raise TypeError('headers must be a list, not %s'
                        % type(headers).__name__)
    clean = []
    for h in headers:
        if not (isinstance(h, tuple) and len(h) == 2 and
                isinstance(h[0], str) and isinstance(h[1], str)):
            raise TypeError('header must be a (str, str) tuple: %r' % (h,))
        clean.append((str(h[0]), str(h[1])))
    return marshal.dumps((str(status), clean), 2)


class FileWrapper:
    """wsgi.file_wrapper (PEP 3333, "Optional Platform-Specific File
    Handling"). Iterable in blksize blocks; when the app returns one over a
    regular file, the worker passes the fd to the master instead."""

    def __init__(self, filelike, blksize=8192):
        self.filelike = filelike
        self.blksize = blksize
        if hasattr(filelike, 'close'):
            self.close = filelike.close

    def __iter__(self):
        return self

    def __next__(self):
        data = self.filelike.read(self.blksize)
        if data:
            return data
        raise StopIteration
