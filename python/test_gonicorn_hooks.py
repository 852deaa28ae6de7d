"""Tests for gonicorn_hooks: the stand-ins gunicorn's hooks get, and the
per-request wrap (the end-to-end tests in test/hooks_test.go run every hook
in real workers).

Run: python3 -m unittest test_gonicorn_hooks   (go test ./python/ does it)
"""

import contextlib
import io
import marshal
import os
import subprocess
import sys
import textwrap
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gonicorn_hooks as hooks  # noqa: E402

ENVIRON = {
    'REQUEST_METHOD': 'POST', 'SERVER_PROTOCOL': 'HTTP/1.0',
    'RAW_URI': '/a%20b?x=1&y=2#frag', 'PATH_INFO': '/a b',
    'QUERY_STRING': 'x=1&y=2', 'REMOTE_ADDR': '10.0.0.1',
    'HTTP_HOST': 'example.com', 'CONTENT_TYPE': 'text/plain',
    'CONTENT_LENGTH': '3', 'HTTP_X_REQUEST_ID': 'r1',
    'wsgi.url_scheme': 'https', 'wsgi.input': io.BytesIO(b'abc'),
}


class FakeResponse:
    """The attributes of gonicorn_response.Response that ResponseInfo reads."""

    def __init__(self, status, headers, failed=False, sent=True):
        self.start = marshal.dumps((status, headers), 2)
        self.failed, self.sent = failed, sent


class RequestTest(unittest.TestCase):

    def test_from_environ(self):
        req = hooks.Request(ENVIRON)
        self.assertEqual(req.method, 'POST')
        self.assertEqual(req.uri, '/a%20b?x=1&y=2#frag')
        self.assertEqual(req.path, '/a%20b')  # as gunicorn: not decoded
        self.assertEqual(req.query, 'x=1&y=2')
        self.assertEqual(req.fragment, 'frag')
        self.assertEqual(req.version, (1, 0))
        self.assertEqual(req.scheme, 'https')
        self.assertEqual(req.headers, [
            ('HOST', 'example.com'), ('CONTENT-TYPE', 'text/plain'),
            ('CONTENT-LENGTH', '3'), ('X-REQUEST-ID', 'r1')])
        self.assertEqual(req.body.read(), b'abc')

    def test_double_slash_is_a_path(self):
        req = hooks.Request({'REQUEST_METHOD': 'GET', 'RAW_URI': '//x/y?q'})
        self.assertEqual((req.path, req.query), ('//x/y', 'q'))


class ResponseInfoTest(unittest.TestCase):

    def test_status_and_headers(self):
        info = hooks.ResponseInfo(FakeResponse('201 Created', [('A', 'b')]))
        self.assertEqual((info.status, info.status_code, info.headers),
                         ('201 Created', 201, [('A', 'b')]))

    def test_failed_before_the_head_is_the_500(self):
        info = hooks.ResponseInfo(FakeResponse('200 OK', [], True, False))
        self.assertEqual((info.status, info.status_code, info.headers),
                         ('500 Internal Server Error', 500, []))


class LogTest(unittest.TestCase):

    def test_records_carry_their_level(self):
        record = __import__('logging').LogRecord(
            'gunicorn.error', 30, __file__, 1, 'db %s', ('slow',), None)
        self.assertEqual(hooks.LevelMark('%(message)s').format(record),
                         '\x1eWARNING\x1edb slow')


class SignalsTest(unittest.TestCase):

    def test_processes_the_app_starts_get_no_blocked_signals(self):
        # In a process of its own: install_signals takes over its signals.
        script = textwrap.dedent('''
            import subprocess, sys
            sys.path.insert(0, %r)
            import gonicorn_hooks as hooks
            cfg = hooks.Config({})
            log = hooks.make_log(cfg)
            h = hooks.Hooks({'worker_int': print, 'worker_abort': print},
                            hooks.Server(cfg, log, 1), hooks.Worker(1, cfg, log))
            h.install_signals([])
            print(subprocess.run(['grep', 'SigBlk', '/proc/self/status'],
                                 capture_output=True, text=True).stdout)
        ''') % os.path.dirname(os.path.abspath(__file__))
        out = subprocess.run([sys.executable, '-c', script], capture_output=True,
                             text=True, timeout=30)
        self.assertEqual(out.stdout.split(), ['SigBlk:', '0' * 16], out.stderr)


class WrapTest(unittest.TestCase):

    def make(self, **funcs):
        cfg = hooks.Config({'workers': 1, 'loglevel': 'info'})
        log = hooks.make_log(cfg)
        return hooks.Hooks(funcs, hooks.Server(cfg, log, 1),
                           hooks.Worker(1, cfg, log))

    @staticmethod
    def handle_request(link, app, environ):
        """Calls the app as gonicorn_response.handle_request does."""
        app(environ, None)
        return FakeResponse('200 OK', [('Content-Type', 'text/plain')])

    def test_pre_and_post_see_the_same_request(self):
        calls = []

        def pre_request(worker, req):
            req.mark = 'pre'
            calls.append(('pre', req.path))

        def post_request(worker, req, environ, resp):
            calls.append(('post', req.mark, environ['PATH_INFO'],
                          resp.status_code))

        h = self.make(pre_request=pre_request, post_request=post_request)
        h.wrap(self.handle_request)(None, lambda e, s: calls.append('app'),
                                   dict(ENVIRON))
        self.assertEqual(calls, [('pre', '/a%20b'), 'app',
                                 ('post', 'pre', '/a b', 200)])
        self.assertEqual(h.worker.nr, 1)

    def test_post_request_of_two_or_three_arguments(self):
        got = []
        for fn in (lambda worker, req: got.append(2),
                   lambda worker, req, environ: got.append(3)):
            h = self.make(post_request=fn)
            h.wrap(self.handle_request)(None, lambda e, s: None,
                                       dict(ENVIRON))
        self.assertEqual(got, [2, 3])

    def test_post_request_exception_is_reported_not_raised(self):
        def post_request(worker, req, environ, resp):
            raise KeyError('boom')

        h = self.make(post_request=post_request)
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            resp = h.wrap(self.handle_request)(None, lambda e, s: None,
                                               dict(ENVIRON))
        self.assertIsNotNone(resp)
        self.assertTrue(err.getvalue().startswith(
            'Exception in server hook post_request:\nTraceback'), err.getvalue())
        self.assertIn("KeyError: 'boom'", err.getvalue())


if __name__ == '__main__':
    unittest.main()
