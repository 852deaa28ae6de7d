"""gonicorn worker: runs a WSGI (PEP 3333) application for the Go master.

The master starts the worker as `python -c <bootstrap>` with the worker's
modules as arguments (gonicorn_boot.py, docs/protocol.md "Worker process
start"): one process start, no files written. The bootstrap installs them,
in this order, and calls main() here:

 - gonicorn_wire: frames over one socket (Link), the handshake;
 - gonicorn_response: one request through the app (Response,
   handle_request);
 - gonicorn_django: loading a Django project, reporting its settings;
 - gonicorn_dev: development mode (--reload): the module files reported
   to the master, the error page of an app that fails to load;
 - gonicorn_hooks: gunicorn's worker-side server hooks from the config
   file (post_fork, pre_request...), when it defines any;
 - gonicorn_worker (this module): loading the app, the serving loop of each
   socket, threads, signals, the process title.

The master talks to the worker over one socketpair per thread, with the
frames described in docs/protocol.md. The worker never parses HTTP: the
master sends the environ already built, in marshal format, and receives
status, headers and body blocks as frames.

Life of a request (one worker thread, one socket):

 1. Read one frame (serve, Link.next_frame). `R` carries a marshal environ
    and the whole body; `B` carries the environ and an fd (SCM_RIGHTS) of a
    file holding the body.
 2. environ = marshal.loads(...) (one C call), plus this thread's constant
    wsgi.* keys and wsgi.input (BytesIO over the body, or the file).
 3. Call app(environ, start_response) (gonicorn_response.handle_request).
    start_response only validates and encodes (status, headers) with
    marshal; nothing is sent yet.
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
share nothing mutable but the application).
"""

import ast
import collections
import faulthandler
import importlib
import io
import marshal
import os
import signal
import socket
import sys
import threading
import traceback

import gonicorn_dev
import gonicorn_django
import gonicorn_hooks
from gonicorn_response import FileWrapper, handle_request
from gonicorn_wire import (
    B, C, R, U32, Link, LinkBroken, ProtocolError, handshake)


# ---------------------------------------------------------------- serving

def serve(sock, app, multithread=False, multiprocess=False, load_error='',
          django=None, reporter=None, app_error='', handle=handle_request):
    """Serves one socket until EOF; closes it. With load_error, only
    answers the handshake (ok False). Reports whether the handshake was ok.
    handle runs each request: handle_request, or the server hooks' wrap.
    In development mode (--reload): app_error is the traceback of an app
    that failed to load, whose error page app is (the handshake is ok and
    carries it), and reporter reports the modules a request imported."""
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
        if not handshake(link, not load_error, load_error or app_error,
                         django):
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
            handle(link, app, environ)
            if reporter is not None:
                reporter.report()
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


# ---------------------------------------------------------------- start

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


def load_paste(uri, global_conf):
    """Loads the app of a PasteDeploy ini file, uri = FILE[#name] (FILE
    absolute), as gunicorn's --paste does: Python's logging is configured
    from FILE when it has a [loggers] section (gunicorn's logconfig), then
    paste.deploy.loadapp('config:' + uri) with global_conf, a JSON object
    of --paste-global's variables."""
    import configparser
    import json
    import logging.config
    from paste.deploy import loadapp
    path = uri.split('#', 1)[0]
    parser = configparser.ConfigParser()
    parser.read([path])
    if parser.has_section('loggers'):
        logging.config.fileConfig(
            path, defaults={'__file__': path, 'here': os.path.dirname(path)},
            disable_existing_loggers=False)
    return loadapp('config:' + uri, relative_to=os.getcwd(),
                   global_conf=json.loads(global_conf or '{}'))


def set_title(title):
    """Shows title as this process's command line (ps, top -c) and, cut to
    15 bytes, as its name (comm: top, ps -e, pgrep), without setproctitle.

    The master starts the worker as `python -c <bootstrap>` followed by the
    modules' names and sources (gonicorn_boot), so the argv area, which
    /proc/PID/cmdline reads, is far longer than any title: it is overwritten
    in place through /proc/self/mem (Python keeps its own copy of argv). The
    title ends with a NUL and the area's last byte is not one, which tells
    the kernel to read the command line up to that first NUL, as
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
    setup_process(os.environ.get('GONICORN_TITLE'))
    fds = [int(s) for s in os.environ.get('GONICORN_FDS', '').split(',') if s]
    if not fds:
        sys.stderr.write('gonicorn worker: GONICORN_FDS is empty\n')
        sys.exit(2)
    socks = [socket.socket(fileno=fd) for fd in fds]
    hooks, hook_error = start_hooks(socks)
    loaded = load() if not hook_error else Loaded(None, hook_error, None,
                                                  None, '')
    serve_process(socks, loaded, os.environ.get('GONICORN_MULTIPROCESS') == '1',
                  hooks)


def setup_process(title, sched=True):
    """Signals, process title, stack dumps and (with sched) scheduling of a
    worker, or of the preloader (gonicorn_preload), whose forked workers
    call it again."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the master decides
    if title:
        set_title(title)
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    # A crash in C code (SIGSEGV, SIGBUS, SIGFPE, SIGABRT, SIGILL) prints the
    # Python stacks of all threads to stderr, i.e. into the error log.
    faulthandler.enable(all_threads=True)
    if sched and os.environ.get('GONICORN_SCHED') == 'batch':
        # SCHED_BATCH: a woken worker does not preempt the master at once, so
        # the master queues several requests before the worker runs them
        # and answers them in one send (docs/architecture.md, "Scheduling").
        try:
            os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
        except (AttributeError, OSError):
            pass


def start_hooks(socks):
    """The config file's worker-side hooks, if any (gonicorn_hooks): their
    signals first, before any thread starts, then post_fork. Returns the
    hooks (None without any) and the traceback of a hook that raised ('')."""
    hooks = None
    try:
        hooks = gonicorn_hooks.load()
        if hooks:
            hooks.install_signals(socks)
            hooks.post_fork()
    except BaseException:
        return hooks, traceback.format_exc()
    return hooks, ''


def load():
    """Imports the application as the environment says. Returns a Loaded."""
    paths = [p for p in os.environ.get('GONICORN_PYTHONPATH', '')
             .split(os.pathsep) if p]
    sys.path[:0] = paths

    reporter = None
    if os.environ.get('GONICORN_RELOAD_FD'):  # --reload
        reporter = gonicorn_dev.Reporter(int(os.environ['GONICORN_RELOAD_FD']))
    app, load_error, django, app_error = None, '', None, ''
    try:
        settings = os.environ.get('GONICORN_DJANGO_SETTINGS')
        paste = os.environ.get('GONICORN_PASTE')
        if settings:  # a Django project found by its manage.py
            app = gonicorn_django.load_application(settings)
        elif paste:  # --paste: a PasteDeploy ini file
            app = load_paste(paste, os.environ.get('GONICORN_PASTE_GLOBAL'))
        else:
            app = load_app(os.environ.get('GONICORN_APP', ''))
        dev_static = False
        if reporter is not None:
            app, dev_static = gonicorn_dev.prepare_django(app)
        if 'django.conf' in sys.modules:  # only an app that imported Django
            django = gonicorn_django.report()
            if django is not None and dev_static:
                django['dev_static'] = True
    except BaseException as e:
        # Sent in the ready frame; the master logs it once for all workers.
        load_error = traceback.format_exc()
        if reporter is not None:  # --reload: serve it until a fix is saved
            app, app_error = gonicorn_dev.load_failed(reporter, e)
            load_error = ''
    if reporter is not None:
        reporter.report()
    return Loaded(app, load_error, django, reporter, app_error)


# What load() found: the app (or None), the load error's traceback ('' when
# it loaded), the report of an app that imported Django (or None), and with
# --reload the module reporter and the error that the app's page shows.
Loaded = collections.namedtuple(
    'Loaded', 'app load_error django reporter app_error')


def serve_process(socks, loaded, multiprocess, hooks=None):
    """Serves the sockets socks, one thread each (the first in this one),
    with what load() returned and the worker-side hooks (start_hooks), and
    exits when all of them ended: 0, or 3 after a load error or a protocol
    error."""
    if hooks and not (loaded.load_error or loaded.app_error):
        try:
            hooks.post_worker_init(loaded.app)
        except BaseException:
            loaded = loaded._replace(load_error=traceback.format_exc())
    handle = handle_request
    if hooks and hooks.per_request:
        handle = hooks.wrap(handle_request)
    multithread = len(socks) > 1

    results = [False] * len(socks)

    def run(i):
        results[i] = serve(socks[i], loaded.app, multithread, multiprocess,
                           loaded.load_error, loaded.django, loaded.reporter,
                           loaded.app_error, handle)

    threads = [threading.Thread(target=run, args=(i,),
                                name='gonicorn-slot-%d' % i)
               for i in range(1, len(socks))]
    try:
        for t in threads:
            t.start()
        run(0)
        for t in threads:
            t.join()
    finally:
        if hooks:
            hooks.exit()  # worker_exit, however serving ended
    sys.stderr.flush()
    sys.exit(3 if loaded.load_error or not all(results) else 0)


if __name__ == '__main__':
    main()
