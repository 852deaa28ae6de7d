"""gonicorn worker, the server hooks: gunicorn's worker-side hooks.

Its job: when the config file (-c) defines any of gunicorn's worker-side
hooks, the master names them in GONICORN_HOOKS; load() then evaluates the
file in the worker, as gunicorn's master evaluates it (a module named
__config__, its directory first on sys.path), and returns a Hooks that
gonicorn_worker calls at gunicorn's moments (docs/hooks.md):

 - post_fork(server, worker): before the app is imported;
 - post_worker_init(worker): once it is;
 - pre_request(worker, req), post_request(worker, req, environ, resp):
   around each request (wrap); without them the serving loop is unchanged;
 - worker_int(worker): on SIGQUIT (the master's fast stop), then it stops
   serving and exits;
 - worker_abort(worker): on SIGABRT (a request ran past --timeout), then it
   exits 1;
 - worker_exit(server, worker): as the worker exits, however it exits.

The arguments stand in for gunicorn's objects with the attributes hooks
use: Worker, Server (the arbiter), Request and ResponseInfo. An exception
in a hook is printed after an "Exception in server hook NAME:" line, which
the master logs with its traceback as one error entry; in post_fork and
post_worker_init it fails the worker's boot instead, as in gunicorn.
Standard library only.
"""

import importlib.util
import inspect
import json
import logging
import marshal
import os
import select
import signal
import socket
import sys
import threading
import traceback
import urllib.parse

WORKER_HOOKS = ('post_fork', 'post_worker_init', 'pre_request',
                'post_request', 'worker_int', 'worker_abort', 'worker_exit')


def load():
    """Returns the Hooks the config file defines, or None when the master
    named none (GONICORN_HOOKS empty). Raises what the file raises."""
    names = [n for n in os.environ.get('GONICORN_HOOKS', '').split(',')
             if n in WORKER_HOOKS]
    if not names:
        return None
    module = load_config(os.environ['GONICORN_CONFIG'])
    cfg = Config(json.loads(os.environ.get('GONICORN_HOOK_CFG') or '{}'))
    log = make_log(cfg)
    worker = Worker(int(os.environ.get('GONICORN_WORKER_AGE') or 0), cfg, log)
    server = Server(cfg, log, int(os.environ.get('GONICORN_NUM_WORKERS')
                                  or getattr(cfg, 'workers', 1)))
    return Hooks({n: getattr(module, n) for n in names
                  if callable(getattr(module, n, None))}, server, worker)


def load_config(path):
    """Evaluates the config file as gunicorn does and returns its module."""
    sys.path.insert(0, os.path.dirname(path))
    spec = importlib.util.spec_from_file_location('__config__', path)
    module = importlib.util.module_from_spec(spec)
    sys.modules['__config__'] = module
    spec.loader.exec_module(module)
    return module


class LevelMark(logging.Formatter):
    """Marks each record with its level, "\x1eWARNING\x1e" before the
    message, so that the master logs it at that level (errorlog's
    LoggedLine); a traceback after it is classified as any traceback."""

    def format(self, record):
        n = record.levelno
        level = ('CRITICAL' if n >= 50 else 'ERROR' if n >= 40 else
                 'WARNING' if n >= 30 else 'INFO' if n >= 20 else 'DEBUG')
        return '\x1e%s\x1e%s' % (level, super().format(record))


def make_log(cfg):
    """gunicorn's error logger, 'gunicorn.error': its lines go to stderr,
    which the master writes to the error log tagged with this pid, at
    each record's level."""
    log = logging.getLogger('gunicorn.error')
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(LevelMark('%(message)s'))
        log.addHandler(handler)
        log.propagate = False
    log.setLevel(str(getattr(cfg, 'loglevel', 'info')).upper())
    return log


class Hooks:
    """The hooks of one worker process, with their stand-in arguments."""

    def __init__(self, funcs, server, worker):
        self.funcs = funcs        # hook name -> the config file's function
        self.server = server
        self.worker = worker
        self.socks = []           # shut down for reading to stop serving
        self.exited = False       # worker_exit ran (set under lock)
        self.exit_code = None     # set by a signal that ends the worker
        self.termed = False       # a TERM came: it ends the process after exit
        self.actions = {}         # signal -> its action (install_signals)
        self.wakeup = None        # read end of the signals' wakeup pipe
        # Held by the signal thread for each action and by exit: worker_exit
        # runs once, after the signals that came before it.
        self.lock = threading.RLock()
        self.pre = funcs.get('pre_request')
        self.post = post_request_of(funcs.get('post_request'))
        # wrap's cost is paid only by a file that defines these.
        self.per_request = self.pre is not None or self.post is not None

    def call(self, name, *args):
        """Runs one hook; an exception is printed and does not propagate."""
        fn = self.funcs.get(name)
        if fn is None:
            return
        try:
            fn(*args)
        except Exception:
            report(name)

    # ------------------------------------------------------------ the boot

    def install_signals(self, socks):
        """Takes over signals as gunicorn's Worker.init_signals does: TERM
        (stop serving after the current requests, then worker_exit), and
        QUIT for worker_int and ABRT for worker_abort when the file defines
        them (else their default stays: QUIT and ABRT would dump core).

        A thread of its own runs them: a Python signal handler runs in the
        main thread only, once it runs Python code, which a main thread
        serving a hung request may never do. The handlers installed here do
        nothing; Python's C-level handler writes each signal's number to the
        wakeup fd (signal.set_wakeup_fd) in whatever thread it arrives, and
        the signal thread reads it. (Blocking the signals and sigwait would
        leave them blocked in every process the app starts.) Call it from
        the main thread."""
        self.socks = socks
        actions = {signal.SIGTERM: self._on_term}
        if 'worker_int' in self.funcs:
            actions[signal.SIGQUIT] = self._on_quit
        if 'worker_abort' in self.funcs:
            actions[signal.SIGABRT] = self._on_abort
        self.actions = actions
        r, w = os.pipe()
        os.set_blocking(w, False)
        self.wakeup = r
        for signum in actions:
            signal.signal(signum, _woken)
        signal.set_wakeup_fd(w, warn_on_full_buffer=False)
        threading.Thread(target=self._take_signals, name='gonicorn-signals',
                         daemon=True).start()

    def _take_signals(self):
        while True:
            for signum in os.read(self.wakeup, 64):
                with self.lock:
                    self._run_action(signum)

    def _run_action(self, signum):
        action = self.actions.get(signum)
        if action is not None:
            action()

    def _take_pending(self):
        """Runs the signals that came but the signal thread has not read
        yet (the caller holds the lock): a QUIT that came just before the
        sockets closed runs worker_int before worker_exit."""
        while self.wakeup is not None:
            ready, _, _ = select.select([self.wakeup], [], [], 0)
            if not ready:
                return
            for signum in os.read(self.wakeup, 64):
                self._run_action(signum)

    def post_fork(self):
        """post_fork(server, worker), before the app is imported. An
        exception fails the boot (the caller reports it), as in gunicorn."""
        fn = self.funcs.get('post_fork')
        if fn is not None:
            fn(self.server, self.worker)

    def post_worker_init(self, app):
        """post_worker_init(worker), once the app is imported; an exception
        fails the boot, as in gunicorn."""
        self.worker.wsgi = app
        fn = self.funcs.get('post_worker_init')
        if fn is not None:
            fn(self.worker)
        self.worker.booted = True

    # ------------------------------------------------------------ requests

    def wrap(self, handle_request):
        """Returns handle_request with pre_request before the app and
        post_request after the response was handed to the master. An
        exception in pre_request is the request's (500), as in gunicorn."""
        pre, post, worker = self.pre, self.post, self.worker

        def handle(link, app, environ):
            req = Request(environ)
            ran = []

            def app_after_pre_request(environ, start_response):
                if pre is not None:
                    pre(worker, req)
                ran.append(True)
                return app(environ, start_response)

            resp = None
            try:
                resp = handle_request(link, app_after_pre_request, environ)
            finally:
                worker.nr += 1
                if post is not None:
                    info = ResponseInfo(resp) if ran and resp else None
                    try:
                        post(worker, req, environ, info)
                    except Exception:
                        report('post_request')
            return resp
        return handle

    # ------------------------------------------------------------ the end

    def _stop_serving(self):
        """Every serving thread ends after its current request: its next
        read sees EOF."""
        for s in self.socks:
            try:
                s.shutdown(socket.SHUT_RD)
            except OSError:
                pass

    def _on_term(self):
        # gunicorn's handle_exit: a graceful end; worker_exit follows.
        self.worker.alive = False
        self.termed = True
        self._stop_serving()

    def _on_quit(self):
        # gunicorn's handle_quit: worker_int, then the worker exits.
        self.worker.alive = False
        if self.exit_code is None:
            self.exit_code = 0
            self.call('worker_int', self.worker)
            self._stop_serving()
            if not self.worker.booted:
                self.exit()

    def _on_abort(self):
        # gunicorn's handle_abort: worker_abort, then exit 1 at once: the
        # hung thread would never end.
        self.worker.alive = False
        self.worker.aborted = True
        if self.exit_code is None:
            self.exit_code = 1
            self.call('worker_abort', self.worker)
            self.exit()

    def exit(self):
        """worker_exit(server, worker), once, as the process ends (from the
        main thread, or the signal thread after an abort)."""
        with self.lock:
            if self.exited:
                return
            self._take_pending()
            if self.exited:  # an abort ran worker_exit meanwhile
                return
            self.worker.alive = False
            self.call('worker_exit', self.server, self.worker)
            self.exited = True
            sys.stdout.flush()
            sys.stderr.flush()
            if self.exit_code is not None and (self.exit_code or
                                               not self.worker.booted):
                os._exit(self.exit_code)
            # From here TERM ends the process, as it does without hooks: a
            # thread the app started must not keep it alive until KILL.
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            if self.termed:
                os.kill(os.getpid(), signal.SIGTERM)


def _woken(signum, frame):
    """The Python-level handler of the hooks' signals: nothing; the signal
    thread acts on the number the C-level handler wrote (install_signals)."""


def post_request_of(fn):
    """post_request as gunicorn's validate_post_request takes it: a hook
    of 2 or 3 positional parameters gets the first 2 or 3 arguments."""
    if fn is None:
        return None
    try:
        n = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                for p in inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return fn
    if n == 2:
        return lambda worker, req, environ, resp: fn(worker, req)
    if n == 3:
        return lambda worker, req, environ, resp: fn(worker, req, environ)
    return fn


def report(name):
    """Prints the exception of hook name with its traceback; the master
    logs the block as one error entry (errorlog's Classifier)."""
    sys.stderr.write('Exception in server hook %s:\n%s'
                     % (name, traceback.format_exc()))
    sys.stderr.flush()


# ---------------------------------------------------------------- stand-ins

class Config:
    """gunicorn's cfg: every setting by its gunicorn name (cfg.workers,
    cfg.bind, cfg.timeout...), as the master resolved it."""

    def __init__(self, settings):
        self.__dict__.update(settings)
        self.settings = settings

    def __repr__(self):
        return '<Config %r>' % (self.settings,)


class Server:
    """gunicorn's Arbiter, as a worker's hooks see it: the master."""

    def __init__(self, cfg, log, num_workers):
        self.cfg = cfg
        self.log = log
        self.pid = os.getppid()
        self.num_workers = num_workers
        self.proc_name = getattr(cfg, 'proc_name', '')
        self.master_name = 'Master'

    def __repr__(self):
        return '<Server %s>' % self.pid


class Worker:
    """gunicorn's Worker, as its hooks see it: this process."""

    def __init__(self, age, cfg, log):
        self.age = age            # the master's spawn counter: 1, 2, ...
        self.pid = os.getpid()
        self.ppid = os.getppid()
        self.cfg = cfg
        self.log = log
        self.timeout = getattr(cfg, 'timeout', 0)
        self.alive = True         # False once a signal asked it to stop
        self.booted = False       # True after post_worker_init
        self.aborted = False      # True after SIGABRT (--timeout)
        self.nr = 0               # requests handled (counted with hooks)
        self.wsgi = None          # the WSGI app, once imported

    def notify(self):
        """gunicorn's heartbeat; the master watches over the sockets."""

    def __str__(self):
        return '<Worker %s>' % self.pid


def split_request_uri(uri):
    """gunicorn.util.split_request_uri: '//x' is a path, not a host."""
    if uri.startswith('//'):
        parts = urllib.parse.urlsplit('.' + uri)
        return parts._replace(path=parts.path[1:])
    return urllib.parse.urlsplit(uri)


class Request:
    """gunicorn's Request (gunicorn/http/message.py) as pre_request and
    post_request see it, from the environ: method, uri, path, query and
    fragment (not percent-decoded), version (1, 1), scheme, headers as a
    list of (NAME, value) with upper-case names, body (wsgi.input)."""

    def __init__(self, environ):
        self.method = environ.get('REQUEST_METHOD', '')
        self.uri = environ.get('RAW_URI', '')
        try:
            parts = split_request_uri(self.uri)
            self.path, self.query, self.fragment = (
                parts.path, parts.query, parts.fragment)
        except ValueError:
            self.path, self.query, self.fragment = self.uri, '', ''
        proto = environ.get('SERVER_PROTOCOL', 'HTTP/1.1')
        try:
            self.version = (int(proto[5]), int(proto[7]))
        except (IndexError, ValueError):
            self.version = (1, 1)
        self.scheme = environ.get('wsgi.url_scheme', 'http')
        self.headers = [(_header_name(k), v) for k, v in environ.items()
                        if k.startswith('HTTP_')
                        or k in ('CONTENT_TYPE', 'CONTENT_LENGTH')]
        self.trailers = []
        self.body = environ.get('wsgi.input')
        self.remote_addr = environ.get('REMOTE_ADDR', '')

    def __repr__(self):
        return '<Request %s %s>' % (self.method, self.uri)


def _header_name(key):
    if key.startswith('HTTP_'):
        key = key[5:]
    return key.replace('_', '-')


class ResponseInfo:
    """gunicorn's Response as post_request sees it: status ('200 OK'),
    status_code (200) and headers (the app's (name, value) list). After an
    exception before the head was sent, it is the 500 the client got."""

    def __init__(self, resp):
        if resp.start is not None and not (resp.failed and not resp.sent):
            status, headers = marshal.loads(resp.start)
        else:
            status, headers = '500 Internal Server Error', []
        self.status = status
        self.headers = headers
        self.headers_sent = resp.sent
        try:
            self.status_code = int(status.split(None, 1)[0])
        except (IndexError, ValueError):
            self.status_code = None

    def __repr__(self):
        return '<Response %s>' % self.status
