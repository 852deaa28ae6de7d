"""Tests of gonicorn_dev: the worker in development mode (--reload).

A real worker process, as in test_gonicorn_worker's Subprocess tests, with
the report pipe the master gives it (GONICORN_RELOAD_FD)."""

import marshal
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gonicorn_dev as dev  # noqa: E402
from test_gonicorn_worker import (  # noqa: E402
    TIMEOUT, WorkerProcess, base_environ, request_frame)


class ReportPipe:
    """The master's end of the report pipe: lines of absolute paths."""

    def __init__(self):
        self.r, self.w = os.pipe()
        self.buf = b''

    def until(self, suffix):
        """Reads reported paths until one ends with suffix; returns all."""
        import select
        while True:
            paths = self.buf.decode().splitlines()
            if any(p.endswith(suffix) for p in paths):
                return paths
            ready, _, _ = select.select([self.r], [], [], TIMEOUT)
            if not ready:
                raise AssertionError('%s not reported; got %d paths'
                                     % (suffix, len(paths)))
            data = os.read(self.r, 1 << 16)
            if not data:
                raise AssertionError('pipe closed before %s' % suffix)
            self.buf += data


class DevWorker(WorkerProcess, unittest.TestCase):

    def spawn_dev(self, app, files):
        pipe = ReportPipe()
        proc, (go,) = self.spawn(app, files, env={
            'GONICORN_RELOAD_FD': str(pipe.w)}, extra_fds=[pipe.w])
        os.close(pipe.w)
        self.addCleanup(os.close, pipe.r)
        return proc, go, pipe

    def get(self, go, **environ):
        go.send(request_frame(base_environ(**environ)))
        frames = go.response()
        status, headers = marshal.loads(frames[0][1])
        body = b''.join(p for k, p in frames if k == 'D')
        return status, dict(headers), body

    def test_syntax_error_serves_traceback_page(self):
        proc, go, pipe = self.spawn_dev('m', {
            'm.py': 'import views\napplication = views.app\n',
            'views.py': 'def app(environ, start_response:\n    pass\n',
        })
        ready = go.handshake()
        # The handshake is ok (the worker serves), and carries the error.
        self.assertTrue(ready['ok'])
        self.assertIn('SyntaxError', ready['error'])
        # The broken file is watched, though it is not in sys.modules.
        paths = pipe.until(os.sep + 'views.py')
        self.assertIn(os.path.join(self.tmp, 'm.py'), paths)

        status, headers, body = self.get(go, HTTP_ACCEPT='text/html,*/*')
        self.assertEqual(status, '500 Internal Server Error')
        self.assertEqual(headers['Content-Type'], 'text/html; charset=utf-8')
        self.assertIn(b'<title>SyntaxError: ', body)
        self.assertIn(b'views.py', body)
        self.assertIn(b'def app(environ, start_response:', body)

        status, headers, body = self.get(go, HTTP_ACCEPT='*/*')
        self.assertEqual(status, '500 Internal Server Error')
        self.assertEqual(headers['Content-Type'], 'text/plain; charset=utf-8')
        self.assertTrue(body.startswith(b'The application m failed to load'))
        self.assertIn(b'SyntaxError', body)
        code, stderr = self.finish(proc, [go])
        self.assertEqual(code, 0, stderr)
        self.assertNotIn('SyntaxError', stderr)  # the master logs it, once

    def test_html_is_escaped(self):
        proc, go, pipe = self.spawn_dev('m', {
            'm.py': 'raise ValueError("<script>x</script>")\n'})
        self.assertTrue(go.handshake()['ok'])
        _, _, body = self.get(go, HTTP_ACCEPT='text/html')
        self.assertNotIn(b'<script>', body)
        self.assertIn(b'&lt;script&gt;', body)
        self.finish(proc, [go])

    def test_modules_imported_by_a_request_are_reported(self):
        proc, go, pipe = self.spawn_dev('m', {
            'm.py': '''
                def application(environ, start_response):
                    import lazy
                    start_response('200 OK', [])
                    return [lazy.TEXT]
            ''',
            'lazy.py': 'TEXT = b"lazy"\n',
        })
        ready = go.handshake()
        self.assertTrue(ready['ok'])
        self.assertEqual(ready['error'], '')
        paths = pipe.until(os.sep + 'm.py')
        self.assertFalse(any(p.endswith(os.sep + 'lazy.py') for p in paths))
        status, _, body = self.get(go)
        self.assertEqual((status, body), ('200 OK', b'lazy'))
        pipe.until(os.sep + 'lazy.py')
        code, stderr = self.finish(proc, [go])
        self.assertEqual(code, 0, stderr)

    def test_without_reload_a_load_error_ends_the_worker(self):
        proc, (go,) = self.spawn('m', {'m.py': 'raise ImportError("x")\n'})
        ready = go.handshake()
        self.assertFalse(ready['ok'])
        code, _ = self.finish(proc, [go])
        self.assertEqual(code, 3)


class ErrorFiles(unittest.TestCase):

    def test_missing_module_candidates(self):
        try:
            import gonicorn_no_such_pkg.mod  # noqa: F401
        except ModuleNotFoundError as e:
            files = dev.error_files(e)
        self.assertIn(os.path.join(HERE, 'gonicorn_no_such_pkg.py'), files)
        self.assertIn(os.path.join(HERE, 'gonicorn_no_such_pkg',
                                   '__init__.py'), files)

    def test_syntax_error_file_and_frames(self):
        try:
            compile('x = (', '/srv/app/broken.py', 'exec')
        except SyntaxError as e:
            files = dev.error_files(e)
        self.assertIn('/srv/app/broken.py', files)
        self.assertIn(os.path.abspath(__file__), files)


if __name__ == '__main__':
    unittest.main()
