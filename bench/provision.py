#!/usr/bin/env python3
# bench/provision.py — the timing half of bench/provision.sh (which builds,
# starts PostgreSQL, a private Podman and the server, and cleans up): N
# interleaved rounds of (a) POST /api/subscriptions until the instance is
# RUNNING and (b) a plain volume + create + start of the same container
# shape on the same engine socket until State.Running. One process with
# kept-alive connections, so a 10 ms poll costs well under a millisecond
# and both sides are measured the same way. Standard library only.
#
#   provision.py URL DOCKER_SOCKET ADMIN_EMAIL ADMIN_PASSWORD N
# Env: PLAN (plan slug of static-site, default basic), POLL_MS (default 10),
# DERMAGA_DATABASE_URL (psql, for the server-side breakdown; optional).
import http.client
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import time

API = "/v1.41"
POLL_S = int(os.environ.get("POLL_MS", "10")) / 1000.0
WAIT_S = 120.0


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP/1.1 over a unix socket (the engine's API)."""

    def __init__(self, path):
        super().__init__("docker", timeout=60)
        self.path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(60)
        s.connect(self.path)
        self.sock = s


class Client:
    """JSON calls on one kept-alive connection; reconnects once if closed."""

    def __init__(self, make):
        self.make = make
        self.conn = make()

    def call(self, method, path, body=None, token=None):
        headers = {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token is not None:
            headers["Authorization"] = "Bearer " + token
        for attempt in (0, 1):
            try:
                self.conn.request(method, path, body=data, headers=headers)
                r = self.conn.getresponse()
                raw = r.read()
                break
            except (http.client.HTTPException, ConnectionError, BrokenPipeError):
                self.conn.close()
                self.conn = self.make()
                if attempt == 1:
                    raise
        try:
            j = json.loads(raw) if raw else None
        except ValueError:
            j = None
        return r.status, j, raw


def die(msg):
    print("provision.py: " + msg, file=sys.stderr)
    sys.exit(1)


def ok(res, want, what):
    st, j, raw = res
    if st != want:
        die(f"{what}: HTTP {st}, want {want}: {raw[:400]!r}")
    return j.get("data") if isinstance(j, dict) and "data" in j else j


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def nearest_rank(xs, q):
    s = sorted(xs)
    return s[max(0, math.ceil(q * len(s)) - 1)]


# ---- (a) Dermaga ----------------------------------------------------------

def dermaga_round(api, token, plan_id):
    """Subscribe and poll until RUNNING: (ms, sub id, inst id, wall t0, wall t1, post ms, polls)."""
    w0 = time.time()
    t0 = time.monotonic()
    d = ok(api.call("POST", "/api/subscriptions", {"planId": plan_id}, token), 201, "subscribe")
    tpost = time.monotonic()
    sub_id, inst_id = d["id"], d["instance"]["id"]
    polls = 0
    while True:
        inst = ok(api.call("GET", f"/api/instances/{inst_id}", None, token), 200, "instance")
        polls += 1
        if inst["status"] == "RUNNING":
            t1 = time.monotonic()
            w1 = time.time()
            break
        if inst["status"] == "ERROR":
            die(f"instance {inst_id} is ERROR: {inst.get('message')}")
        if time.monotonic() - t0 > WAIT_S:
            die(f"instance {inst_id} still {inst['status']} after {WAIT_S} s")
        time.sleep(POLL_S)
    return (t1 - t0) * 1000, sub_id, inst_id, w0, w1, (tpost - t0) * 1000, polls


def dermaga_cancel(api, token, sub_id, inst_id):
    ok(api.call("PUT", f"/api/subscriptions/{sub_id}/cancel", {"reason": "bench"}, token), 200, "cancel")
    t0 = time.monotonic()
    while True:
        inst = ok(api.call("GET", f"/api/instances/{inst_id}", None, token), 200, "instance")
        if inst["status"] == "TERMINATED":
            return
        if time.monotonic() - t0 > WAIT_S:
            die(f"instance {inst_id} still {inst['status']} {WAIT_S} s after cancel")
        time.sleep(0.05)


def shape_of(eng, inst_id):
    """What runtime-docker asked the engine for, read back from dm-<id>."""
    st, c, raw = eng.call("GET", f"{API}/containers/dm-{inst_id}/json")
    if st != 200:
        die(f"inspect dm-{inst_id}: {st} {raw[:300]!r}")
    hc = c["HostConfig"]
    binds = hc.get("Binds") or []
    if len(binds) != 1:
        die(f"dm-{inst_id} has binds {binds}, expected one named volume")
    ports = list((hc.get("PortBindings") or {}).keys())
    if len(ports) != 1:
        die(f"dm-{inst_id} has port bindings {ports}, expected one")
    return {
        "image": c["Config"]["Image"],
        "env": c["Config"].get("Env") or [],
        "mount": binds[0].split(":")[1],
        "port": ports[0],
        "memory": hc.get("Memory", 0),
        "nano_cpus": hc.get("NanoCpus", 0),
    }


# ---- (b) plain ------------------------------------------------------------

def plain_round(eng, shape, k):
    """Volume, create, start, inspect until running; removed after. ms."""
    name = f"bench-plain-{os.getpid()}-{k}"
    vol = name + "-www"
    body = {
        "Image": shape["image"],
        "Env": shape["env"],
        "Labels": {"dermaga.bench": "plain"},
        "ExposedPorts": {shape["port"]: {}},
        "HostConfig": {
            "Memory": shape["memory"],
            "NanoCpus": shape["nano_cpus"],
            "Binds": [f"{vol}:{shape['mount']}"],
            "RestartPolicy": {"Name": "no"},
            "PortBindings": {shape["port"]: [{"HostIp": "127.0.0.1", "HostPort": str(free_port())}]},
        },
    }
    t0 = time.monotonic()
    ok(eng.call("POST", f"{API}/volumes/create", {"Name": vol, "Labels": {"dermaga.bench": "plain"}}), 201,
       "volume create")
    cid = ok(eng.call("POST", f"{API}/containers/create?name={name}", body), 201, "container create")["Id"]
    st, _, raw = eng.call("POST", f"{API}/containers/{cid}/start")
    if st != 204:
        die(f"start {name}: {st} {raw[:300]!r}")
    while True:
        c = ok(eng.call("GET", f"{API}/containers/{cid}/json"), 200, "inspect")
        if c["State"].get("Running"):
            t1 = time.monotonic()
            break
        if time.monotonic() - t0 > WAIT_S:
            die(f"{name} not running after {WAIT_S} s: {c['State']}")
        time.sleep(POLL_S)
    eng.call("DELETE", f"{API}/containers/{cid}?force=1&v=1")
    eng.call("DELETE", f"{API}/volumes/{vol}?force=1")
    return (t1 - t0) * 1000


# ---- the server's own timestamps -------------------------------------------

def breakdown(inst_id, w0, w1):
    """From the database: job created, PROVISIONING and RUNNING events, as ms from w0."""
    url = os.environ.get("DERMAGA_DATABASE_URL")
    if not url:
        return None
    sql = ("SELECT extract(epoch FROM j.created_at), "
           "  (SELECT extract(epoch FROM created_at) FROM instance_events "
           "   WHERE instance_id = j.iid AND to_status = 'PROVISIONING' ORDER BY id LIMIT 1), "
           "  (SELECT extract(epoch FROM created_at) FROM instance_events "
           "   WHERE instance_id = j.iid AND to_status = 'RUNNING' ORDER BY id LIMIT 1) "
           "FROM (SELECT created_at, (payload->>'instanceId')::uuid AS iid FROM jobs "
           "      WHERE kind = 'instance.provision' AND payload->>'instanceId' = :'iid') j")
    out = subprocess.run(["psql", "-XAtq", "-F", " ", "-v", f"iid={inst_id}", url],
                         input=sql, capture_output=True, text=True)
    if out.returncode != 0 or not out.stdout.strip():
        print("breakdown: " + out.stderr.strip(), file=sys.stderr)
        return None
    created, prov, run = (float(x) for x in out.stdout.split())
    return {"job": (created - w0) * 1000, "provisioning": (prov - w0) * 1000,
            "running": (run - w0) * 1000, "seen": (w1 - w0) * 1000}


def main():
    if len(sys.argv) != 6:
        die("usage: provision.py URL DOCKER_SOCKET ADMIN_EMAIL ADMIN_PASSWORD N")
    url, sock, admin_email, admin_pass, n = sys.argv[1:6]
    n = int(n)
    host, port = url.split("//")[1].split(":")
    api = Client(lambda: http.client.HTTPConnection(host, int(port), timeout=60))
    eng = Client(lambda: UnixHTTPConnection(sock))

    admin = ok(api.call("POST", "/api/auth/login", {"email": admin_email, "password": admin_pass}), 200,
               "admin login")["accessToken"]
    reg = ok(api.call("POST", "/api/auth/register",
                      {"email": "provision@example.id", "password": "bench-password-1", "name": "Bench"}),
             201, "register")
    token, uid = reg["accessToken"], reg["user"]["id"]
    slug = os.environ.get("PLAN", "basic")
    plans = ok(api.call("GET", "/api/catalog/services/static-site/plans"), 200, "plans")
    plan = next((p for p in plans if p.get("slug") == slug or p["name"].lower() == slug), None)
    if plan is None:
        die(f"no static-site plan {slug}: {[p['name'] for p in plans]}")
    # Each round is charged the price and refunded part of it on cancel.
    ok(api.call("POST", f"/api/admin/users/{uid}/credits",
                {"amount": plan["price"] * (n + 2), "reason": "provisioning bench"}, admin), 201, "credit")

    # One untimed round each: the engine's first container (network set-up,
    # image mount) and the server's first job are not what is measured.
    ms, sub, inst, _, _, _, _ = dermaga_round(api, token, plan["id"])
    shape = shape_of(eng, inst)
    dermaga_cancel(api, token, sub, inst)
    print(f"warm-up: dermaga {ms:.0f} ms; plain shape: image {shape['image']}, port {shape['port']}, "
          f"volume at {shape['mount']}, memory {shape['memory'] // (1024 * 1024)} MiB, "
          f"{shape['nano_cpus'] / 1e9:g} CPU, {len(shape['env'])} env", flush=True)
    print(f"warm-up: plain {plain_round(eng, shape, 0):.0f} ms", flush=True)

    a, b, rows = [], [], []
    for k in range(1, n + 1):
        # Alternate which goes first so neither always follows the other's
        # clean-up.
        order = ("a", "b") if k % 2 else ("b", "a")
        for side in order:
            if side == "a":
                ms, sub, inst, w0, w1, post_ms, polls = dermaga_round(api, token, plan["id"])
                a.append(ms)
                br = breakdown(inst, w0, w1)
                dermaga_cancel(api, token, sub, inst)
            else:
                b.append(plain_round(eng, shape, k))
        line = f"round {k:2d}: dermaga {a[-1]:7.1f} ms (POST {post_ms:5.1f} ms, {polls} polls)   plain {b[-1]:7.1f} ms"
        if br is not None:
            rows.append(br)
            line += (f"   [server: job queued +{br['job']:.0f}, PROVISIONING +{br['provisioning']:.0f}, "
                     f"RUNNING +{br['running']:.0f}, seen +{br['seen']:.0f} ms]")
        print(line, flush=True)

    ma, mb = statistics.median(a), statistics.median(b)
    print(f"dermaga (POST /api/subscriptions -> RUNNING): median {ma:.1f} ms, p90 {nearest_rank(a, 0.9):.1f} ms, "
          f"min {min(a):.1f}, max {max(a):.1f}  (n={n})")
    print(f"plain   (volume + create + start -> Running):  median {mb:.1f} ms, p90 {nearest_rank(b, 0.9):.1f} ms, "
          f"min {min(b):.1f}, max {max(b):.1f}  (n={n})")
    print(f"overhead (median a - median b): {ma - mb:.1f} ms; median of the per-round differences "
          f"{statistics.median([x - y for x, y in zip(a, b)]):.1f} ms")
    if rows:
        wait = [r["provisioning"] - r["job"] for r in rows]
        work = [r["running"] - r["provisioning"] for r in rows]
        seen = [r["seen"] - r["running"] for r in rows]
        print(f"server breakdown, medians: job waiting to be claimed {statistics.median(wait):.0f} ms "
              f"(max {max(wait):.0f}); PROVISIONING -> RUNNING (plugin + engine + database) "
              f"{statistics.median(work):.0f} ms; RUNNING recorded -> seen by the poll "
              f"{statistics.median(seen):.0f} ms")


if __name__ == "__main__":
    main()
