#!/usr/bin/env bash
# bench/bench.sh — load figures for the operations routes, measured with wrk
# on this machine. Builds Release, starts a throwaway PostgreSQL and the
# server, runs the scenarios below, prints requests/s, p99 and the server's
# RSS, and cleans up. Not a test: numbers go into bench/RESULTS.md by hand.
#
#   ./bench/bench.sh            all scenarios, 10 s each
#   DURATION=30s ./bench/bench.sh
#
# Scenarios (wrk runs on the same 2-core box as the server, so the figures
# are a floor, not a ceiling):
#   healthz    wrk -t1 -c50 -d$DURATION --latency http://127.0.0.1:PORT/healthz
#   readyz     wrk -t1 -c50 -d$DURATION --latency http://127.0.0.1:PORT/readyz
#   busy-db    /readyz with 200 connections keeps the worker pool busy with
#              fast database work while a second wrk measures /healthz (the
#              loop serves both, so this measures sharing 2 cores)
#   slow-db    a second server on a database that accepts and never answers:
#              every worker is stuck in a slow call and the queue is full; the
#              loop thread must stay responsive (/healthz p99 < 5 ms)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${DURATION:-10s}
. "$ROOT/bench/lib.sh"

echo "== healthz: wrk -t1 -c50 -d$DURATION --latency $URL/healthz"
wrk -t1 -c50 -d"$DURATION" --latency "$URL/healthz" | summary
echo "   server RSS after: $(rss)"

echo "== readyz: wrk -t1 -c50 -d$DURATION --latency $URL/readyz"
wrk -t1 -c50 -d"$DURATION" --latency "$URL/readyz" | summary
echo "   server RSS after: $(rss)"

echo "== busy-db: /readyz storm (wrk -t1 -c200, fast queries) + wrk -t1 -c10 --latency /healthz"
wrk -t1 -c200 -d"$DURATION" "$URL/readyz" >"$WORK/storm.txt" &
STORM=$!
sleep 1
wrk -t1 -c10 -d5s --latency "$URL/healthz" | summary
wait "$STORM"
echo "   storm: $(summary <"$WORK/storm.txt")"
echo "   server RSS after: $(rss)"

# slow-db: a second server whose database accepts connections and never
# answers, so every worker sits in a slow database call and the queue fills
# (the rest get 503 at once). /healthz must not notice.
python3 - "$WORK/blackhole.port" <<'PY' &
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(512)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
held = []
while True:
    c, _ = s.accept(); held.append(c)   # accept and never answer
PY
HOLE=$!
EXTRA_PIDS+=("$HOLE")
for _ in $(seq 1 50); do [[ -s $WORK/blackhole.port ]] && break; sleep 0.1; done
PORT2=$("$ROOT/scripts/pg.sh" freeport 18600)
DERMAGA_PORT=$PORT2 DERMAGA_MIGRATE_ON_START=false \
DERMAGA_DATABASE_URL="postgresql://x@127.0.0.1:$(cat "$WORK/blackhole.port")/x?connect_timeout=10" \
    "$BUILD/dermaga" serve 2>"$WORK/server2.log" &
SERVER2=$!
EXTRA_PIDS+=("$SERVER2")
for _ in $(seq 1 100); do grep -q "listening on" "$WORK/server2.log" 2>/dev/null && break; sleep 0.1; done
URL2=http://127.0.0.1:$PORT2
echo "== slow-db: /readyz storm (wrk -t1 -c300) on a stuck database + wrk -t1 -c10 --latency /healthz"
wrk -t1 -c300 -d"$DURATION" "$URL2/readyz" >"$WORK/storm2.txt" &
STORM=$!
sleep 1
wrk -t1 -c10 -d5s --latency "$URL2/healthz" | summary
curl -s "$URL2/metrics" | grep -E "^dermaga_pool_(queue_depth|rejected_total)|^dermaga_db_connections\{state=\"busy"
wait "$STORM"
echo "   storm: $(summary <"$WORK/storm2.txt")"
kill "$SERVER2" "$HOLE" 2>/dev/null; wait "$SERVER2" "$HOLE" 2>/dev/null || true
