"""gonicorn preloader: with --preload, imports the app once and forks the
workers from it (gunicorn's preload_app).

The master starts it like a worker (gonicorn_boot, with this module after
the worker's), with one socket, the control socket, at fd
GONICORN_PRELOAD_FD. The preloader imports the app as a worker would
(gonicorn_worker.load), tells the master how that went with a Y frame, and,
if it loaded, forks one worker per K frame from the master. So the workers
share the imported modules with it, copy-on-write, and a new worker is ready
in milliseconds instead of importing the app again.

Life of a fork (docs/protocol.md, "Preload"):

 1. The master sends K with the new worker's fds attached (SCM_RIGHTS): its
    output pipe, then one socket per slot.
 2. The preloader forks a middle process, which forks the worker and exits
    at once. The master is a child subreaper while it waits for the answer,
    so the orphaned worker is re-parented to the master: the master waits
    for it, signals it and reads its /proc files as for any worker.
 3. The preloader waits for the middle process, closes its copies of the
    fds and answers P with the worker's pid.
 4. The worker waits until it is the master's child, asks the kernel for
    SIGKILL when the master dies (PR_SET_PDEATHSIG), puts its output pipe on
    stdout and stderr and serves its sockets as any worker does
    (gonicorn_worker.serve_process).

The preloader exits when its control socket reaches EOF: the master closed
it (a reload started a new preloader, or the master stops) or died. The
workers it forked are not its children and serve on. It stays
single-threaded, so a fork copies no lock held by another thread; an app
that starts threads at import is forked with them stopped, as under
gunicorn --preload.

Standard library only (ctypes for prctl, where present).
"""

import gc
import marshal
import os
import signal
import socket
import struct
import sys
import time
import traceback

import gonicorn_worker
from gonicorn_wire import HDR, Y, Link, LinkBroken, python_version

K, P = b'K'[0], b'P'[0]
PID = struct.Struct('<i')

PR_SET_PDEATHSIG = 1
SIGKILL = 9
ADOPT_WAIT = 5.0  # seconds a worker waits to be re-parented to the master


class Fork:
    """What a forked worker serves: its output fd, its sockets' fds, and
    whether other worker processes run; and the pid of the middle process
    that forked it."""

    def __init__(self, out, fds, multiprocess, middle=0, age=''):
        self.out, self.fds, self.multiprocess = out, fds, multiprocess
        self.age = age  # the worker's number, gunicorn's worker.age (hooks)
        self.middle = middle


def main():
    # Not SCHED_BATCH: a fork request is answered at once, not after the
    # workers' batch of requests.
    gonicorn_worker.setup_process(os.environ.get('GONICORN_PRELOAD_TITLE'),
                                  sched=False)
    # A TERM to the whole process group (Ctrl-C's terminal, systemd's stop)
    # would end it before the master: it exits when the master closes the
    # control socket instead, or dies with the master.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    link = Link(socket.socket(fileno=int(os.environ['GONICORN_PRELOAD_FD'])))
    master = os.getppid()
    loaded = gonicorn_worker.load()
    ready = marshal.dumps({'pid': os.getpid(), 'python': python_version(),
                           'ok': not loaded.load_error,
                           'error': loaded.load_error}, 2)
    try:
        link.send([HDR.pack(len(ready), Y), ready])
    except LinkBroken:
        sys.exit(1)
    if loaded.load_error:
        sys.exit(3)  # the master reports the traceback once
    prctl = parent_death_signal()
    # Objects that live now are moved out of the collector's reach, so that
    # a worker's collections do not write to (and so copy) the pages they
    # share with the preloader (the gc module's advice for fork).
    gc.freeze()
    job = serve_forks(link)  # returns in a forked worker only
    become_worker(job, master, prctl)
    gonicorn_worker.setup_process(os.environ.get('GONICORN_TITLE'))
    if job.age:
        os.environ['GONICORN_WORKER_AGE'] = job.age
    socks = [socket.socket(fileno=fd) for fd in job.fds]
    hooks, hook_error = gonicorn_worker.start_hooks(socks)
    if hook_error:
        loaded = loaded._replace(load_error=hook_error)
    gonicorn_worker.serve_process(socks, loaded, job.multiprocess, hooks)


def serve_forks(link):
    """Forks a worker per K frame until the master closes the control
    socket; then exits. Returns a Fork in each forked worker."""
    while True:
        try:
            frame = link.next_frame()
        except LinkBroken:
            frame = None
        if frame is None:
            sys.exit(0)
        kind, payload = frame
        fds, link.fds = link.fds, []
        if kind != K or len(fds) < 2:
            sys.stderr.write('gonicorn preloader: frame %r with %d fds, want '
                             'K with 2 or more\n' % (chr(kind), len(fds)))
            sys.exit(2)
        job = marshal.loads(payload)
        multiprocess = job.get('multiprocess') == '1'
        try:
            pid, middle = fork_worker()
        except OSError as e:
            pid, error = 0, 'fork: %s' % e
        else:
            if pid == 0:
                link.sock.close()
                return Fork(fds[0], fds[1:], multiprocess, middle,
                            job.get('age', ''))
            error = ''
        for fd in fds:
            os.close(fd)
        answer = marshal.dumps({'pid': pid, 'error': error}, 2)
        try:
            link.send([HDR.pack(len(answer), P), answer])
        except LinkBroken:
            sys.exit(0)


def fork_worker():
    """Forks a worker through a middle process that exits at once; returns
    (the worker's pid, the middle's pid), or (0, the middle's pid) in the
    worker."""
    sys.stdout.flush()
    sys.stderr.flush()
    r, w = os.pipe()
    middle = os.fork()
    if middle == 0:
        try:
            os.close(r)
            middle = os.getpid()
            pid = os.fork()
        except BaseException:
            os._exit(1)
        if pid == 0:
            os.close(w)
            return 0, middle
        try:
            os.write(w, PID.pack(pid))
        finally:
            os._exit(0)
    os.close(w)
    try:
        os.waitpid(middle, 0)
        data = os.read(r, PID.size)
    finally:
        os.close(r)
    if len(data) != PID.size:
        raise OSError('the middle process could not fork the worker')
    return PID.unpack(data)[0], middle


def become_worker(job, master, prctl):
    """Makes a forked process a worker of master: waits until it is the
    master's child, dies with the master, writes to its own output pipe."""
    deadline = time.monotonic() + ADOPT_WAIT
    while os.getppid() == job.middle and time.monotonic() < deadline:
        time.sleep(0.0005)  # the middle process is exiting
    if prctl is not None:
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a worker dies on TERM
    os.dup2(job.out, 1)
    os.dup2(job.out, 2)
    os.close(job.out)
    if os.getppid() != master:
        # The master died, or gave up on this fork (it stops, or its request
        # timed out) and is no longer a subreaper: nobody supervises us.
        sys.stderr.write('gonicorn worker %d: not adopted by the master (pid '
                         '%d); exiting\n' % (os.getpid(), master))
        os._exit(1)


def parent_death_signal():
    """Returns libc's prctl, or None where ctypes is missing: a worker then
    still ends when the master dies, at the EOF of its sockets, once its
    request is done."""
    try:
        import ctypes
        return ctypes.CDLL(None, use_errno=True).prctl
    except (ImportError, OSError, AttributeError):
        sys.stderr.write('gonicorn preloader: no ctypes; forked workers end '
                         'at the EOF of their sockets when the master dies:\n'
                         + traceback.format_exc())
        return None
