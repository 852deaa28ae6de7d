#!/usr/bin/python3
"""Master memory with many idle keep-alive connections, plain and TLS.

    bench/idleconns.py BINARY [CONNS] [MODE...]     # MODE: plain, tls (default: both)
    bench/idleconns.py /tmp/gonicorn 10000

For each mode, a fresh gonicorn serves the shared harness's hello app (../shared/bench/apps
or $HARNESS/apps) with 2 workers pinned to CPU 0 (TLS: --certfile/--keyfile with a
self-signed P-256 certificate made by openssl, as bench/h2load.sh does); this script, on
CPU 1, warms it up with 200 requests on connections of their own, reads the master's VmRSS
(/proc/PID/status), then opens CONNS (default 10,000) connections that each make one
request, read the answer, and stay open, idle in keep-alive. After 2 s ($IDLECONNS_SETTLE;
more than --keep-alive's 75 s needs IDLECONNS_ARGS="--keep-alive N") it reads VmRSS again
and counts the master's open sockets (/proc/PID/fd), checks that the first and the last
connection still answer a request (none was closed by --max-connections or the keep-alive
timeout), closes them all, and reads VmRSS once more after 5 s. The growth divided by CONNS
is what one idle connection costs the master. The kernel's socket buffers are not in VmRSS.

The script raises its own open-files limit (RLIMIT_NOFILE) to the hard limit; gonicorn, a
Go program, does the same for itself at start. Both need CONNS plus some. Above gonicorn's
default --max-connections (10,000) it passes --max-connections CONNS.
With IDLECONNS_GO_STATS=1 the master also serves --metrics-bind, and the table adds the Go
runtime's heap and stacks in use (go_memstats_*) before and with the connections, which
tells what a connection holds. $IDLECONNS_ARGS adds gonicorn flags.

Memory, not speed: run it at full scale on a loaded machine if need be.
"""
import os
import re
import resource
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
APPS = os.path.join(os.environ.get("HARNESS", os.path.join(HERE, "..", "..", "shared", "bench")), "apps")
PYTHON = "/usr/bin/python3"
DEFAULT_MAX_CONNECTIONS = 10000
REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def vmrss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/%d/status" % pid)


def open_sockets(pid):
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            n += os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("socket:")
        except FileNotFoundError:
            pass
    return n


def nofile_soft(pid):
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max open files"):
                return int(line.split()[3])
    raise RuntimeError("no open-files limit in /proc/%d/limits" % pid)


def go_stats(metrics_url):
    """Heap in use and stacks in use of the master (MiB), from its /metrics."""
    if not metrics_url:
        return None
    text = urllib.request.urlopen(metrics_url, timeout=10).read().decode()
    def value(name):
        return float(re.search(r"^%s (\S+)$" % name, text, re.M).group(1)) / 2**20
    return value("go_memstats_heap_inuse_bytes"), value("go_memstats_stack_inuse_bytes")


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < need:
        sys.exit("need %d open files, the hard limit (ulimit -Hn) is %d" % (need, hard))
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def get(sock):
    """Sends one GET / on sock and reads the answer (hello: Content-Length, 13 bytes)."""
    sock.sendall(REQUEST)
    data = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed by the server after %r" % data)
        data += chunk
        head, sep, body = data.partition(b"\r\n\r\n")
        if sep:
            m = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
            if m and len(body) >= int(m.group(1)):
                if not head.startswith(b"HTTP/1.1 200"):
                    raise ConnectionError("answer %r" % head.split(b"\r\n")[0])
                return


class Server:
    """A gonicorn on a free port, plain or TLS, with a client that connects to it."""

    def __init__(self, binary, tls, conns, tmp):
        self.port = free_port()
        flags = ["--bind", "127.0.0.1:%d" % self.port, "--workers", "2", "--python", PYTHON,
                 "--chdir", APPS, "--error-logfile", os.path.join(tmp, "error-%s.log" % ("tls" if tls else "plain"))]
        if conns > DEFAULT_MAX_CONNECTIONS:
            flags += ["--max-connections", str(conns)]
        self.context = None
        if tls:
            cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
            if not os.path.exists(cert):
                subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                "-nodes", "-days", "1", "-subj", "/CN=localhost", "-addext",
                                "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
                               check=True, capture_output=True)
            flags += ["--certfile", cert, "--keyfile", key]
            self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            self.context.check_hostname = False
            self.context.verify_mode = ssl.CERT_NONE
        self.metrics_url = None
        if os.environ.get("IDLECONNS_GO_STATS"):
            mport = free_port()
            flags += ["--metrics-bind", "127.0.0.1:%d" % mport]
            self.metrics_url = "http://127.0.0.1:%d/metrics" % mport
        flags += os.environ.get("IDLECONNS_ARGS", "").split()
        env = dict(os.environ, PATH="/usr/bin:/bin:" + os.environ.get("PATH", ""))
        self.proc = subprocess.Popen(["taskset", "-c", "0", binary] + flags + ["hello:app"], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.pid = self.proc.pid  # taskset execs the binary: same pid

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        # Without it the request waits for the ACK of the TLS handshake's last flight
        # (Nagle's algorithm against the server's delayed ACK): 40 ms per connection.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.context:
            sock = self.context.wrap_socket(sock)
        return sock

    def wait_ready(self, timeout=60):
        deadline = time.time() + timeout
        while True:
            try:
                with self.connect() as s:
                    get(s)
                    return
            except OSError:
                if time.time() > deadline or self.proc.poll() is not None:
                    sys.exit("gonicorn did not answer on port %d" % self.port)
                time.sleep(0.2)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def measure(binary, mode, conns, tmp, settle):
    server = Server(binary, mode == "tls", conns, tmp)
    try:
        server.wait_ready()
        if nofile_soft(server.pid) < conns + 100:
            sys.exit("gonicorn's open-files limit is %d, below %d connections: raise ulimit -Hn"
                     % (nofile_soft(server.pid), conns))
        for _ in range(200):  # warm-up: buffers, pools, the TLS handshake's code
            with server.connect() as s:
                get(s)
        time.sleep(2)
        before, go_before, sockets_before = vmrss_kib(server.pid), go_stats(server.metrics_url), open_sockets(server.pid)
        started = time.time()
        idle = []
        try:
            for _ in range(conns):
                s = server.connect()
                idle.append(s)
                get(s)
            opened = time.time() - started
            time.sleep(settle)  # let the runtime settle
            after, go_after, sockets_after = vmrss_kib(server.pid), go_stats(server.metrics_url), open_sockets(server.pid)
            get(idle[0])  # the oldest and the newest still answer: none was closed
            get(idle[-1])
        finally:
            for s in idle:
                s.close()
        time.sleep(5)
        closed = vmrss_kib(server.pid)
    finally:
        server.stop()
    return dict(mode=mode, conns=conns, before=before, after=after, closed=closed, opened=opened,
                sockets=sockets_after - sockets_before, go_before=go_before, go_after=go_after)


def main():
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        sys.exit(__doc__)
    binary = os.path.abspath(args[0])
    conns = int(args[1]) if len(args) > 1 else 10000
    modes = args[2:] or ["plain", "tls"]
    if any(m not in ("plain", "tls") for m in modes):
        sys.exit(__doc__)
    raise_nofile(conns + 1000)
    os.sched_setaffinity(0, {1})
    tmp = tempfile.mkdtemp(prefix="gonicorn-idleconns-")
    settle = float(os.environ.get("IDLECONNS_SETTLE", "2"))
    rows = [measure(binary, m, conns, tmp, settle) for m in modes]
    subprocess.run(["rm", "-rf", tmp])
    rev = subprocess.run(["git", "-C", HERE, "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True).stdout.strip()
    print("gonicorn %s (commit %s), hello, 2 workers, %s UTC\n" % (
        os.path.basename(binary), rev or "?", time.strftime("%Y-%m-%d %H:%M", time.gmtime())))
    go = rows[0]["go_before"] is not None
    head = "| mode | idle connections | master VmRSS before | with them | per connection | after closing them | open in |"
    if go:
        head += " Go heap before / with | Go stacks before / with |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for r in rows:
        per = (r["after"] - r["before"]) / r["conns"]
        line = "| %s | %s (%s sockets more) | %.1f MiB | %.1f MiB | %.1f KiB | %.1f MiB | %.1f s |" % (
            r["mode"], "{:,}".format(r["conns"]), "{:,}".format(r["sockets"]), r["before"] / 1024,
            r["after"] / 1024, per, r["closed"] / 1024, r["opened"])
        if go:
            line += " %.1f / %.1f MiB | %.1f / %.1f MiB |" % (r["go_before"][0], r["go_after"][0],
                                                          r["go_before"][1], r["go_after"][1])
        print(line)


if __name__ == "__main__":
    main()
