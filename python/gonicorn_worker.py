"""gonicorn worker: runs a WSGI (PEP 3333) application for the Go master.

The master starts this file as `python -c <source>` (set_title then shows a
short process title instead of the source) and talks to it over one
socketpair per thread, with the frames described in docs/protocol.md. The
worker never parses HTTP: the master sends the environ already built, in
marshal format, and receives status, headers and body blocks as frames.

Life of a request (one worker thread, one socket):

 1. Read one frame. `R` carries a marshal environ and the whole body; `B`
    carries the environ and an fd (SCM_RIGHTS) of a file holding the body.
 2. environ = marshal.loads(...) (one C call), plus this thread's constant
    wsgi.* keys and wsgi.input (BytesIO over the body, or the file).
 3. Call app(environ, start_response). start_response only validates and
    encodes (status, headers) with marshal; nothing is sent yet.
 4. A list or tuple result is sent as L (the body's length), S, D..., E in
    one send (after close()), so the master frames it with Content-Length.
    Any other iterable: each non-empty block goes out at once as a D frame
    (the first together with S), and after each block we look for a cancel
    frame (C) from the master without blocking. wsgi.file_wrapper over a real
    file is sent as an F frame carrying the fd, for sendfile in Go.
 5. close() is always called on the result; then E. If the application
    raised, the traceback goes to stderr and to the master as an X frame.
    From then on the request's write() and start_response raise and its
    wsgi.input is closed, so a thread that outlives the request cannot
    reach the next one on this socket.
 6. EOF on the socket means the master closed it: the thread ends, and the
    process exits when all its threads have ended.

Standard library only; Python 3.9+, including free-threaded builds (threads
share nothing mutable but the application). Django projects and settings are
handled by gonicorn_django.py, whose source comes as sys.argv[1].
"""

import array
import ast
import faulthandler
import importlib
import io
import itertools
import marshal
import os
import signal
import socket
import stat
import struct
import sys
import threading
import traceback
import types

# Frame header: uint32 LE payload length, 1 byte kind.
HDR = struct.Struct('<IB')
HDR_SIZE = HDR.size
U32 = struct.Struct('<I')
FILE_ARGS = struct.Struct('<Qq')  # F payload: offset, count (-1 = to EOF)

# Frame kinds, as ints (indexing bytes gives ints).
V, R, B, C = b'V'[0], b'R'[0], b'B'[0], b'C'[0]
Y, S, D, F, E, X = b'Y'[0], b'S'[0], b'D'[0], b'F'[0], b'E'[0], b'X'[0]
L, H = b'L'[0], b'H'[0]
U64 = struct.Struct('<Q')

E_FRAME = HDR.pack(0, E)
C_FRAME = HDR.pack(0, C)

DATA_CHUNK = 1 << 20        # largest D payload we send
MAX_PAYLOAD = (1 << 20) + 64  # largest frame the master accepts from us
RECV_SIZE = 1 << 16         # bytes per ordinary recv
ANC_SIZE = socket.CMSG_SPACE(8 * array.array('i').itemsize)
RECV_FLAGS = getattr(socket, 'MSG_CMSG_CLOEXEC', 0)
IOV_MAX = 512               # buffers per sendmsg (Linux allows 1024)

# The known test vector (docs/protocol.md, "The vector frame"). The master
# sends the same dict, marshal-encoded with z/a strings; if this Python
# decodes it differently, latin-1 environ strings would be corrupted.
VECTOR = {
    'gonicorn': 'wire 1',
    'latin1': '\x00\t\r\n\x7f\x80\xa0\xe9\xff',
    'long': '\xe9\xff caf\xe9 ' * 40,
    '\xe9t\xe9': '',
    '': 'empty key',
}


class ProtocolError(Exception):
    """The master sent something this worker does not understand."""


class LinkBroken(BaseException):
    """The socket to the master failed; this thread must end.

    A BaseException so that an application's `except Exception` around
    write() cannot swallow it."""


# ---------------------------------------------------------------- the link

class Link:
    """One socket to the master: buffered frame reads, queued fds, sends."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b''     # received bytes; buf[pos:] not yet consumed
        self.pos = 0
        self.fds = []      # fds received with SCM_RIGHTS, in order
        self.eof = False

    def _recv(self, size, flags=0):
        """One recvmsg; returns the data (b'' at EOF) and queues fds."""
        try:
            data, anc, mflags, _ = self.sock.recvmsg(size, ANC_SIZE,
                                                     RECV_FLAGS | flags)
        except BlockingIOError:
            raise
        except OSError:
            raise LinkBroken
        self._take_anc(anc, mflags)
        if not data:
            self.eof = True
        return data

    def _recv_into(self, mv):
        try:
            n, anc, mflags, _ = self.sock.recvmsg_into([mv], ANC_SIZE,
                                                       RECV_FLAGS)
        except OSError:
            raise LinkBroken
        self._take_anc(anc, mflags)
        if n == 0:
            self.eof = True
        return n

    def _take_anc(self, anc, mflags):
        for level, typ, cdata in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                fds = array.array('i')
                fds.frombytes(cdata[:len(cdata) - len(cdata) % fds.itemsize])
                self.fds.extend(fds)
        if mflags & socket.MSG_CTRUNC:
            raise ProtocolError('file descriptors were truncated (MSG_CTRUNC)')

    def _append(self, data):
        if self.pos == len(self.buf):
            self.buf = data
        else:
            self.buf = self.buf[self.pos:] + data
        self.pos = 0

    def next_frame(self):
        """Returns (kind, payload memoryview) or None at EOF."""
        while True:
            avail = len(self.buf) - self.pos
            if avail >= HDR_SIZE:
                n, kind = HDR.unpack_from(self.buf, self.pos)
                end = self.pos + HDR_SIZE + n
                if end <= len(self.buf):
                    payload = memoryview(self.buf)[self.pos + HDR_SIZE:end]
                    self.pos = end
                    return kind, payload
                if HDR_SIZE + n > RECV_SIZE:
                    return kind, self._read_big(HDR_SIZE + n)
            if self.eof:
                if avail:
                    raise ProtocolError('EOF inside a frame')
                return None
            self._append(self._recv(RECV_SIZE))

    def _read_big(self, total):
        """Reads a frame larger than RECV_SIZE into its own buffer, exactly,
        so no bytes of the next frame are read (no quadratic copying)."""
        have = len(self.buf) - self.pos
        big = bytearray(total)
        big[:have] = memoryview(self.buf)[self.pos:]
        self.buf, self.pos = b'', 0
        mv = memoryview(big)
        while have < total:
            n = self._recv_into(mv[have:])
            if n == 0:
                raise ProtocolError('EOF inside a frame')
            have += n
        return mv[HDR_SIZE:]

    def take_fd(self):
        if not self.fds:
            raise ProtocolError('B frame without a file descriptor')
        return self.fds.pop(0)

    def cancelled(self):
        """Reports whether the master cancelled the current request: a C
        frame is next in the stream, or the socket reached EOF. Never blocks.
        A pipelined request frame, if any, stays buffered."""
        if len(self.buf) - self.pos < HDR_SIZE and not self.eof:
            try:
                self._append(self._recv(RECV_SIZE, socket.MSG_DONTWAIT))
            except BlockingIOError:
                pass  # nothing from the master: carry on
        if len(self.buf) - self.pos >= HDR_SIZE and \
                self.buf[self.pos + 4] == C:
            self.pos += HDR_SIZE + U32.unpack_from(self.buf, self.pos)[0]
            return True
        return self.eof

    def send(self, parts, fd=None):
        """Sends all buffers in parts (bytes-like) with as few sendmsg calls
        as possible; fd, if given, rides on the first byte."""
        anc = []
        if fd is not None:
            anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                    array.array('i', [fd]))]
        try:
            while parts:
                batch = parts[:IOV_MAX]
                n = self.sock.sendmsg(batch, anc)
                anc = []
                if n == sum(map(len, batch)):  # the usual case: all of it
                    parts = parts[IOV_MAX:]
                    continue
                # Drop what was sent; keep the rest of a partial send.
                i = 0
                while i < len(batch) and n >= len(batch[i]):
                    n -= len(batch[i])
                    i += 1
                parts = parts[i:]
                if n:
                    parts[0] = memoryview(parts[0])[n:]
        except OSError:
            raise LinkBroken


def data_frames(parts, block):
    """Appends D frames for block (non-empty bytes) to parts, split so no
    payload exceeds DATA_CHUNK; big blocks are sliced, never copied."""
    n = len(block)
    if n <= DATA_CHUNK:
        parts.append(HDR.pack(n, D))
        parts.append(block)
        return
    mv = memoryview(block)
    for i in range(0, n, DATA_CHUNK):
        chunk = mv[i:i + DATA_CHUNK]
        parts.append(HDR.pack(len(chunk), D))
        parts.append(chunk)


def error_frame(text):
    """An X frame (or the error text of Y) must fit MAX_PAYLOAD; keep the
    end of a huge traceback, where the exception is."""
    data = text.encode('utf-8', 'backslashreplace')
    if len(data) > MAX_PAYLOAD - 64:
        tail = data[-(MAX_PAYLOAD - 128):].decode('utf-8', 'ignore')
        data = b'[traceback truncated]\n' + tail.encode('utf-8')
    return [HDR.pack(len(data), X), data]


# ---------------------------------------------------------------- WSGI

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
            self.ended = True
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


def handle_request(link, app, environ):
    """Runs one request and answers it: S, D or F frames, then E or X.
    Raises LinkBroken when the socket failed (after close() was called)."""
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


# ---------------------------------------------------------------- serving

def handshake(link, ok, error, django=None):
    """Reads V, checks the vector, answers Y (with the `django` dict of
    gonicorn_django.report, if any). Reports whether the link is ready for
    requests."""
    frame = link.next_frame()
    if frame is None:
        return False
    kind, payload = frame
    if kind != V:
        ok, error = False, 'first frame is %r, want V' % chr(kind)
    elif ok:
        try:
            got = marshal.loads(payload)
        except Exception as e:
            got = e
        if got != VECTOR:
            ok = False
            error = ('this Python decodes the wire vector differently; its '
                     'marshal format is not supported\nwant %a\ngot  %a'
                     % (VECTOR, got))
    if error:
        error = error.encode('utf-8', 'backslashreplace')[-(MAX_PAYLOAD // 2):]
        error = error.decode('utf-8', 'replace')
    ready = {'pid': os.getpid(), 'python': python_version(), 'ok': ok,
             'error': error}
    if ok and django is not None:
        ready['django'] = django
    ready = marshal.dumps(ready, 2)
    link.send([HDR.pack(len(ready), Y), ready])
    return ok


def python_version():
    impl = sys.implementation.name
    v = '%s %d.%d.%d' % ((impl,) + tuple(sys.version_info[:3]))
    if hasattr(sys, '_is_gil_enabled') and not sys._is_gil_enabled():
        v += ' free-threading'
    return v


def serve(sock, app, multithread=False, multiprocess=False, load_error='',
          django=None):
    """Serves one socket until EOF; closes it. With load_error, only
    answers the handshake (ok False). Reports whether the handshake was ok."""
    link = Link(sock)
    constant = {
        'wsgi.version': (1, 0),
        'wsgi.errors': sys.stderr,
        'wsgi.multithread': multithread,
        'wsgi.multiprocess': multiprocess,
        'wsgi.run_once': False,
        'wsgi.file_wrapper': FileWrapper,
        'wsgi.input_terminated': True,
    }
    try:
        if not handshake(link, not load_error, load_error, django):
            return False
        while True:
            frame = link.next_frame()
            if frame is None:
                return True
            kind, payload = frame
            if kind == R:
                n = U32.unpack_from(payload)[0]
                environ = marshal.loads(payload[4:4 + n])
                inp = io.BytesIO(payload[4 + n:])
            elif kind == B:
                environ = marshal.loads(payload)
                inp = os.fdopen(link.take_fd(), 'rb')
            elif kind == C:
                continue  # the request it cancelled had already ended
            else:
                raise ProtocolError('unexpected frame %r' % chr(kind))
            del frame, payload
            environ.update(constant)
            environ['wsgi.input'] = inp
            handle_request(link, app, environ)
    except LinkBroken:
        return True
    except Exception:
        # Not the application's fault (handle_request catches those): a
        # protocol error or a bug here. The master replaces the worker.
        sys.stderr.write('gonicorn worker %d: protocol error, closing the '
                         'socket:\n%s' % (os.getpid(), traceback.format_exc()))
        return False
    finally:
        for fd in link.fds:
            os.close(fd)
        sock.close()


def load_app(spec):
    """Imports `module:callable`. callable may be a dotted attribute path,
    or a call with literal arguments (`create_app()`, `make('x', n=2)`);
    without it, `application` then `app` are tried (like gunicorn)."""
    module, _, obj = spec.partition(':')
    if not module:
        raise ValueError('GONICORN_APP %r: want module:callable' % spec)
    mod = importlib.import_module(module)
    if not obj:
        for name in ('application', 'app'):
            if hasattr(mod, name):
                obj = name
                break
        else:
            raise AttributeError('module %r has no "application" or "app"; '
                                 'name the callable: %s:NAME' % (module, module))
    try:
        expr = ast.parse(obj.strip(), mode='eval').body
    except SyntaxError:
        raise ValueError('GONICORN_APP %r: cannot parse %r' % (spec, obj))
    args, kwargs, call = (), {}, isinstance(expr, ast.Call)
    if call:
        args = [ast.literal_eval(a) for a in expr.args]
        kwargs = {k.arg: ast.literal_eval(k.value) for k in expr.keywords}
        expr = expr.func
    names = []
    while isinstance(expr, ast.Attribute):
        names.append(expr.attr)
        expr = expr.value
    if not isinstance(expr, ast.Name):
        raise ValueError('GONICORN_APP %r: %r is not a name, a dotted path '
                         'or a call with literal arguments' % (spec, obj))
    names.append(expr.id)
    app = mod
    for name in reversed(names):
        app = getattr(app, name)
    if call:
        app = app(*args, **kwargs)
    if not callable(app):
        raise TypeError('GONICORN_APP %r is not callable: %r' % (spec, app))
    return app


def django_support(source):
    """Returns the module gonicorn_django (Django projects and settings),
    made from its source, which the master passes as sys.argv[1]; without
    it (the Python tests), imported from beside this file."""
    if 'gonicorn_django' in sys.modules:
        return sys.modules['gonicorn_django']
    if source is None:
        import gonicorn_django
        return gonicorn_django
    mod = types.ModuleType('gonicorn_django')
    exec(compile(source, 'gonicorn_django.py', 'exec'), mod.__dict__)
    sys.modules['gonicorn_django'] = mod
    return mod


def set_title(title):
    """Shows title as this process's command line (ps, top -c) and, cut to
    15 bytes, as its name (comm: top, ps -e, pgrep), without setproctitle.

    The master starts the worker as `python -c <this source>`, so the argv
    area, which /proc/PID/cmdline reads, is far longer than any title: it is
    overwritten in place through /proc/self/mem (Python keeps its own copy
    of argv). The title ends with a NUL and the area's last byte is not one,
    which tells the kernel to read the command line up to that first NUL, as
    setproctitle(3) does. Best effort: where /proc is not writable the
    command line stays as it was."""
    try:
        with open('/proc/self/comm', 'w') as f:
            f.write(title[:15])
        with open('/proc/self/stat', 'rb') as f:
            stat = f.read()
        # Fields 48 and 49 (arg_start, arg_end); field 2 (comm) may hold
        # spaces, so count from the ')' that ends it (field 3 is index 0).
        fields = stat[stat.rindex(b')') + 2:].split()
        start, end = int(fields[45]), int(fields[46])
        data = title.encode('utf-8', 'replace')[:end - start - 2] + b'\0'
        data += b'\0' * (end - start - 1 - len(data)) + b' '
        with open('/proc/self/mem', 'r+b', buffering=0) as f:
            f.seek(start)
            f.write(data)
    except (OSError, ValueError, IndexError):
        pass


def main():
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the master decides
    # The Django support's source; the app sees sys.argv == ['-c'].
    django_source = sys.argv.pop(1) if len(sys.argv) > 1 else None
    if os.environ.get('GONICORN_TITLE'):
        set_title(os.environ['GONICORN_TITLE'])
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    # A crash in C code (SIGSEGV, SIGBUS, SIGFPE, SIGABRT, SIGILL) prints the
    # Python stacks of all threads to stderr, i.e. into the error log.
    faulthandler.enable(all_threads=True)
    if os.environ.get('GONICORN_SCHED') == 'batch':
        # SCHED_BATCH: a woken worker does not preempt the master at once, so
        # the master queues several requests before the worker runs them
        # and answers them in one send (docs/architecture.md, "Scheduling").
        try:
            os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
        except (AttributeError, OSError):
            pass
    fds = [int(s) for s in os.environ.get('GONICORN_FDS', '').split(',') if s]
    if not fds:
        sys.stderr.write('gonicorn worker: GONICORN_FDS is empty\n')
        sys.exit(2)
    paths = [p for p in os.environ.get('GONICORN_PYTHONPATH', '')
             .split(os.pathsep) if p]
    sys.path[:0] = paths

    app, load_error, django = None, '', None
    try:
        settings = os.environ.get('GONICORN_DJANGO_SETTINGS')
        if settings:  # a Django project found by its manage.py
            app = django_support(django_source).load_application(settings)
        else:
            app = load_app(os.environ.get('GONICORN_APP', ''))
        if 'django.conf' in sys.modules:  # only an app that imported Django
            django = django_support(django_source).report()
    except BaseException:
        # Sent in the ready frame; the master logs it once for all workers.
        load_error = traceback.format_exc()
    socks = [socket.socket(fileno=fd) for fd in fds]
    multithread = len(socks) > 1
    multiprocess = os.environ.get('GONICORN_MULTIPROCESS') == '1'

    results = [False] * len(socks)

    def run(i):
        results[i] = serve(socks[i], app, multithread, multiprocess,
                           load_error, django)

    threads = [threading.Thread(target=run, args=(i,),
                                name='gonicorn-slot-%d' % i)
               for i in range(1, len(socks))]
    for t in threads:
        t.start()
    run(0)
    for t in threads:
        t.join()
    sys.stderr.flush()
    sys.exit(3 if load_error or not all(results) else 0)


if __name__ == '__main__':
    main()
