#!/usr/bin/env bash
# bench/logs.sh — the live-log figure (issue 12, item 8): CLIENTS
# subscribers of one instance whose container prints lines (bench/lines.c,
# built static by this script into a local image), over Socket.IO
# (/k8s-logs) and over SSE, and the same Socket.IO clients against a plain
# Node socket.io server relaying the same engine follow
# (bench/logs_relay.mjs); plus one reader of the engine's own log API, the
# ceiling under every server. Per mode: the server's RSS with every
# subscriber idle, then one burst of DURATION s at RATE lines/s: lines/s
# delivered to all clients together, lag p50/p99 (printed → received),
# "lines dropped" notices, CPU. The clients are bench/logs_clients.mjs.
# Builds Release, throwaway PostgreSQL, its own private Podman under $WORK
# (root), the server with auth-local, payment-manual, service-template and
# runtime-docker; removes all of it on exit. Dermaga is restarted before
# each of its modes, so each RSS starts from a fresh process. Figures go
# into bench/RESULTS.md by hand.
#
#   ./bench/logs.sh                            MODE=all, 1000 clients, unlimited
#   RATE=50 DURATION=10 MODE=sio ./bench/logs.sh
#   RATES="25 50 100" ./bench/logs.sh          each mode once per rate
# Env: MODE (podman | sio | sse | relay | all = all four in that order),
# CLIENTS (1000), RATE (lines/s the container prints, 0 = as fast as it can;
# default 0), RATES (several rates in one set-up), DURATION (s, 10),
# PROCS (client processes, 2), LINE_BYTES (100), PODMAN_CLIENTS (readers
# of the engine's API in the podman mode, 1).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODE=${MODE:-all}
RATES=${RATES:-${RATE:-0}}
DURATION=${DURATION:-10}
LINE_BYTES=${LINE_BYTES:-100}
case $MODE in
    all) MODES=(podman sio sse relay) ;;
    podman | sio | sse | relay) MODES=("$MODE") ;;
    *) echo "MODE must be podman, sio, sse, relay or all, not '$MODE'" >&2; exit 2 ;;
esac
for r in $RATES $DURATION $LINE_BYTES ${CLIENTS:-1} ${PROCS:-1} ${PODMAN_CLIENTS:-1}; do
    [[ $r =~ ^[0-9]+$ ]] || { echo "RATE(S), DURATION, LINE_BYTES, CLIENTS, PROCS must be numbers, not '$r'" >&2; exit 2; }
done
[[ $(id -u) -eq 0 ]] || { echo "run as root: the private Podman is rootful (docs/containers.md)" >&2; exit 2; }
command -v node >/dev/null || { echo "node is needed (bench/logs_clients.mjs)" >&2; exit 2; }
# 1000 clients, 1000 server sockets, and the relay's: one process each side
# needs well over the usual 1024 descriptors.
ulimit -n "$(ulimit -Hn)"
if [[ ! -d $ROOT/tests/node/node_modules/socket.io ]]; then
    (cd "$ROOT/tests/node" && npm ci --ignore-scripts --no-audit --no-fund >/dev/null)
fi
export DERMAGA_LOG_LEVEL=${DERMAGA_LOG_LEVEL:-warn}
export BENCH_DEFER_SERVER=1
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

PODMAN_DIR=$WORK/podman
bench_cleanup_hook() {
    "$ROOT/scripts/podman.sh" destroy "$PODMAN_DIR" >/dev/null 2>&1 ||
        echo "logs.sh: podman.sh destroy $PODMAN_DIR failed" >&2
}
"$ROOT/scripts/podman.sh" start "$PODMAN_DIR" >/dev/null
DOCKER_HOST=$("$ROOT/scripts/podman.sh" socket "$PODMAN_DIR")
SOCK=${DOCKER_HOST#unix://}

# The generator's image: the static binary alone (no registry here).
IMAGE=localhost/dermaga/bench-lines:test
mkdir -p "$WORK/image"
gcc -static -O2 -Wall -Wextra -Werror -o "$WORK/image/lines" "$ROOT/bench/lines.c"
tar -C "$WORK/image" --owner=0 --group=0 -cf "$WORK/image.tar" lines
"$ROOT/scripts/podman.sh" cli "$PODMAN_DIR" import --quiet \
    --change 'ENTRYPOINT ["/lines"]' --change 'EXPOSE 8080/tcp' "$WORK/image.tar" "$IMAGE" >/dev/null

# A template and a catalog of its own: the generator's control port is the
# public port (also the TCP health probe's), a volume because templates need
# one, and two whole cores so the container is not what limits the rate.
mkdir -p "$WORK/services"
cat >"$WORK/services/bench-lines.json" <<EOF
{
  "slug": "bench-lines", "name": "Bench lines", "category": "bench",
  "description": "bench/lines.c: prints timestamped lines on request.",
  "image": "$IMAGE",
  "env": { "CONTROL_PORT": "8080", "LINE_BYTES": "$LINE_BYTES" },
  "ports": [ { "name": "control", "port": 8080, "protocol": "tcp", "public": true } ],
  "volumes": [ { "name": "data", "mountPath": "/data" } ],
  "health": { "type": "tcp", "port": 8080, "initialDelayS": 1, "periodS": 30 },
  "restart": "never",
  "resources": { "cpuMillicores": "\${plan.cpuMillicores}", "memoryMb": "\${plan.memoryMb}", "storageGb": "\${plan.storageGb}" },
  "presentation": { "urls": { "control": "tcp://\${endpoint.control}" } }
}
EOF
cat >"$WORK/catalog.json" <<'EOF'
{ "categories": [ { "slug": "bench", "name": "Bench", "services": [
  { "slug": "bench-lines", "name": "Bench lines", "serviceType": "service-template", "template": "bench-lines",
    "plans": [ { "slug": "flood", "name": "Flood", "price": 1000, "billingPeriodDays": 30,
                 "cpuMillicores": 2000, "memoryMb": 256, "storageGb": 1, "totalQuota": 10 } ] } ] } ] }
EOF

ADMIN_EMAIL=bench-admin@example.id
ADMIN_PASSWORD=bench-admin-password-1
# Limits raised for 1000 subscribers of each kind: server.maxConnections
# (1024 by default would refuse some once the relay's /api/auth/me calls and
# the API come in too) and server.maxLogStreams (1024).
cat >"$WORK/dermaga.json" <<EOF
{
  "auth": { "adminEmail": "$ADMIN_EMAIL", "adminPassword": "$ADMIN_PASSWORD" },
  "server": { "maxConnections": 8192, "maxLogStreams": 4096 },
  "plugins": { "enabled": [
    { "name": "auth-local", "enabled": true, "config": {} },
    { "name": "payment-manual", "enabled": true, "config": {} },
    { "name": "service-template", "enabled": true, "config": { "dir": "$WORK/services" } },
    { "name": "runtime-docker", "enabled": true, "config": { "host": "$DOCKER_HOST", "stop_timeout_s": 1 } }
  ] }
}
EOF
export DERMAGA_CONFIG=$WORK/dermaga.json DERMAGA_CATALOG_PATH=$WORK/catalog.json
"$BUILD/dermaga" seed >/dev/null 2>"$WORK/seed.log" || { cat "$WORK/seed.log" >&2; exit 1; }
bench_start_server

SETUP=$(node "$ROOT/bench/logs_clients.mjs" setup "$URL" "$SOCK" "$ADMIN_EMAIL" "$ADMIN_PASSWORD")
INSTANCE=$(node -e 'process.stdout.write(JSON.parse(process.argv[1]).instanceId)' "$SETUP")
CONTROL=$(node -e 'process.stdout.write(String(JSON.parse(process.argv[1]).controlPort))' "$SETUP")
PODMAN_PID=$(cat "$PODMAN_DIR/service.pid")

restart_server() {
    kill "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    bench_start_server
}

echo "== live logs: ${CLIENTS:-1000} clients, modes ${MODES[*]}, rates ${RATES} lines/s (0 = unlimited), ${DURATION} s bursts, ${LINE_BYTES}-byte lines"
echo "   instance $INSTANCE, control port $CONTROL; $(nproc) cores shared by everything; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for rate in $RATES; do
    for mode in "${MODES[@]}"; do
        case $mode in
            podman)
                CLIENTS=${PODMAN_CLIENTS:-1} PROCS=1 RATE=$rate DURATION=$DURATION \
                    node "$ROOT/bench/logs_clients.mjs" run podman "$URL" "$SOCK" "$INSTANCE" "$CONTROL" "$PODMAN_PID" ;;
            sio | sse)
                restart_server
                RATE=$rate DURATION=$DURATION node "$ROOT/bench/logs_clients.mjs" run "$mode" "$URL" "$SOCK" \
                    "$INSTANCE" "$CONTROL" "$SERVER_PID,$PODMAN_PID" ;;
            relay)
                node "$ROOT/bench/logs_relay.mjs" "$URL" "$SOCK" >"$WORK/relay.out" 2>"$WORK/relay.log" &
                relay_pid=$!
                EXTRA_PIDS+=("$relay_pid")
                for _ in $(seq 1 50); do grep -q LISTENING "$WORK/relay.out" && break; sleep 0.1; done
                API_URL=$URL RATE=$rate DURATION=$DURATION node "$ROOT/bench/logs_clients.mjs" run relay \
                    "http://127.0.0.1:$(awk '/LISTENING/ {print $2}' "$WORK/relay.out")" "$SOCK" \
                    "$INSTANCE" "$CONTROL" "$relay_pid,$PODMAN_PID"
                kill "$relay_pid"
                wait "$relay_pid" 2>/dev/null || true ;;
        esac
    done
done
echo "   load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
if grep -qE '"level":"(warn|error)"' "$WORK/server.log"; then
    echo "   server warnings/errors (last 5):"
    grep -E '"level":"(warn|error)"' "$WORK/server.log" | tail -n 5 | sed 's/^/   /'
fi
