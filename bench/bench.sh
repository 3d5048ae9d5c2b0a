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
#   saturated  /readyz with 200 connections keeps the worker pool and its queue
#              full of database work while a second wrk measures /healthz:
#              the loop thread must stay responsive (p99 < 5 ms).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${DURATION:-10s}
. "$ROOT/scripts/lib/deps.sh"
dm_deps_ensure

BUILD=$ROOT/build-bench
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DDERMAGA_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j"$(nproc)" >/dev/null

WORK=$(mktemp -d /tmp/dermaga-bench.XXXXXX)
chmod 755 "$WORK"
PGDIR=$WORK/pg
SERVER_PID=
cleanup() {
    [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
    "$ROOT/scripts/pg.sh" stop "$PGDIR" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

PGPORT=$("$ROOT/scripts/pg.sh" freeport 56000)
"$ROOT/scripts/pg.sh" init "$PGDIR" "$PGPORT" >/dev/null
DERMAGA_PG_FAST=1 "$ROOT/scripts/pg.sh" start "$PGDIR" "$PGPORT" >/dev/null
"$ROOT/scripts/pg.sh" createdb "$PGDIR" "$PGPORT" dermaga >/dev/null
PORT=$("$ROOT/scripts/pg.sh" freeport 18500)

export DERMAGA_DATABASE_URL=$("$ROOT/scripts/pg.sh" url "$PGDIR" "$PGPORT" dermaga)
export DERMAGA_PORT=$PORT DERMAGA_DATA_DIR=$WORK/data
export DERMAGA_JWT_SECRET=bench-secret-bench-secret-bench-secret-0123
# The access log is part of the request path and stays on; it goes to a file.
"$BUILD/dermaga" serve 2>"$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 1 100); do
    grep -q "listening on" "$WORK/server.log" 2>/dev/null && break
    sleep 0.1
done
grep -q "listening on" "$WORK/server.log" || { cat "$WORK/server.log"; exit 1; }

URL=http://127.0.0.1:$PORT
rss() { awk '/VmRSS/ {print $2 " kB"}' "/proc/$SERVER_PID/status"; }
summary() { grep -E "Requests/sec|^ +99%" | tr -s ' ' | paste -sd' ' -; }

echo "== healthz: wrk -t1 -c50 -d$DURATION --latency $URL/healthz"
wrk -t1 -c50 -d"$DURATION" --latency "$URL/healthz" | summary
echo "   server RSS after: $(rss)"

echo "== readyz: wrk -t1 -c50 -d$DURATION --latency $URL/readyz"
wrk -t1 -c50 -d"$DURATION" --latency "$URL/readyz" | summary
echo "   server RSS after: $(rss)"

echo "== saturated: /readyz storm (wrk -t1 -c200) + wrk -t1 -c10 -R-less /healthz"
wrk -t1 -c200 -d"$DURATION" "$URL/readyz" >"$WORK/storm.txt" &
STORM=$!
sleep 1
wrk -t1 -c10 -d5s --latency "$URL/healthz" | summary
wait "$STORM"
echo "   storm: $(summary <"$WORK/storm.txt")"
curl -s "$URL/metrics" | grep -E "^dermaga_pool_rejected_total|^dermaga_pool_workers"
echo "   server RSS after: $(rss)"
