#!/usr/bin/env python3
"""Measures --reload's latency: the time from saving a view of the example Django
project to the new code answering (docs/django.md, "Development mode").

    go build -o /tmp/gonicorn ./cmd/gonicorn
    bench/reload_latency.py /tmp/gonicorn [RUNS] [ENGINE ...]

ENGINE is inotify or poll (--reload-engine), or runserver: Django's own
`manage.py runserver` with its autoreloader, for comparison.

It copies examples/django to a temporary directory, serves it with
`gonicorn --reload` (Debian's /usr/bin/python3, which has Django), and RUNS
times (default 5) per engine (default inotify and poll): rewrites
demo/views.py with a new marker in the /json view (an editor's save: write
a new file, rename it over the old one), then asks for /json every 5 ms
until the marker is in the answer. It prints each run and the median.
Latency, not throughput: one client, one request at a time.
"""

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(HERE, '..', 'examples', 'django')
PYTHON = '/usr/bin/python3'


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.read().decode()
    except Exception as e:  # a 500 while a worker boots is an answer too
        return repr(e)


def wait_for(url, marker, deadline):
    while time.monotonic() < deadline:
        if marker in get(url):
            return True
        time.sleep(0.005)
    return False


def save(path, text):
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        f.write(text)
    os.rename(tmp, path)


def measure(binary, engine, runs):
    work = tempfile.mkdtemp(prefix='gonicorn-reload-')
    project = os.path.join(work, 'django')
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns('__pycache__'))
    port = free_port()
    url = 'http://127.0.0.1:%d/json' % port
    log = open(os.path.join(work, 'log'), 'w')
    db = os.path.join(work, 'db.sqlite3')
    if engine == 'runserver':
        cmd = [PYTHON, 'manage.py', 'runserver', '127.0.0.1:%d' % port]
    else:
        cmd = [binary, '--reload', '--reload-engine', engine, '--bind', '127.0.0.1:%d' % port,
               '--python', PYTHON, '--no-control-socket']
    proc = subprocess.Popen(cmd, cwd=project, stdout=log, stderr=subprocess.STDOUT,
                            env=dict(os.environ, DJANGO_DB=db))
    times = []
    try:
        if not wait_for(url, '"path"', time.monotonic() + 60):
            sys.exit('server did not answer; see ' + log.name)
        time.sleep(1)  # the first report of module files reaches the watcher
        views = os.path.join(project, 'demo', 'views.py')
        with open(views) as f:
            original = f.read()
        for i in range(runs):
            marker = 'run-%d-%d' % (i, time.monotonic_ns())
            start = time.monotonic()
            save(views, original.replace('"method": request.method,',
                                         '"method": request.method, "m": "%s",' % marker))
            if not wait_for(url, marker, start + 60):
                sys.exit('run %d: no new answer within 60 s; see %s' % (i, log.name))
            times.append(time.monotonic() - start)
            print('%-7s run %d: %.2f s' % (engine, i + 1, times[-1]), flush=True)
            time.sleep(1)  # the old generation drains and exits
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
        log.close()
        shutil.rmtree(work)
    return times


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    binary = os.path.abspath(sys.argv[1])
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    engines = sys.argv[3:] or ['inotify', 'poll']
    results = {}
    for engine in engines:
        results[engine] = measure(binary, engine, runs)
    for engine, times in results.items():
        print('%-7s median %.2f s, min %.2f s, max %.2f s over %d runs'
              % (engine, statistics.median(times), min(times), max(times), len(times)))
    print(json.dumps(results))


if __name__ == '__main__':
    main()
