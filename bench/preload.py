#!/usr/bin/python3
"""Memory and respawn time of gonicorn's workers with and without --preload.

    bench/preload.py BINARY [RUNS]

Serves the example Django project (examples/django, with /usr/bin/python3 or $PYTHON) with
4 workers, first without --preload, then with it, RUNS times each (default 3), and for
each run prints:

 - the PSS (proportional set size, /proc/PID/smaps_rollup) of the 4 workers summed, and
   with --preload also of the preloader, right after boot and again after 200 requests
   to /json and /template (Django builds its URL resolver and loads its templates at the
   first request, in each worker), and the RSS (which counts a shared page in each process
   that maps it) then;
 - the respawn time: a worker is killed (SIGKILL) and the time until the master logs the
   replacement's "Booting worker" line (its handshake done, ready for requests) is taken,
   three times per run.

PSS counts a page shared by N processes as 1/N in each, so the sum over the processes is
the memory they use together. Memory, not speed: the machine's load moves the respawn time,
so compare the two modes within one invocation.
"""
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT = os.path.join(HERE, "..", "examples", "django")
PYTHON = os.environ.get("PYTHON", "/usr/bin/python3")
WORKERS = 4
BOOTED = re.compile(r"Booting (worker|preloader) with pid: (\d+)")


def rollup_kib(pid, field="Pss"):
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError("no %s for pid %d" % (field, pid))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    """A gonicorn whose log lines are read as they come, with their arrival time."""

    def __init__(self, binary, preload):
        self.port = free_port()
        args = [binary, "--python", PYTHON, "--chdir", PROJECT, "-w", str(WORKERS),
                "--bind", "127.0.0.1:%d" % self.port, "--no-control-socket", "mysite.wsgi"]
        if preload:
            args.insert(1, "--preload")
        env = dict(os.environ, DJANGO_DB="/tmp/gonicorn-bench-preload.sqlite3")
        self.proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True, env=env)
        self.workers, self.preloaders = [], []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stderr:
            m = BOOTED.search(line)
            if m:
                with self.cond:
                    kind, pid = m.group(1), int(m.group(2))
                    (self.workers if kind == "worker" else self.preloaders).append((pid, time.monotonic()))
                    self.cond.notify_all()

    def wait_workers(self, n, timeout=120):
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.workers) >= n, timeout):
                raise RuntimeError("%d workers not booted after %d s" % (n, timeout))
            return self.workers[n - 1][1]

    def live_workers(self):
        with self.cond:
            return [pid for pid, _ in self.workers if os.path.exists("/proc/%d" % pid)][-WORKERS:]

    def get(self, path):
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.port, path), timeout=30) as r:
            r.read()

    def pss(self, field="Pss"):
        """PSS (or field) in MiB of the workers, and of the live preloader (0 without)."""
        workers = sum(rollup_kib(pid, field) for pid in self.live_workers()) / 1024
        pre = [pid for pid, _ in self.preloaders if os.path.exists("/proc/%d" % pid)]
        return workers, sum(rollup_kib(pid, field) for pid in pre) / 1024

    def respawn(self):
        """Kills the oldest live worker; returns the seconds until its replacement is ready."""
        with self.cond:
            n = len(self.workers)
        pid = self.live_workers()[0]
        t0 = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        return self.wait_workers(n + 1) - t0

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)


def run(binary, preload):
    s = Server(binary, preload)
    try:
        s.wait_workers(WORKERS)
        time.sleep(1)
        boot = s.pss()
        for _ in range(100):
            s.get("/json")
            s.get("/template")
        # In parallel, so that every worker takes requests.
        threads = [threading.Thread(target=lambda: [s.get("/json") or s.get("/template") for _ in range(50)])
                   for _ in range(WORKERS * 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        warm = s.pss()
        rss = s.pss("Rss")
        time.sleep(max(0, 5.5 - 1))  # a worker younger than 5 s is respawned with backoff
        respawns = [s.respawn() for _ in range(3)]
        return boot, warm, rss, respawns
    finally:
        s.stop()


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    binary, runs = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 3
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput"], cwd=PROJECT, check=True,
                   env=dict(os.environ, DJANGO_DB="/tmp/gonicorn-bench-preload.sqlite3"),
                   stdout=subprocess.DEVNULL)
    print("mode      run  PSS boot: workers (+preloader)  PSS warm: workers (+preloader)"
          "  RSS warm: workers (+preloader)  respawn ms")
    for i in range(runs):
        for preload in (False, True):
            (bw, bp), (ww, wp), (rw, rp), resp = run(binary, preload)
            print("%-9s %3d  %8.1f (+%5.1f) MiB            %8.1f (+%5.1f) MiB           "
                  "%8.1f (+%5.1f) MiB           %s" % (
                      "preload" if preload else "default", i + 1, bw, bp, ww, wp, rw, rp,
                      " ".join("%.0f" % (r * 1000) for r in resp)), flush=True)


if __name__ == "__main__":
    main()
