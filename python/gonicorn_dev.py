"""gonicorn worker, development mode (--reload; docs/django.md,
"Development mode"; docs/protocol.md, "Development mode").

Three jobs, none of them done outside --reload:

 - Reporter: tells the master which files the app's modules came from,
   what Django's autoreloader watches (every module in sys.modules), so that
   the master can watch them. Once after the app loaded (or failed to), then
   after any request that imported more modules. One absolute path a line,
   an empty line ending each report, on the pipe whose fd is
   GONICORN_RELOAD_FD.
 - error_app: the WSGI app served while the application fails to import:
   every request gets a 500 page with the traceback, HTML for a browser
   (Accept: text/html), text otherwise, as runserver shows it. A saved fix
   makes the master start a worker that loads the app.
 - prepare_django: for a Django app, imports its URLconf at load (so an
   error in a view module shows at once, as runserver's checks find it),
   and with DEBUG on serves static files through Django's finders
   (StaticFilesHandler, as runserver does), without collectstatic.

Standard library (and the app's own Django) only.
"""

import html
import os
import sys
import threading
import traceback


class Reporter:
    """Writes the files of newly imported modules to the master's pipe."""

    def __init__(self, fd):
        os.set_inheritable(fd, False)  # not for the app's subprocesses
        self.out = os.fdopen(fd, 'w', encoding='utf-8', errors='surrogateescape')
        self.lock = threading.Lock()
        self.seen = set()
        self.count = -1  # len(sys.modules) at the last report

    def report(self, extra=()):
        """Reports the files of modules not reported yet, and extra files.
        Cheap when no module was imported since: one len() comparison."""
        if len(sys.modules) == self.count and not extra:
            return
        with self.lock:
            self.count = len(sys.modules)
            new = []
            for name in list(extra) + module_files():
                if name in self.seen or '\n' in name:
                    continue
                self.seen.add(name)
                new.append(os.path.abspath(name))
            if not new:
                return
            try:
                self.out.write('\n'.join(new) + '\n\n')
                self.out.flush()
            except (OSError, ValueError):
                pass  # the master is gone; the worker is ending too


def module_files():
    """The source (or compiled) files of the modules in sys.modules; built-in,
    frozen and namespace modules have none."""
    files = []
    for module in list(sys.modules.values()):
        name = getattr(module, '__file__', None)
        if isinstance(name, str) and name and not name.startswith('<'):
            files.append(name)
    return files


def error_files(exc):
    """The files an import error points at, to watch them too: a
    SyntaxError's file (not in the traceback's frames), every frame's,
    through the chain of exceptions, and for a module that is not found the
    files that would be it. A module that failed to import is not in
    sys.modules, so without these its fix would go unseen."""
    files, seen = [], set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, SyntaxError) and exc.filename:
            files.append(exc.filename)
        if isinstance(exc, ModuleNotFoundError) and exc.name:
            files.extend(module_candidates(exc.name))
        for frame in traceback.extract_tb(exc.__traceback__):
            files.append(frame.filename)
        exc = exc.__cause__ or exc.__context__
    return [f for f in files if f and not f.startswith('<')]


def module_candidates(name):
    """The files in the directories of sys.path that would be the module
    name (pkg/mod.py, pkg/mod/__init__.py): creating one fixes the error."""
    rel = name.replace('.', os.sep)
    files = []
    for entry in sys.path:
        base = os.path.abspath(entry or os.curdir)
        if os.path.isdir(base):
            files.append(os.path.join(base, rel + '.py'))
            files.append(os.path.join(base, rel, '__init__.py'))
    return files


def format_error(exc):
    """The traceback of the app's failed import as a developer reads it:
    without the frames of gonicorn's worker and of importlib's machinery,
    which every import error goes through (the frames of the app and of
    its libraries stay, as runserver shows them)."""
    root = traceback.TracebackException.from_exception(exc)
    te, seen = root, set()
    while te is not None and id(te) not in seen:
        seen.add(id(te))
        kept = [f for f in te.stack if not f.filename.startswith(
            ('<gonicorn_', '<frozen importlib'))]
        if kept:
            te.stack = traceback.StackSummary.from_list(kept)
        te = te.__cause__ or te.__context__
    return ''.join(root.format())


def load_failed(reporter, exc):
    """For an app whose load raised exc: reports the files to watch for
    its fix and returns the error page's app and the traceback text."""
    reporter.report(error_files(exc))
    settings = os.environ.get('GONICORN_DJANGO_SETTINGS')
    name = settings + ':WSGI_APPLICATION' if settings else \
        os.environ.get('GONICORN_APP') or os.environ.get('GONICORN_PASTE', '')
    text = format_error(exc)
    return error_app(name, text), text


# ---------------------------------------------------------------- error page

PAGE = '''<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="robots" content="noindex">
<title>{title}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
h1 {{ font-size: 1.4em; color: #a00; }}
pre {{ background: #f4f4f4; border: 1px solid #ddd; padding: 1em; overflow: auto; }}
</style></head>
<body><h1>{title}</h1>
<p>The application <code>{app}</code> failed to load.
Fix the code and save: gonicorn (<code>--reload</code>) loads it again,
then reload this page.</p>
<pre>{traceback}</pre>
</body></html>
'''


def error_app(app_name, text):
    """Returns the WSGI app that answers every request with a 500 page
    holding text, the traceback of the application's import."""
    lines = text.rstrip('\n').splitlines()
    title = lines[-1] if lines else 'Error'
    body_html = PAGE.format(title=html.escape(title), app=html.escape(app_name),
                            traceback=html.escape(text)).encode('utf-8')
    body_text = ('The application %s failed to load. Fix the code and save: '
                 'gonicorn (--reload) loads it again.\n\n%s'
                 % (app_name, text)).encode('utf-8')

    def app(environ, start_response):
        if 'text/html' in environ.get('HTTP_ACCEPT', ''):
            body, ctype = body_html, 'text/html; charset=utf-8'
        else:
            body, ctype = body_text, 'text/plain; charset=utf-8'
        start_response('500 Internal Server Error', [
            ('Content-Type', ctype),
            ('Content-Length', str(len(body))),
            ('Cache-Control', 'no-store'),
        ])
        return [body]
    return app


# ---------------------------------------------------------------- Django

def prepare_django(app):
    """For an app that configured Django's settings: imports the URLconf
    (raising its error, as runserver's checks would), then, with DEBUG on and
    django.contrib.staticfiles installed, wraps app in StaticFilesHandler.
    Returns the app to serve and whether it serves static files."""
    conf = sys.modules.get('django.conf')
    if conf is None or not conf.settings.configured:
        return app, False
    settings = conf.settings
    if getattr(settings, 'ROOT_URLCONF', None):
        from django.urls import get_resolver
        get_resolver().url_patterns  # imports the URLconf and the views it names
    if settings.DEBUG and 'django.contrib.staticfiles' in settings.INSTALLED_APPS:
        from django.contrib.staticfiles.handlers import StaticFilesHandler
        return StaticFilesHandler(app), True
    return app, False
