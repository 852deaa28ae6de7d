"""Tests for gonicorn_django.py and how the worker uses it, with a stand-in
for Django's API (the package django below: settings, setup and
get_internal_wsgi_application, as much as gonicorn_django touches), so that
they run with any python3. The end-to-end tests (test/django_test.go) run
the real Django.

Run: python3 -m unittest test_gonicorn_django   (go test ./python/ does it)
"""

import marshal
import os
import sys
import unittest
from unittest import mock

import test_gonicorn_worker as tw
from test_gonicorn_worker import base_environ, request_frame

import gonicorn_django as gd

# A stand-in for Django: settings load from DJANGO_SETTINGS_MODULE on
# setup(); LazySettings has no setting attributes, so that reading one
# through it (which in Django caches STATIC_URL with the boot's script
# prefix) fails the test.
FAKE_DJANGO = {
    'django/__init__.py': '''
        def setup(set_prefix=True):
            from django.conf import _load
            _load()
    ''',
    'django/conf.py': '''
        import importlib, os

        class Holder:
            pass

        class LazySettings:
            _wrapped = None

            @property
            def configured(self):
                return self._wrapped is not None

        settings = LazySettings()

        def _load():
            name = os.environ['DJANGO_SETTINGS_MODULE']
            mod = importlib.import_module(name)
            w = Holder()
            for k in dir(mod):
                if k.isupper():
                    setattr(w, k, getattr(mod, k))
            w.SETTINGS_MODULE = name
            settings._wrapped = w
    ''',
    'django/core/__init__.py': '',
    'django/core/servers/__init__.py': '',
    'django/core/servers/basehttp.py': '''
        import importlib

        def get_internal_wsgi_application():
            from django.conf import settings
            path = settings._wrapped.WSGI_APPLICATION
            module, _, name = path.rpartition('.')
            return getattr(importlib.import_module(module), name)
    ''',
    'proj/__init__.py': '',
    'proj/settings.py': '''
        from pathlib import Path
        WSGI_APPLICATION = 'proj.wsgi.application'
        STATIC_URL = 'static/'
        STATIC_ROOT = Path('collected')
        MEDIA_URL = None
        MEDIA_ROOT = ''
    ''',
    'proj/wsgi.py': '''
        import os, sys
        def application(environ, start_response):
            start_response('200 OK', [
                ('X-Argv', repr(sys.argv)),
                ('X-Settings', os.environ['DJANGO_SETTINGS_MODULE'])])
            return [b'proj']
    ''',
    'plain.py': '''
        import sys
        def application(environ, start_response):
            start_response('200 OK', [
                ('X-Django', repr('django' in sys.modules))])
            return [b'plain']
    ''',
}


class TestWorkerDjango(tw.WorkerProcess):
    """The worker started as the master starts it (tw.WORKER_ARGS)."""

    def spawn_django(self, app, env):
        return self.spawn(app, FAKE_DJANGO, env=env)

    def test_project_from_settings(self):
        proc, (go,) = self.spawn_django('', {
            'GONICORN_DJANGO_SETTINGS': 'proj.settings',
            'DJANGO_SETTINGS_MODULE': 'other.settings'})
        y = go.handshake()
        self.assertTrue(y['ok'], y['error'])
        self.assertEqual(y['django'], {
            'settings': 'proj.settings',
            'wsgi_application': 'proj.wsgi.application',
            'static_url': 'static/',  # as written: no script prefix
            'static_root': os.path.join(self.tmp, 'collected'),
            'media_url': '',
            'media_root': '',
        })
        go.send(request_frame(base_environ()))
        frames = go.response()
        headers = dict(marshal.loads(frames[0][1])[1])
        # The app sees sys.argv without the Django support's source, and the
        # settings module the master chose.
        self.assertEqual(headers['X-Argv'], "['-c']")
        self.assertEqual(headers['X-Settings'], 'proj.settings')
        code, stderr = self.finish(proc, [go])
        self.assertEqual(code, 0, stderr)

    def test_project_load_error(self):
        proc, (go,) = self.spawn_django('', {
            'GONICORN_DJANGO_SETTINGS': 'nosuch.settings'})
        y = go.handshake()
        self.assertFalse(y['ok'])
        self.assertIn("No module named 'nosuch'", y['error'])
        self.assertNotIn('django', y)
        code, _ = self.finish(proc, [go])
        self.assertEqual(code, 3)

    def test_plain_app_never_imports_django(self):
        proc, (go,) = self.spawn_django('plain', {})
        y = go.handshake()
        self.assertTrue(y['ok'], y['error'])
        self.assertNotIn('django', y)
        go.send(request_frame(base_environ()))
        headers = dict(marshal.loads(go.response()[0][1])[1])
        self.assertEqual(headers['X-Django'], 'False')
        code, stderr = self.finish(proc, [go])
        self.assertEqual(code, 0, stderr)


class FakeConf:
    """sys.modules['django.conf'] for report(): settings with _wrapped."""

    def __init__(self, wrapped, configured=True):
        self.settings = mock.Mock(spec=['configured', '_wrapped'])
        self.settings.configured = configured
        self.settings._wrapped = wrapped


class TestReport(unittest.TestCase):

    def report(self, conf):
        with mock.patch.dict(sys.modules, {'django.conf': conf}):
            return gd.report()

    def test_no_django(self):
        with mock.patch.dict(sys.modules):
            sys.modules.pop('django.conf', None)
            self.assertIsNone(gd.report())

    def test_not_configured(self):
        self.assertIsNone(self.report(FakeConf(None, configured=False)))

    def test_values(self):
        class W:
            SETTINGS_MODULE = 'site.settings'
            WSGI_APPLICATION = None
            STATIC_URL = 'https://cdn.example.com/s/'
            STATIC_ROOT = '/srv/static'
            MEDIA_URL = '/media/'
            MEDIA_ROOT = 'uploads'
        got = self.report(FakeConf(W))
        self.assertEqual(got, {
            'settings': 'site.settings', 'wsgi_application': '',
            'static_url': 'https://cdn.example.com/s/',
            'static_root': '/srv/static', 'media_url': '/media/',
            'media_root': os.path.abspath('uploads')})

    def test_settings_configure(self):
        class W:  # settings.configure(): no module, Django's defaults
            SETTINGS_MODULE = None
        got = self.report(FakeConf(W))
        self.assertEqual(set(got.values()), {''})

    def test_error_reported_not_raised(self):
        class W:
            @property
            def STATIC_ROOT(self):
                raise RuntimeError('boom')
        with mock.patch.object(sys, 'stderr') as err:
            self.assertIsNone(self.report(FakeConf(W())))
        self.assertIn('boom', ''.join(c.args[0] for c in err.write.call_args_list))


if __name__ == '__main__':
    unittest.main()
