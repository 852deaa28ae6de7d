#!/usr/bin/python3
"""CPU time per request of gonicorn binaries: master plus workers.

    bench/cpureq.py SCENARIO BINARY [BINARY...]    # SCENARIO: hello, django-json or bytes64k

Each binary serves the shared harness's app (../shared/bench/apps, or $HARNESS/apps) with
2 workers pinned to CPU 0 ($CPUREQ_ARGS adds flags, e.g. "--workers 1"); wrk on CPU 1 warms up for 1 s, then loads it for $CPUREQ_SECONDS
(default 4). The server's CPU time is read from /proc/PID/stat (utime + stime of the
master and of each worker) before and after, and divided by the requests wrk completed.

It answers "does this change cost CPU?" when requests per second are too noisy to tell: on
this 2-core VM the same binary's rps swings by 50 % between runs, and time the VM was taken
away is not counted as the server's CPU time. CPU per request still moves with the machine's
load (cache and frequency), so compare binaries within one invocation, given alternately
(A B A B ...), never numbers across invocations. It measures cost, not latency or
throughput: use the harness (bench/compare.sh) for those.
"""
import os
import re
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
APPS = os.path.join(os.environ.get("HARNESS", os.path.join(HERE, "..", "..", "shared", "bench")), "apps")
SCENARIOS = {
    "hello": (APPS, "hello:app", "/"),
    "django-json": (os.path.join(APPS, "djsite"), "djsite.wsgi:application", "/json"),
    "bytes64k": (APPS, "payload:app", "/bytes64k"),
}
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    """utime + stime of pid (the master) and of its children (the workers), in seconds."""
    workers = []
    for task in os.listdir("/proc/%d/task" % pid):  # Go spawns from any of its threads
        with open("/proc/%d/task/%s/children" % (pid, task)) as f:
            workers += [int(x) for x in f.read().split()]
    return ticks(pid) / CLK_TCK, sum(ticks(p) for p in workers) / CLK_TCK


def ticks(pid):
    """utime + stime of pid, in clock ticks."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def wrk(url, secs):
    out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", "-c64", "-d%ds" % secs, url],
                         capture_output=True, text=True, check=True).stdout
    return int(re.search(r"(\d+) requests in", out).group(1))


def measure(binary, scenario, secs):
    workdir, app, path = SCENARIOS[scenario]
    port = free_port()
    env = dict(os.environ, PATH="/usr/bin:/bin:" + os.environ.get("PATH", ""))
    server = subprocess.Popen(
        ["taskset", "-c", "0", binary, "--bind", "127.0.0.1:%d" % port, "--workers", "2",
         "--python", "/usr/bin/python3", "--chdir", workdir]
        + os.environ.get("CPUREQ_ARGS", "").split() + [app],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = "http://127.0.0.1:%d%s" % (port, path)
        deadline = time.time() + 30
        while True:  # until the workers answer
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    sys.exit("%s did not start on port %d" % (binary, port))
                time.sleep(0.1)
        wrk(url, 1)
        master0, workers0 = cpu_seconds(server.pid)
        n = wrk(url, secs)
        master1, workers1 = cpu_seconds(server.pid)
        master, workers = master1 - master0, workers1 - workers0
    finally:
        server.terminate()
        server.wait()
    print("%-24s %-12s requests=%8d rps=%8.0f cpu_us/request=%6.1f (master %5.1f, workers %5.1f)"
          % (os.path.basename(binary), scenario, n, n / secs, (master + workers) / n * 1e6,
             master / n * 1e6, workers / n * 1e6), flush=True)


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in SCENARIOS:
        sys.exit(__doc__)
    secs = int(os.environ.get("CPUREQ_SECONDS", "4"))
    for binary in sys.argv[2:]:
        measure(os.path.abspath(binary), sys.argv[1], secs)


if __name__ == "__main__":
    main()
