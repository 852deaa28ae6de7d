#!/usr/bin/python3
"""Memory of gonicorn over many requests: is the RSS of the master and the workers flat?

    bench/soak.py BINARY [SCENARIO] [REQUESTS] [WORKERS]
    bench/soak.py /tmp/gonicorn django-json 1000000 2

Serves the shared harness's app (SCENARIO: django-json, the default, or hello; from
../shared/bench/apps or $HARNESS/apps) with WORKERS workers (default 2, no --max-requests,
so nothing recycles them) pinned to CPU 0, and loads it with h2load on CPU 1: keep-alive
HTTP/1.1, $SOAK_CONNS connections (default 64), one request in flight each. h2load runs
in rounds of $SOAK_EVERY requests (default 50,000; -n counts them exactly), each with fresh
connections, after a warm-up of $SOAK_WARMUP (default 20,000) that is not counted. After the
warm-up and after every round it samples, for the master and for each worker (a child of one
of the master's threads, /proc/PID/task/*/children):

 - VmRSS (/proc/PID/status): the resident memory, a shared page counted in every process;
 - PSS (/proc/PID/smaps_rollup): a page shared by N processes counts 1/N in each, so the
   PSS of the tree (master + workers) is what the server uses altogether.

It prints a markdown table of the samples, then one of start (after the warm-up), end, max
and drift ((end - start) / start) per process and for the tree, and the worker pids at
start and end: they must be the same, a recycled worker would hide a leak.
REQUESTS defaults to 1,000,000. $SOAK_ARGS adds gonicorn flags. With SOAK_GO_STATS=1 the
master also serves --metrics-bind, and each sample adds the Go runtime's heap in use, the
heap it keeps from the OS (heap_sys - heap_released), stacks in use and goroutines
(go_memstats_*, go_goroutines), to tell a Go heap that grows from pages the runtime keeps.

Memory, not speed: the machine's load does not change what is resident, so the script runs
at full scale on a shared machine. The server's log is kept in a temporary directory whose
path is printed when a request fails.
"""
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
APPS = os.path.join(os.environ.get("HARNESS", os.path.join(HERE, "..", "..", "shared", "bench")), "apps")
SCENARIOS = {
    "hello": (APPS, "hello:app", "/"),
    "django-json": (os.path.join(APPS, "djsite"), "djsite.wsgi:application", "/json"),
}
PYTHON = "/usr/bin/python3"  # Debian's, which has Django
MIB = 1024.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status_kib(pid, field):
    """A "Field:  N kB" line of /proc/PID/status, in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError("no %s in /proc/%d/status" % (field, pid))


def pss_kib(pid):
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    raise RuntimeError("no Pss in /proc/%d/smaps_rollup" % pid)


def workers_of(pid):
    """The master's children, sorted: Go starts a worker from whichever thread runs the fork."""
    kids = []
    for task in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/children" % (pid, task)) as f:
                kids += [int(x) for x in f.read().split()]
        except FileNotFoundError:  # the thread just ended
            pass
    return sorted(kids)


def go_stats(metrics_url):
    """The master's Go heap in use, heap kept from the OS (obtained and not released: what
    of the heap can be resident), stacks in use (MiB) and goroutines, from its /metrics."""
    text = urllib.request.urlopen(metrics_url, timeout=10).read().decode()
    def value(name):
        return float(re.search(r"^go_%s (\S+)$" % name, text, re.M).group(1))
    mib = 2.0**20
    return (value("memstats_heap_inuse_bytes") / mib,
            (value("memstats_heap_sys_bytes") - value("memstats_heap_released_bytes")) / mib,
            value("memstats_stack_inuse_bytes") / mib, int(value("goroutines")))


class Sample:
    """Memory of the master and its workers after `done` measured requests."""

    def __init__(self, done, master, metrics_url):
        self.done = done
        self.workers = workers_of(master)
        self.rss = {p: status_kib(p, "VmRSS") for p in [master] + self.workers}
        self.pss = {p: pss_kib(p) for p in [master] + self.workers}
        # The master's resident memory split: anonymous (heap, stacks, runtime) and file
        # pages (the binary's code and data as it runs them).
        self.anon, self.file = status_kib(master, "RssAnon"), status_kib(master, "RssFile")
        self.go = go_stats(metrics_url) if metrics_url else None


class H2load:
    """Counts of all the rounds: requests h2load reports done, succeeded and 2xx."""

    def __init__(self, url, conns):
        self.url, self.conns = url, conns
        self.done = self.succeeded = self.ok = 0

    def run(self, n):
        out = subprocess.run(["taskset", "-c", "1", "h2load", "--h1", "-n", str(n), "-c", str(self.conns),
                              "-m", "1", self.url], capture_output=True, text=True).stdout
        m = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded", out)
        codes = re.search(r"status codes: (\d+) 2xx", out)
        if not m or not codes:
            sys.exit("h2load gave no counts:\n" + out)
        self.done += int(m.group(1))
        self.succeeded += int(m.group(2))
        self.ok += int(codes.group(1))


def wait_ready(url, server, timeout=60):
    deadline = time.time() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if time.time() > deadline or server.poll() is not None:
            sys.exit("gonicorn did not answer %s" % url)
        time.sleep(0.2)


def mib(kib):
    return "%.1f" % (kib / MIB)


def drift(start, end):
    return "%+.1f %%" % ((end - start) / start * 100)


def print_samples(samples, master):
    workers = samples[0].workers
    head = ["requests", "master RSS", "(anon + file)", "master PSS"]
    for i in range(len(workers)):
        head += ["w%d RSS" % (i + 1), "w%d PSS" % (i + 1)]
    head += ["tree PSS"]
    if samples[0].go:
        head += ["Go heap in use", "Go heap kept", "Go stacks", "goroutines"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for s in samples:
        row = ["{:,}".format(s.done), mib(s.rss[master]), "%s + %s" % (mib(s.anon), mib(s.file)), mib(s.pss[master])]
        for p in workers:
            row += [mib(s.rss[p]), mib(s.pss[p])] if p in s.rss else ["gone", "gone"]
        row += [mib(sum(s.pss.values()))]
        if s.go:
            row += ["%.1f" % s.go[0], "%.1f" % s.go[1], "%.2f" % s.go[2], str(s.go[3])]
        print("| " + " | ".join(row) + " |")


def print_summary(samples, master):
    """Start, end, max and drift per process (RSS and PSS) and for the tree."""
    first, last = samples[0], samples[-1]
    print("| process | pid | RSS start | RSS end | RSS max | RSS drift | PSS start | PSS end | PSS max | PSS drift |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    names = [("master", master)] + [("worker %d" % (i + 1), p) for i, p in enumerate(first.workers)]
    for name, p in names:
        if p not in last.rss:
            print("| %s | %d | recycled or gone before the end |||||||| " % (name, p))
            continue
        rss = [s.rss[p] for s in samples if p in s.rss]
        pss = [s.pss[p] for s in samples if p in s.pss]
        print("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            name, p, mib(rss[0]), mib(rss[-1]), mib(max(rss)), drift(rss[0], rss[-1]),
            mib(pss[0]), mib(pss[-1]), mib(max(pss)), drift(pss[0], pss[-1])))
    rss = [sum(s.rss.values()) for s in samples]
    pss = [sum(s.pss.values()) for s in samples]
    print("| tree | | %s | %s | %s | %s | %s | %s | %s | %s |" % (
        mib(rss[0]), mib(rss[-1]), mib(max(rss)), drift(rss[0], rss[-1]),
        mib(pss[0]), mib(pss[-1]), mib(max(pss)), drift(pss[0], pss[-1])))


def main():
    args = sys.argv[1:]
    if not args or args[0].startswith("-") or (len(args) > 1 and args[1] not in SCENARIOS):
        sys.exit(__doc__)
    binary = os.path.abspath(args[0])
    scenario = args[1] if len(args) > 1 else "django-json"
    total = int(args[2]) if len(args) > 2 else 1000000
    nworkers = int(args[3]) if len(args) > 3 else 2
    every = int(os.environ.get("SOAK_EVERY", "50000"))
    warmup = int(os.environ.get("SOAK_WARMUP", "20000"))
    conns = int(os.environ.get("SOAK_CONNS", "64"))
    workdir, app, path = SCENARIOS[scenario]

    tmp = tempfile.mkdtemp(prefix="gonicorn-soak-")
    port = free_port()
    flags = ["--bind", "127.0.0.1:%d" % port, "--workers", str(nworkers), "--python", PYTHON,
             "--chdir", workdir, "--error-logfile", os.path.join(tmp, "error.log")]
    metrics_url = None
    if os.environ.get("SOAK_GO_STATS"):
        mport = free_port()
        flags += ["--metrics-bind", "127.0.0.1:%d" % mport]
        metrics_url = "http://127.0.0.1:%d/metrics" % mport
    flags += os.environ.get("SOAK_ARGS", "").split()
    env = dict(os.environ, PATH="/usr/bin:/bin:" + os.environ.get("PATH", ""))
    server = subprocess.Popen(["taskset", "-c", "0", binary] + flags + [app], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    master = server.pid  # taskset execs the binary: same pid
    try:
        url = "http://127.0.0.1:%d%s" % (port, path)
        wait_ready(url, server)
        load = H2load(url, conns)
        started = time.time()
        load.run(warmup)
        samples = [Sample(0, master, metrics_url)]
        print("soak: %d workers %s, %s, %d requests in rounds of %d (warm-up %d), %d connections" % (
            len(samples[0].workers), samples[0].workers, scenario, total, every, warmup, conns), file=sys.stderr)
        done = 0
        while done < total:
            n = min(every, total - done)
            load.run(n)
            done += n
            samples.append(Sample(done, master, metrics_url))
            s = samples[-1]
            print("soak: %9d requests, master RSS %s MiB, tree PSS %s MiB, %.0f s" % (
                done, mib(s.rss[master]), mib(sum(s.pss.values())), time.time() - started),
                file=sys.stderr, flush=True)
        elapsed = time.time() - started
    finally:
        server.terminate()
        server.wait()
    rev = subprocess.run(["git", "-C", HERE, "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True).stdout.strip()
    print("gonicorn %s (commit %s), %s, workers=%d, %s measured requests after a warm-up of %s, "
          "h2load --h1 -c %d in rounds of %s, %s UTC, %.0f s (%.0f req/s)\n" % (
              os.path.basename(binary), rev or "?", scenario, nworkers, "{:,}".format(total),
              "{:,}".format(warmup), conns, "{:,}".format(every), time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
              elapsed, load.done / elapsed))
    print("Samples (MiB):\n")
    print_samples(samples, master)
    print("\nStart (after the warm-up), end, max and drift (MiB):\n")
    print_summary(samples, master)
    same = samples[0].workers == samples[-1].workers
    print("\nWorker pids at start %s, at end %s: %s." % (
        samples[0].workers, samples[-1].workers, "the same, none recycled" if same else "DIFFERENT"))
    bad = load.done - load.ok
    print("Requests: %s done, %s succeeded, %s with 2xx%s." % (
        "{:,}".format(load.done), "{:,}".format(load.succeeded), "{:,}".format(load.ok),
        "" if bad == 0 else " (%d not 2xx: see %s)" % (bad, tmp)))
    if same and bad == 0:
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
