#!/usr/bin/env bash
# bench/provision.sh — the provisioning figure: time from POST
# /api/subscriptions to the instance's first RUNNING answer, beside a plain
# volume + create + start of the same container shape on the same engine
# socket, interleaved per round (timing in bench/provision.py). Builds
# Release, throwaway PostgreSQL, its own private Podman under $WORK (root),
# the server with auth-local, payment-manual, service-template and
# runtime-docker; removes all of it on exit. Figures go into
# bench/RESULTS.md by hand.
#
#   ./bench/provision.sh              N=10 rounds
#   N=20 JOBS_POLL_MS=100 ./bench/provision.sh
# Env: N (rounds), PLAN (static-site plan, default basic), JOBS_POLL_MS (the
# server's jobs.pollMs; unset: the server's default), POLL_MS (the client's
# status poll, default 10).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
N=${N:-10}
[[ $N =~ ^[1-9][0-9]*$ ]] || { echo "N must be a positive number of rounds, not '$N'" >&2; exit 2; }
[[ -z ${JOBS_POLL_MS:-} || $JOBS_POLL_MS =~ ^[0-9]+$ ]] ||
    { echo "JOBS_POLL_MS must be a number of milliseconds" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "run as root: the private Podman is rootful (docs/containers.md)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "python3 is needed (bench/provision.py)" >&2; exit 2; }
export DERMAGA_LOG_LEVEL=${DERMAGA_LOG_LEVEL:-info}
BENCH_DEFER_SERVER=1
. "$ROOT/bench/lib.sh"

PODMAN_DIR=$WORK/podman
bench_cleanup_hook() {
    "$ROOT/scripts/podman.sh" destroy "$PODMAN_DIR" >/dev/null 2>&1 ||
        echo "provision.sh: podman.sh destroy $PODMAN_DIR failed" >&2
}
"$ROOT/scripts/podman.sh" start "$PODMAN_DIR" >/dev/null
"$ROOT/scripts/podman.sh" image "$PODMAN_DIR" static-site >/dev/null
DOCKER_HOST=$("$ROOT/scripts/podman.sh" socket "$PODMAN_DIR")

ADMIN_EMAIL=bench-admin@example.id
ADMIN_PASSWORD=bench-admin-password-1
python3 - "$WORK/dermaga.json" "$ROOT/config/services" "$DOCKER_HOST" "$ADMIN_EMAIL" "$ADMIN_PASSWORD" \
    "${JOBS_POLL_MS:-}" <<'PY'
import json, sys
out, services, host, email, password, poll = sys.argv[1:7]
cfg = {
    "auth": {"adminEmail": email, "adminPassword": password},
    "plugins": {"enabled": [
        {"name": "auth-local", "enabled": True, "config": {}},
        {"name": "payment-manual", "enabled": True, "config": {}},
        {"name": "service-template", "enabled": True, "config": {
            "dir": services,
            "image_map": {"docker.io/joseluisq/static-web-server:2": "localhost/dermaga/static-site:test"}}},
        {"name": "runtime-docker", "enabled": True, "config": {"host": host, "stop_timeout_s": 1}},
    ]},
}
if poll:
    cfg["jobs"] = {"pollMs": int(poll)}
json.dump(cfg, open(out, "w"), indent=2)
PY
export DERMAGA_CONFIG=$WORK/dermaga.json
"$BUILD/dermaga" seed >/dev/null 2>"$WORK/seed.log" || { cat "$WORK/seed.log" >&2; exit 1; }
bench_start_server

echo "== provisioning: N=$N, jobs.pollMs=${JOBS_POLL_MS:-default}, client poll ${POLL_MS:-10} ms, plan ${PLAN:-basic}"
echo "   load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 "$ROOT/bench/provision.py" "$URL" "${DOCKER_HOST#unix://}" "$ADMIN_EMAIL" "$ADMIN_PASSWORD" "$N"
echo "   load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
if grep -qE '"level":"(warn|error)"' "$WORK/server.log"; then
    echo "   server warnings/errors (last 5):"
    grep -E '"level":"(warn|error)"' "$WORK/server.log" | tail -n 5 | sed 's/^/   /'
fi
