"""Tests for the worker (gonicorn_worker.py and the modules it imports,
gonicorn_wire.py and gonicorn_response.py), driving it over real socketpairs
the way the Go master does: in-process (serve() in a thread, apps as
closures) and as a subprocess started like the master starts it (python -c
<gonicorn_boot.py> with the modules' names and sources: WORKER_ARGS).

Run: python3 -m unittest test_gonicorn_worker   (go test ./python/ does it)
"""

import array
import io
import marshal
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import traceback
import unittest
from unittest import mock
import warnings
import wsgiref.validate

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gonicorn_response as response  # noqa: E402
import gonicorn_wire as wire  # noqa: E402
import gonicorn_worker as gw  # noqa: E402

# The worker's modules in the order the master passes them (python.Modules).
MODULES = ('gonicorn_wire', 'gonicorn_response', 'gonicorn_django',
           'gonicorn_dev', 'gonicorn_hooks', 'gonicorn_worker')


def read_source(name):
    with open(os.path.join(HERE, name + '.py')) as f:
        return f.read()


# The interpreter's arguments the master starts a worker with (python.Args).
WORKER_ARGS = ['-c', read_source('gonicorn_boot')]
for _name in MODULES:
    WORKER_ARGS += [_name, read_source(_name)]

HDR = struct.Struct('<IB')
TIMEOUT = 10


def encode_environ(d):
    """The Go encoder's format: dict of z/a strings carrying latin-1 bytes."""
    out = [b'{']
    for k, v in d.items():
        for s in (k, v):
            b = s.encode('latin-1')
            if len(b) < 256:
                out.append(b'z' + bytes([len(b)]))
            else:
                out.append(b'a' + struct.pack('<I', len(b)))
            out.append(b)
    out.append(b'0')
    return b''.join(out)


def frame(kind, payload=b''):
    return HDR.pack(len(payload), ord(kind)) + payload


def request_frame(environ, body=b''):
    env = encode_environ(environ)
    return frame('R', struct.pack('<I', len(env)) + env + body)


def base_environ(**kw):
    env = {
        'REQUEST_METHOD': 'GET', 'SCRIPT_NAME': '', 'PATH_INFO': '/',
        'QUERY_STRING': '', 'SERVER_NAME': 'localhost', 'SERVER_PORT': '80',
        'SERVER_PROTOCOL': 'HTTP/1.1', 'REMOTE_ADDR': '127.0.0.1',
        'wsgi.url_scheme': 'http',
    }
    env.update(kw)
    return env


class GoSide:
    """The master's end of one socket: frame reads with fds, writes.

    L frames (the body's length, announced before S) are not returned with
    the other frames: their values are collected in lengths, in order."""

    def __init__(self, sock):
        self.sock = sock
        self.sock.settimeout(TIMEOUT)
        self.buf = b''
        self.fds = []
        self.lengths = []

    def _is_length(self, k, payload):
        if chr(k) != 'L':
            return False
        self.lengths.append(struct.unpack('<Q', payload)[0])
        return True

    def recv_some(self):
        data, anc, flags, _ = self.sock.recvmsg(1 << 20, socket.CMSG_SPACE(64))
        for level, typ, cdata in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                a = array.array('i')
                a.frombytes(cdata[:len(cdata) - len(cdata) % a.itemsize])
                self.fds.extend(a)
        self.buf += data
        return data

    def frames_buffered(self):
        """Splits whole frames off the buffer."""
        out = []
        while len(self.buf) >= 5:
            n, k = HDR.unpack_from(self.buf)
            if len(self.buf) < 5 + n:
                break
            if not self._is_length(k, self.buf[5:5 + n]):
                out.append((chr(k), self.buf[5:5 + n]))
            self.buf = self.buf[5 + n:]
        return out

    def next_frame(self):
        while True:
            fr = self.frames_buffered_one()
            if fr is not None:
                return fr
            if not self.recv_some():
                return None

    def frames_buffered_one(self):
        while len(self.buf) >= 5:
            n, k = HDR.unpack_from(self.buf)
            if len(self.buf) < 5 + n:
                break
            fr = (chr(k), self.buf[5:5 + n])
            self.buf = self.buf[5 + n:]
            if not self._is_length(k, fr[1]):
                return fr
        return None

    def response(self):
        """Frames up to and including E or X."""
        out = []
        while True:
            fr = self.next_frame()
            if fr is None:
                raise EOFError('EOF before E/X; got %r' % out)
            out.append(fr)
            if fr[0] in 'EX':
                return out

    def handshake(self, vector=None):
        v = encode_environ(wire.VECTOR if vector is None else vector)
        self.sock.sendall(frame('V', v))
        kind, payload = self.next_frame()
        assert kind == 'Y', kind
        return marshal.loads(payload)

    def send(self, data, fd=None):
        if fd is None:
            self.sock.sendall(data)
        else:
            self.sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                        array.array('i', [fd]))])

    def close(self):
        for fd in self.fds:
            os.close(fd)
        self.fds = []
        self.sock.close()


class InProcess(unittest.TestCase):
    """serve() in a thread with an app object."""

    def start(self, app, handshake=True, **kw):
        # The worker logs tracebacks to sys.stderr (wsgi.errors): keep them.
        self.stderr = io.StringIO()
        patcher = mock.patch.object(sys, 'stderr', self.stderr)
        patcher.start()
        self.addCleanup(patcher.stop)
        go, worker = socket.socketpair()
        self.go = GoSide(go)
        self.result = []
        self.thread = threading.Thread(
            target=lambda: self.result.append(gw.serve(worker, app, **kw)))
        self.thread.start()
        self.addCleanup(self.stop)
        if handshake:
            y = self.go.handshake()
            self.assertTrue(y['ok'], y)
        return self.go

    def stop(self):
        self.go.close()
        self.thread.join(TIMEOUT)
        self.assertFalse(self.thread.is_alive(), 'worker thread did not end')

    def roundtrip(self, app, environ=None, body=b'', **kw):
        go = self.start(app, **kw)
        go.send(request_frame(environ or base_environ(), body))
        return go.response()

    def check_ok(self, frames, status='200 OK'):
        self.assertEqual(frames[0][0], 'S', frames)
        self.assertEqual(marshal.loads(frames[0][1])[0], status)
        self.assertEqual(frames[-1][0], 'E', frames)
        return b''.join(p for k, p in frames if k == 'D')


class TestHandshake(InProcess):

    def test_ready(self):
        go = self.start(None, handshake=False)
        y = go.handshake()
        self.assertEqual(set(y), {'pid', 'python', 'ok', 'error'})
        self.assertEqual((y['pid'], y['ok'], y['error']), (os.getpid(), True, ''))
        self.assertIn('%d.%d' % sys.version_info[:2], y['python'])

    def test_bad_vector(self):
        go = self.start(None, handshake=False)
        bad = dict(wire.VECTOR, latin1='\xe9')
        y = go.handshake(bad)
        self.assertFalse(y['ok'])
        self.assertIn('decodes the wire vector differently', y['error'])
        self.assertIsNone(go.next_frame())  # the worker closed the socket

    def test_load_error(self):
        go = self.start(None, handshake=False, load_error='Traceback: boom')
        y = go.handshake()
        self.assertEqual((y['ok'], y['error']), (False, 'Traceback: boom'))

    def test_eof_ends_thread(self):
        self.start(lambda e, s: [])
        self.go.sock.shutdown(socket.SHUT_WR)
        self.thread.join(TIMEOUT)
        self.assertEqual(self.result, [True])


def hello(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'hello ', b'world']


class TestResponses(InProcess):

    def test_list_one_send(self):
        go = self.start(hello)
        go.send(request_frame(base_environ()))
        select.select([go.sock], [], [], TIMEOUT)
        go.recv_some()  # one read holds the whole response
        frames = go.frames_buffered()
        self.assertEqual([k for k, _ in frames], ['S', 'D', 'D', 'E'])
        self.assertEqual(marshal.loads(frames[0][1]),
                         ('200 OK', [('Content-Type', 'text/plain')]))
        self.assertEqual(go.buf, b'')

    def test_body_length_announced_when_known(self):
        # L comes before S exactly when the whole body is known as S goes
        # out (a list or tuple, an empty body), so the master's framing
        # depends on what the app returned, never on timing.
        def gen(environ, start_response):
            start_response('200 OK', [])
            yield b'abc'

        def empty_gen(environ, start_response):
            start_response('200 OK', [])
            yield b''

        def write_then_list(environ, start_response):
            start_response('200 OK', [])(b'written')
            return [b'listed']

        def tuple_app(environ, start_response):
            start_response('200 OK', [])
            return (b'ab', b'', b'cde')
        for app, want in ((hello, [11]), (tuple_app, [5]), (gen, []),
                          (empty_gen, [0]), (write_then_list, [])):
            with self.subTest(app=app.__name__):
                go = self.start(app)
                go.send(request_frame(base_environ()))
                raw = b''
                while not raw.endswith(frame('E')):
                    raw += go.recv_some()
                frames = []
                while raw:
                    n, k = HDR.unpack_from(raw)
                    frames.append((chr(k), raw[5:5 + n]))
                    raw = raw[5 + n:]
                kinds = [k for k, _ in frames]
                self.assertEqual(kinds[0], 'L' if want else 'S', kinds)
                self.assertEqual([struct.unpack('<Q', p)[0]
                                  for k, p in frames if k == 'L'], want)
                self.assertEqual(kinds.count('L'), len(want))
                self.stop()

    def test_pipelined_requests_answered_in_order(self):
        # Three requests written at once (the master pipelines when every
        # slot is busy): three whole answers, in order.
        seen = []

        def app(environ, start_response):
            seen.append(environ['QUERY_STRING'])
            start_response('200 OK', [])
            return [environ['QUERY_STRING'].encode()]

        go = self.start(app)
        go.send(b''.join(request_frame(base_environ(QUERY_STRING=q))
                         for q in 'abc'))
        for q in 'abc':
            frames = go.response()
            self.assertEqual([k for k, _ in frames], ['S', 'D', 'E'])
            self.assertEqual(bytes(frames[1][1]), q.encode())
        self.assertEqual(seen, ['a', 'b', 'c'])

    def test_answer_not_held_behind_slow_next(self):
        # Two requests written at once; the second waits until the test has
        # read the first answer. The first answer must go out when the first
        # request ends, not with the second one's.
        first_seen = threading.Event()
        calls, waited = [], []

        def app(environ, start_response):
            calls.append(1)
            if len(calls) == 2:
                waited.append(first_seen.wait(TIMEOUT))
            start_response('200 OK', [])
            return [b'x']

        go = self.start(app)
        go.send(request_frame(base_environ()) * 2)
        first = go.response()
        first_seen.set()
        self.assertEqual(first[-1][0], 'E')
        self.assertEqual(go.response()[-1][0], 'E')
        self.assertEqual(waited, [True], 'the first answer came only after '
                         'the second request gave up waiting for it')

    def test_environ(self):
        seen = {}

        def app(environ, start_response):
            seen.update(environ)
            start_response('200 OK', [])
            return []
        env = base_environ(PATH_INFO='/caf\xe9/\xff', HTTP_X='v' * 300)
        self.check_ok(self.roundtrip(app, env))
        for k, v in env.items():
            self.assertEqual(seen[k], v)
        self.assertEqual(seen['wsgi.version'], (1, 0))
        self.assertIs(seen['wsgi.errors'], sys.stderr)
        self.assertIs(seen['wsgi.multithread'], False)
        self.assertIs(seen['wsgi.multiprocess'], False)
        self.assertIs(seen['wsgi.run_once'], False)
        self.assertIs(seen['wsgi.input_terminated'], True)
        self.assertIs(seen['wsgi.file_wrapper'], response.FileWrapper)

    def test_generator_streams(self):
        go_on = threading.Event()
        computed = []

        def app(environ, start_response):
            start_response('200 OK', [('Content-Type', 'text/plain')])
            yield b'first'
            computed.append(go_on.wait(TIMEOUT))
            yield b'second'
        go = self.start(app)
        go.send(request_frame(base_environ()))
        self.assertEqual(go.next_frame()[0], 'S')
        self.assertEqual(go.next_frame(), ('D', b'first'))
        self.assertEqual(computed, [])  # D arrived before the next block
        go_on.set()
        self.assertEqual(go.response(), [('D', b'second'), ('E', b'')])
        self.assertEqual(computed, [True])

    def test_empty_generator_s_and_e_together(self):
        def app(environ, start_response):
            start_response('204 No Content', [])
            return iter([b''])
        go = self.start(app)
        go.send(request_frame(base_environ()))
        select.select([go.sock], [], [], TIMEOUT)
        go.recv_some()
        self.assertEqual([k for k, _ in go.frames_buffered()], ['S', 'E'])

    def test_start_response_in_generator(self):
        def app(environ, start_response):
            start_response('201 Created', [])
            yield b'x'
        self.assertEqual(self.check_ok(self.roundtrip(app), '201 Created'), b'x')

    def test_write(self):
        def app(environ, start_response):
            write = start_response('200 OK', [])
            write(b'a')
            write(b'')
            write(b'b')
            return [b'c']
        frames = self.roundtrip(app)
        self.assertEqual([k for k, _ in frames], ['S', 'D', 'D', 'D', 'E'])
        self.assertEqual(self.check_ok(frames), b'abc')

    def test_big_block_split(self):
        big = os.urandom(wire.DATA_CHUNK * 2 + 10)

        def app(environ, start_response):
            start_response('200 OK', [])
            yield big
        frames = self.roundtrip(app)
        self.assertEqual([len(p) for k, p in frames if k == 'D'],
                         [wire.DATA_CHUNK, wire.DATA_CHUNK, 10])
        self.assertEqual(self.check_ok(frames), big)

    def test_exc_info_replace_before_send(self):
        def app(environ, start_response):
            start_response('200 OK', [('A', 'b')])
            try:
                raise ValueError('oops')
            except ValueError:
                start_response('500 Internal Server Error', [('C', 'd')],
                               sys.exc_info())
            return [b'err']
        frames = self.roundtrip(app)
        self.assertEqual(marshal.loads(frames[0][1]),
                         ('500 Internal Server Error', [('C', 'd')]))
        self.assertEqual(self.check_ok(frames, '500 Internal Server Error'),
                         b'err')

    def test_exc_info_reraise_after_send(self):
        def app(environ, start_response):
            start_response('200 OK', [])
            yield b'partial'
            try:
                raise KeyError('late failure')
            except KeyError:
                start_response('500 Internal Server Error', [], sys.exc_info())
            yield b'never'
        frames = self.roundtrip(app)
        self.assertEqual([k for k, _ in frames], ['S', 'D', 'X'])
        self.assertIn(b"KeyError: 'late failure'", frames[-1][1])

    def test_second_start_response(self):
        def app(environ, start_response):
            start_response('200 OK', [])
            start_response('200 OK', [])
            return [b'']
        frames = self.roundtrip(app)
        self.assertEqual([k for k, _ in frames], ['X'])
        self.assertIn(b'start_response called a second time', frames[0][1])

    def test_no_start_response(self):
        frames = self.roundtrip(lambda e, s: [b'x'])
        self.assertEqual([k for k, _ in frames], ['X'])

    def test_app_raises_then_link_still_works(self):
        calls = []

        def app(environ, start_response):
            calls.append(1)
            if len(calls) == 1:
                raise RuntimeError('first request fails')
            return hello(environ, start_response)
        frames = self.roundtrip(app)
        self.assertEqual(frames[0][0], 'X')
        self.assertIn(b'RuntimeError: first request fails', frames[0][1])
        # The master logs the X frame's traceback; a copy on stderr would
        # put it in the error log twice.
        self.assertNotIn('RuntimeError', self.stderr.getvalue())
        self.go.send(request_frame(base_environ()))
        self.assertEqual(self.check_ok(self.go.response()), b'hello world')


    def test_callables_bound_to_their_request(self):
        # A request's write(), start_response and wsgi.input, kept by the app
        # and called after the request ended (here: during the next one on
        # the same socket), raise; the next response holds its own bytes.
        kept = {}

        def app(environ, start_response):
            if environ['PATH_INFO'] == '/first':
                kept['write'] = start_response('200 OK', [])
                kept['start_response'] = start_response
                kept['input'] = environ['wsgi.input']
                return [b'first']
            start_response('200 OK', [])
            errors = []
            for call in (lambda: kept['write'](b'LEAKED'),
                         lambda: kept['write'](b''),
                         lambda: kept['start_response']('500 X', []),
                         lambda: kept['input'].read()):
                try:
                    call()
                    errors.append('ok')
                except Exception as e:
                    errors.append(type(e).__name__)
            return [','.join(errors).encode()]
        go = self.start(app)
        go.send(request_frame(base_environ(PATH_INFO='/first'), b'body'))
        self.assertEqual(self.check_ok(go.response()), b'first')
        go.send(request_frame(base_environ(PATH_INFO='/second')))
        self.assertEqual(self.check_ok(go.response()),
                         b'RuntimeError,RuntimeError,RuntimeError,ValueError')

    def test_write_from_thread_racing_the_end(self):
        # A thread writes in a loop while its request ends: each write goes
        # out before E or raises; after E nothing more arrives.
        for _ in range(50):
            outcome = []
            done = threading.Event()

            def app(environ, start_response):
                write = start_response('200 OK', [])

                def spray():
                    try:
                        while True:
                            write(b'x')
                    except RuntimeError:
                        outcome.append('raised')
                    done.set()
                threading.Thread(target=spray).start()
                return []
            go = self.start(app)
            go.send(request_frame(base_environ()))
            frames = go.response()
            self.assertTrue(done.wait(TIMEOUT))
            self.assertEqual(outcome, ['raised'])
            self.assertEqual(frames[0][0], 'S')
            self.assertEqual({k for k, _ in frames[1:-1]} - {'D'}, set())
            self.assertEqual(frames[-1][0], 'E')
            go.sock.settimeout(0.05)
            with self.assertRaises(socket.timeout):
                go.recv_some()  # nothing after E
            go.sock.settimeout(TIMEOUT)
            self.stop()
    def test_early_hints(self):
        # H frames go out at once, before S; once S went out they are
        # dropped; bad headers raise as in start_response.
        seen = []

        def app(environ, start_response):
            hints = environ['wsgi.early_hints']
            hints([('Link', '</a.css>; rel=preload; as=style')])
            hints([])  # nothing to send
            write = start_response('200 OK', [])
            write(b'x')
            hints([('Link', '</late.js>; rel=preload')])
            try:
                hints([('Link', 5)])
            except TypeError as e:
                seen.append(str(e))
            return [b'y']
        frames = self.roundtrip(app)
        self.assertEqual([k for k, _ in frames], ['H', 'S', 'D', 'D', 'E'])
        self.assertEqual(marshal.loads(frames[0][1]),
                         ('103 Early Hints',
                          [('Link', '</a.css>; rel=preload; as=style')]))
        self.assertEqual(len(seen), 1, seen)
        self.assertIn('invalid status or headers', seen[0])

    def test_bad_headers(self):
        cases = [
            ('int value', '200 OK', [('X-Num', 5)]),
            ('bytes name', '200 OK', [(b'X', 'v')]),
            ('3-tuple', '200 OK', [('X', 'v', 'w')]),
            ('list item', '200 OK', [['X', 'v']]),
            ('tuple of headers', '200 OK', (('X', 'v'),)),
            ('bytes status', b'200 OK', []),
        ]
        for name, status, headers in cases:
            with self.subTest(name):
                def app(environ, start_response):
                    start_response(status, headers)
                    return [b'x']
                frames = self.roundtrip(app)
                self.assertEqual([k for k, _ in frames], ['X'], frames)
                self.assertIn(b'TypeError: invalid status or headers',
                              frames[0][1])
                self.stop()

    def test_str_subclass_headers(self):
        class Safe(str):
            pass

        def app(environ, start_response):
            start_response(Safe('200 OK'), [(Safe('A'), Safe('b\xe9'))])
            return [b'']
        frames = self.roundtrip(app)
        self.assertEqual(marshal.loads(frames[0][1]), ('200 OK', [('A', 'b\xe9')]))

    def test_str_block_rejected(self):
        for result in (['text'], iter(['text'])):
            with self.subTest(type(result).__name__):
                def app(environ, start_response):
                    start_response('200 OK', [])
                    return result
                frames = self.roundtrip(app)
                self.assertEqual([k for k, _ in frames], ['X'])
                self.assertIn(b'must be bytes', frames[0][1])
                self.stop()

    def test_huge_traceback_fits(self):
        def app(environ, start_response):
            raise ValueError('\u20ac' * wire.MAX_PAYLOAD)
        frames = self.roundtrip(app)
        self.assertEqual([k for k, _ in frames], ['X'])
        self.assertLessEqual(len(frames[0][1]), wire.MAX_PAYLOAD)
        frames[0][1].decode('utf-8')  # still valid UTF-8

    def test_headers_too_large(self):
        def app(environ, start_response):
            start_response('200 OK', [('X', 'v' * wire.MAX_PAYLOAD)])
            return [b'']
        frames = self.roundtrip(app)
        self.assertEqual([k for k, _ in frames], ['X'])


class Closing:
    """An iterable that records close() and stops after cancel."""

    def __init__(self, blocks, fail_at=None, gate=None):
        self.blocks = blocks
        self.fail_at = fail_at
        self.gate = gate
        self.closed = 0
        self.produced = []

    def __iter__(self):
        for i, b in enumerate(self.blocks):
            if i == self.fail_at:
                raise ValueError('failing at block %d' % i)
            if self.gate is not None and i > 0:
                self.gate.wait(TIMEOUT)
            self.produced.append(b)
            yield b

    def close(self):
        self.closed += 1


class TestClose(InProcess):

    def app_returning(self, it):
        def app(environ, start_response):
            start_response('200 OK', [])
            return it
        return app

    def test_close_on_success(self):
        it = Closing([b'a', b'b'])
        self.assertEqual(self.check_ok(self.roundtrip(self.app_returning(it))), b'ab')
        self.assertEqual(it.closed, 1)

    def test_close_on_list_subclass(self):
        class L(list):
            closed = 0

            def close(self):
                L.closed += 1
        self.check_ok(self.roundtrip(self.app_returning(L([b'a']))))
        self.assertEqual(L.closed, 1)

    def test_close_on_exception(self):
        it = Closing([b'a', b'b'], fail_at=1)
        frames = self.roundtrip(self.app_returning(it))
        self.assertEqual([k for k, _ in frames], ['S', 'D', 'X'])
        self.assertIn(b'ValueError: failing at block 1', frames[-1][1])
        self.assertEqual(it.closed, 1)

    def test_close_on_cancel(self):
        gate = threading.Event()
        it = Closing([b'1', b'2', b'3', b'4'], gate=gate)
        go = self.start(self.app_returning(it))
        go.send(request_frame(base_environ()))
        self.assertEqual(go.next_frame()[0], 'S')
        self.assertEqual(go.next_frame(), ('D', b'1'))
        go.send(frame('C'))
        gate.set()
        # The worker looks for C before sending each block but the first: C
        # was sent before the gate let block 2 be produced, so block 2 is
        # never sent.
        rest = go.response()
        self.assertEqual(rest, [('E', b'')])
        self.assertEqual(it.produced, [b'1', b'2'])
        self.assertEqual(it.closed, 1)
        # A stale C (its request already ended) is ignored.
        go.send(frame('C') + request_frame(base_environ()))
        self.assertEqual(self.check_ok(go.response()), b'1234')
        self.assertEqual(it.closed, 2)

    def test_master_goes_away(self):
        gate = threading.Event()
        it = Closing([b'1', b'2', b'3'], gate=gate)
        go = self.start(self.app_returning(it))
        go.send(request_frame(base_environ()))
        self.assertEqual(go.next_frame()[0], 'S')
        go.sock.close()  # the master died: EOF, then a broken pipe
        gate.set()
        self.thread.join(TIMEOUT)
        self.assertEqual(self.result, [True])
        self.assertEqual(it.closed, 1)
        self.assertLess(len(it.produced), 3)

    def test_pipelined_request_is_not_a_cancel(self):
        gate = threading.Event()
        calls = []

        def app(environ, start_response):
            calls.append(environ['PATH_INFO'])
            start_response('200 OK', [])
            if environ['PATH_INFO'] == '/slow':
                return Closing([b'1', b'2'], gate=gate)
            return [b'fast']
        go = self.start(app)
        go.send(request_frame(base_environ(PATH_INFO='/slow')) +
                request_frame(base_environ(PATH_INFO='/fast')))
        self.assertEqual(go.next_frame()[0], 'S')
        self.assertEqual(go.next_frame(), ('D', b'1'))
        gate.set()
        self.assertEqual(go.response(), [('D', b'2'), ('E', b'')])
        self.assertEqual(self.check_ok(go.response()), b'fast')
        self.assertEqual(calls, ['/slow', '/fast'])


class TestInput(InProcess):

    BODY = b'line one\nline two\n\nlast line no newline'

    @staticmethod
    def reader_app(environ, start_response):
        f = environ['wsgi.input']
        out = [
            f.read(4), f.readline(), f.readline(3), f.readline(),
            f.readlines(), f.read(), f.read(), f.read(-1), f.read(None),
            f.read(10), f.readline(),
        ]
        environ['test.input'] = f
        start_response('200 OK', [])
        return [repr(out).encode()]

    EXPECT = repr([b'line', b' one\n', b'lin', b'e two\n',
                   [b'\n', b'last line no newline'], b'', b'', b'', b'',
                   b'', b'']).encode()

    def run_input(self, send_body):
        seen = {}

        def app(environ, start_response):
            seen['env'] = environ
            return self.reader_app(environ, start_response)
        go = self.start(app)
        send_body(go, seen)
        self.assertEqual(self.check_ok(go.response()), self.EXPECT)
        self.assertTrue(seen['env']['test.input'].closed)
        return seen['env']['test.input']

    def test_bytesio(self):
        inp = self.run_input(
            lambda go, _: go.send(request_frame(base_environ(), self.BODY)))
        self.assertIsInstance(inp, io.BytesIO)

    def body_file(self, body):
        f = tempfile.TemporaryFile()
        f.write(body)
        f.flush()
        f.seek(0)
        self.addCleanup(f.close)
        return f

    def test_file_fd(self):
        f = self.body_file(self.BODY)

        def send(go, _):
            env = encode_environ(base_environ())
            go.send(frame('B', env), f.fileno())
        self.run_input(send)

    def test_iteration_and_readlines(self):
        for use_fd in (False, True):
            with self.subTest(fd=use_fd):
                def app(environ, start_response):
                    lines = list(environ['wsgi.input'])
                    start_response('200 OK', [])
                    return [repr(lines).encode()]
                go = self.start(app)
                if use_fd:
                    go.send(frame('B', encode_environ(base_environ())),
                            self.body_file(self.BODY).fileno())
                else:
                    go.send(request_frame(base_environ(), self.BODY))
                self.assertEqual(self.check_ok(go.response()),
                                 repr(self.BODY.splitlines(True)).encode())
                self.stop()

    def test_big_inline_body(self):
        body = os.urandom(3 * wire.RECV_SIZE + 7)

        def app(environ, start_response):
            start_response('200 OK', [])
            return [environ['wsgi.input'].read()]
        go = self.start(app)
        # Two requests in one write, the first bigger than a recv.
        go.send(request_frame(base_environ(), body) +
                request_frame(base_environ(), b'small'))
        self.assertEqual(self.check_ok(go.response()), body)
        self.assertEqual(self.check_ok(go.response()), b'small')

    def test_frames_split_at_every_byte(self):
        def app(environ, start_response):
            start_response('200 OK', [])
            return [environ['wsgi.input'].read()]
        go = self.start(app)
        data = request_frame(base_environ(), b'abc')
        for i in range(len(data)):
            go.send(data[i:i + 1])
        self.assertEqual(self.check_ok(go.response()), b'abc')


class TestFileWrapper(InProcess):

    CONTENT = b'0123456789' * 1000

    def file(self):
        fd, path = tempfile.mkstemp()
        os.write(fd, self.CONTENT)
        os.close(fd)
        self.addCleanup(os.unlink, path)
        return path

    def test_real_file_sends_fd(self):
        path = self.file()
        opened = []
        for headers, count in (([], -1), ([('Content-Length', '5')], 5)):
            with self.subTest(headers=headers):
                def app(environ, start_response):
                    start_response('200 OK', headers)
                    f = open(path, 'rb')
                    f.seek(3)
                    opened.append(f)
                    return environ['wsgi.file_wrapper'](f, 4096)
                frames = self.roundtrip(app)
                self.assertEqual([k for k, _ in frames], ['S', 'F', 'E'])
                offset, cnt = struct.unpack('<Qq', frames[1][1])
                self.assertEqual((offset, cnt), (3, count))
                self.assertEqual(len(self.go.fds), 1)
                fd = self.go.fds[0]
                self.assertEqual(os.pread(fd, 5, offset), b'34567')
                self.assertTrue(opened[-1].closed)
                self.stop()

    def test_bytesio_iterates(self):
        def app(environ, start_response):
            start_response('200 OK', [])
            return environ['wsgi.file_wrapper'](io.BytesIO(self.CONTENT), 4096)
        frames = self.roundtrip(app)
        self.assertEqual([len(p) for k, p in frames if k == 'D'],
                         [4096, 4096, 1808])
        self.assertEqual(self.check_ok(frames), self.CONTENT)


class TestValidator(InProcess):
    """Apps wrapped in wsgiref.validate.validator: not one complaint."""

    def setUp(self):
        cm = warnings.catch_warnings()
        cm.__enter__()
        self.addCleanup(cm.__exit__, None, None, None)
        warnings.simplefilter('error')

    def check(self, app, body=b'', environ=None):
        frames = self.roundtrip(wsgiref.validate.validator(app),
                                environ or base_environ(), body)
        self.assertEqual(frames[-1][0], 'E',
                         frames[-1][1].decode('utf-8', 'replace'))
        return self.check_ok(frames)

    def test_hello(self):
        self.assertEqual(self.check(hello), b'hello world')

    def test_generator_and_write(self):
        def app(environ, start_response):
            write = start_response('200 OK', [('Content-Type', 'text/plain')])
            write(b'w')
            yield b'g'
        self.assertEqual(self.check(app), b'wg')

    def test_input(self):
        def app(environ, start_response):
            f = environ['wsgi.input']
            data = [f.read(3), f.readline(), f.readlines()]
            data.extend(f)
            start_response('200 OK', [('Content-Type', 'text/plain')])
            return [repr(data).encode()]
        env = base_environ(REQUEST_METHOD='POST', CONTENT_LENGTH='9',
                           CONTENT_TYPE='text/plain')
        self.assertEqual(self.check(app, b'abcd\nef\ng', env),
                         repr([b'abc', b'd\n', [b'ef\n', b'g']]).encode())

    def test_file_wrapper(self):
        def app(environ, start_response):
            start_response('200 OK', [('Content-Type', 'text/plain')])
            return environ['wsgi.file_wrapper'](io.BytesIO(b'data'))
        self.assertEqual(self.check(app), b'data')


# ------------------------------------------------------- as a subprocess

class WorkerProcess(unittest.TestCase):
    """The worker started the way the master starts it (WORKER_ARGS, or
    args), in a temp dir (self.tmp) holding files."""

    def spawn(self, app, files=None, nsocks=1, env=None, args=None,
              extra_fds=()):
        tmp = self.tmp = tempfile.mkdtemp()
        for name, text in (files or {}).items():
            path = os.path.join(tmp, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, 'w') as f:
                f.write(textwrap.dedent(text))
        pairs = [socket.socketpair() for _ in range(nsocks)]
        fds = [w.fileno() for _, w in pairs]
        e = dict(os.environ, GONICORN_APP=app,
                 GONICORN_FDS=','.join(map(str, fds)),
                 GONICORN_PYTHONPATH=tmp, GONICORN_MULTIPROCESS='1')
        e.update(env or {})
        proc = subprocess.Popen([sys.executable] + (args or WORKER_ARGS),
                                env=e,
                                pass_fds=fds + list(extra_fds), cwd=tmp,
                                stderr=subprocess.PIPE)
        for _, w in pairs:
            w.close()
        gos = [GoSide(g) for g, _ in pairs]

        def cleanup():
            for g in gos:
                g.close()
            try:
                proc.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            proc.stderr.close()
        self.addCleanup(cleanup)
        return proc, gos

    def finish(self, proc, gos):
        for g in gos:
            g.close()
        stderr = proc.stderr.read().decode()
        return proc.wait(TIMEOUT), stderr


class Subprocess(WorkerProcess):
    APP = '''
        def application(environ, start_response):
            start_response('200 OK', [('X-Which', 'application'),
                ('X-MT', repr(environ['wsgi.multithread'])),
                ('X-MP', repr(environ['wsgi.multiprocess']))])
            return [b'hi']
        def app(environ, start_response):
            start_response('200 OK', [('X-Which', 'app')])
            return [b'hi']
        def create_app(name='factory', n=1):
            def inner(environ, start_response):
                start_response('200 OK', [('X-Which', '%s %d' % (name, n))])
                return [b'hi']
            return inner
        class holder:
            class inner:
                @staticmethod
                def wsgi(environ, start_response):
                    start_response('200 OK', [('X-Which', 'dotted')])
                    return [b'hi']
    '''

    def test_app_specs(self):
        cases = [
            ('m', 'application'), ('m:app', 'app'), ('m:create_app()', 'factory 1'),
            ("m:create_app('x', n=2)", 'x 2'), ('m:holder.inner.wsgi', 'dotted'),
            ('only_app', 'app'),
        ]
        for spec, which in cases:
            with self.subTest(spec):
                proc, (go,) = self.spawn(spec, {
                    'm.py': self.APP,
                    'only_app.py': 'from m import app\n'})
                y = go.handshake()
                self.assertTrue(y['ok'], y['error'])
                self.assertEqual(y['pid'], proc.pid)
                go.send(request_frame(base_environ()))
                frames = go.response()
                headers = dict(marshal.loads(frames[0][1])[1])
                self.assertEqual(headers['X-Which'], which)
                code, stderr = self.finish(proc, [go])
                self.assertEqual(code, 0, stderr)

    def test_import_error(self):
        for spec in ('m', 'nosuchmodule', 'm:nosuch', 'm:create_app(open)', 'm:'):
            with self.subTest(spec):
                proc, gos = self.spawn(spec, {'m.py': 'import nosuchthing\n'}
                                       if spec == 'm' else {'m.py': self.APP}
                                       if spec != 'm:' else {'m.py': 'x = 1\n'},
                                       nsocks=2)
                for go in gos:
                    y = go.handshake()
                    self.assertFalse(y['ok'])
                    self.assertIn('Traceback', y['error'])
                    self.assertIsNone(go.next_frame())
                code, stderr = self.finish(proc, gos)
                self.assertEqual(code, 3)
                # In the ready frame only: the master logs it once, not
                # once per worker.
                self.assertNotIn('Traceback', stderr)

    def test_threads(self):
        proc, gos = self.spawn('m', {'m.py': self.APP}, nsocks=3)
        for go in gos:
            self.assertTrue(go.handshake()['ok'])
        for go in gos:
            go.send(request_frame(base_environ()))
        for go in gos:
            headers = dict(marshal.loads(go.response()[0][1])[1])
            self.assertEqual((headers['X-MT'], headers['X-MP']), ('True', 'True'))
        code, stderr = self.finish(proc, gos)
        self.assertEqual(code, 0, stderr)

    def test_app_error_traceback_shows_worker_lines(self):
        # The bootstrap names each module's code <NAME> and puts its source
        # in linecache: a traceback reads as for modules imported from files.
        proc, (go,) = self.spawn('m', {'m.py': """
            def application(environ, start_response):
                raise ValueError('boom')
        """})
        self.assertTrue(go.handshake()['ok'])
        go.send(request_frame(base_environ()))
        (kind, text), = go.response()
        self.assertEqual(kind, 'X')
        self.assertIn('File "<gonicorn_response>", line ', text.decode())
        self.assertIn(', in handle_request\n'
                      '    result = app(environ, resp.start_response)\n',
                      text.decode())
        self.assertIn("raise ValueError('boom')\nValueError: boom",
                      text.decode())
        code, stderr = self.finish(proc, [go])
        self.assertEqual(code, 0, stderr)

    def test_app_sees_plain_argv_and_worker_modules(self):
        proc, (go,) = self.spawn('m', {'m.py': """
            import sys
            def application(environ, start_response):
                names = ','.join(sorted(n for n in sys.modules
                                        if n.startswith('gonicorn_')))
                start_response('200 OK', [('X-Argv', repr(sys.argv)),
                                          ('X-Modules', names)])
                return [b'']
        """})
        self.assertTrue(go.handshake()['ok'])
        go.send(request_frame(base_environ()))
        headers = dict(marshal.loads(go.response()[0][1])[1])
        self.assertEqual(headers['X-Argv'], "['-c']")
        self.assertEqual(headers['X-Modules'], ','.join(sorted(MODULES)))
        code, stderr = self.finish(proc, [go])
        self.assertEqual(code, 0, stderr)

    def test_bootstrap_without_modules(self):
        proc = subprocess.run([sys.executable, '-c', WORKER_ARGS[1]],
                              stderr=subprocess.PIPE, timeout=TIMEOUT)
        self.assertEqual(proc.returncode, 2)
        self.assertIn(b'started without its modules', proc.stderr)

    def test_sigint_ignored_sigusr1_dumps(self):
        proc, (go,) = self.spawn('m', {'m.py': self.APP})
        self.assertTrue(go.handshake()['ok'])
        proc.send_signal(signal.SIGINT)
        proc.send_signal(signal.SIGUSR1)
        go.send(request_frame(base_environ()))
        self.assertEqual(go.response()[-1][0], 'E')
        code, stderr = self.finish(proc, [go])
        self.assertEqual(code, 0, stderr)
        self.assertIn('most recent call first', stderr)


if __name__ == '__main__':
    unittest.main()
