#!/usr/bin/env python3
"""bench/slow_conns.py — what slow clients cost the server in memory, and
whether it gets that memory back once they leave.

Starts `dermaga serve` (the binary given, with a database that refuses
connections: nothing here needs one), records its VmRSS from
/proc/PID/status, opens N connections that each send the start of a request
(a request line and a large header value, no end) and stop, waits until
the server has read them all, records the RSS (peak), closes them, waits
until the server has closed them too and its RSS has settled, and reports
before / peak / after.

    python3 bench/slow_conns.py BIN [--conns 1000] [--header-bytes 12000]
                                    [--max-growth-mb 10]

Exit status 1 when RSS after is more than --max-growth-mb above before.
Used by bench/slow_conns.sh (Release build); figures go into
bench/RESULTS.md by hand.
"""
import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def metric(port, name):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    for line in data.decode("utf-8", "replace").splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise RuntimeError(f"{name} not in /metrics")


def wait_for(what, cond, timeout=30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


def settled_rss(pid, timeout=10.0):
    """RSS once it has not moved by more than 64 kB for a second (the
    server returns freed memory on a timer after a burst of closes)."""
    end = time.monotonic() + timeout
    last, since = rss_kb(pid), time.monotonic()
    while time.monotonic() < end:
        time.sleep(0.1)
        now = rss_kb(pid)
        if abs(now - last) > 64:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= 1.0:
            break
    return rss_kb(pid)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin")
    ap.add_argument("--conns", type=int, default=1000)
    ap.add_argument("--header-bytes", type=int, default=12000)
    ap.add_argument("--max-growth-mb", type=float, default=10.0)
    a = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = a.conns + 256
    if soft < want:  # this client holds conns sockets too; the server inherits the limit
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))

    work = tempfile.mkdtemp(prefix="dermaga-slow-")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = {
        "server": {"listen": "127.0.0.1", "port": port, "maxConnections": a.conns + 64,
                   "headerTimeoutMs": 60000, "requestTimeoutMs": 60000},
        "database": {"url": "postgresql://127.0.0.1:1/none", "workers": 1,
                     "connectTimeoutS": 1, "migrateOnStart": False},
        "logLevel": "error", "dataDir": os.path.join(work, "data"),
        "auth": {"jwtSecret": "slow-conns-bench-secret-0123456789abcdef"},
    }
    path = os.path.join(work, "config.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    log = open(os.path.join(work, "server.log"), "w")
    srv = subprocess.Popen([a.bin, "serve", "--config", path], stdout=log, stderr=log)
    socks = []
    try:
        def up():
            try:
                metric(port, "dermaga_http_open_connections")
                return True
            except OSError:
                return False
        wait_for("the server to listen", up)
        # Warm up: the code paths a request takes, once, so "before" is not
        # a server that has never served anything.
        metric(port, "dermaga_http_open_connections")
        before = settled_rss(srv.pid)

        partial = (b"GET /healthz HTTP/1.1\r\nHost: b\r\nX-Slow: " + b"a" * a.header_bytes)
        for _ in range(a.conns):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(partial)
            socks.append(s)
        # Open in the server's count (plus the /metrics request asking).
        wait_for("every slow connection to be open",
                 lambda: metric(port, "dermaga_http_open_connections") >= a.conns + 1)
        peak = settled_rss(srv.pid)

        for s in socks:
            s.close()
        socks = []
        wait_for("the server to close them",
                 lambda: metric(port, "dermaga_http_open_connections") <= 1)
        after = settled_rss(srv.pid)
    finally:
        for s in socks:
            s.close()
        srv.terminate()
        srv.wait(timeout=30)
        log.close()

    mb = lambda kb: kb / 1024.0
    print(f"{a.conns} slow connections, {a.header_bytes}-byte partial header each: "
          f"RSS before {mb(before):.1f} MiB, peak {mb(peak):.1f} MiB, after {mb(after):.1f} MiB "
          f"(after - before = {mb(after - before):+.1f} MiB)")
    if mb(after - before) > a.max_growth_mb:
        print(f"FAIL: RSS after is more than {a.max_growth_mb} MiB above before", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
