#!/usr/bin/env bash
# bench/auth.sh — sign-in figures: logins per second (argon2id, 19 MiB, t=2
# on the bounded hashing pool), and GET /api/auth/me requests/s and p99 while
# a login storm runs (authenticated reads must not starve: hashing has its
# own threads, auth.hashWorkers). Builds Release, throwaway PostgreSQL,
# cleans up. Numbers go into bench/RESULTS.md by hand.
#
#   ./bench/auth.sh               DURATION=10s by default
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${DURATION:-10s}
. "$ROOT/scripts/lib/common.sh"
. "$ROOT/scripts/lib/deps.sh"
dm_deps_ensure

BUILD=$ROOT/build-bench
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DDERMAGA_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j"$(nproc)" >/dev/null

WORK=$(mktemp -d /tmp/dermaga-bench-auth.XXXXXX)
chmod 755 "$WORK"
PGDIR=$WORK/pg
SERVER_PID=
cleanup() {
    [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
    "$ROOT/scripts/pg.sh" stop "$PGDIR" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

PGPORT=$("$ROOT/scripts/pg.sh" freeport 56100)
"$ROOT/scripts/pg.sh" init "$PGDIR" "$PGPORT" >/dev/null
DERMAGA_PG_FAST=1 "$ROOT/scripts/pg.sh" start "$PGDIR" "$PGPORT" >/dev/null
"$ROOT/scripts/pg.sh" createdb "$PGDIR" "$PGPORT" dermaga >/dev/null
PORT=$("$ROOT/scripts/pg.sh" freeport 18700)
export DERMAGA_DATABASE_URL=$("$ROOT/scripts/pg.sh" url "$PGDIR" "$PGPORT" dermaga)
export DERMAGA_PORT=$PORT DERMAGA_DATA_DIR=$WORK/data DERMAGA_LOG_LEVEL=warn
export DERMAGA_JWT_SECRET=bench-secret-bench-secret-bench-secret-0123
"$BUILD/dermaga" serve 2>"$WORK/server.log" &
SERVER_PID=$!
URL=http://127.0.0.1:$PORT
for _ in $(seq 1 100); do curl -sf "$URL/healthz" >/dev/null && break; sleep 0.1; done

curl -sf -XPOST "$URL/api/auth/register" -H 'Content-Type: application/json' \
    -d '{"email":"bench@example.id","password":"bench-password-1","name":"Bench"}' >/dev/null
ACCESS_TOKEN=$(curl -sf -XPOST "$URL/api/auth/login" -H 'Content-Type: application/json' \
    -d '{"email":"bench@example.id","password":"bench-password-1"}' |
    sed -E 's/.*"accessToken":"([^"]+)".*/\1/')
export ACCESS_TOKEN
summary() { grep -E "Requests/sec|^ +99%|Non-2xx" | tr -s ' ' | paste -sd' ' -; }

# The throttle counts failures only, so a storm of good logins is not cut
# short by 429s; every response here is 200.
echo "== logins: wrk -t1 -c4 -d$DURATION --latency -s bench/login.lua $URL/api/auth/login"
wrk -t1 -c4 -d"$DURATION" --latency -s "$ROOT/bench/login.lua" "$URL/api/auth/login" | summary

echo "== me alone: wrk -t1 -c10 -d5s --latency -s bench/me.lua $URL/api/auth/me"
wrk -t1 -c10 -d5s --latency -s "$ROOT/bench/me.lua" "$URL/api/auth/me" | summary

echo "== me during a login storm (wrk -t1 -c50 login.lua beside it)"
wrk -t1 -c50 -d"$DURATION" -s "$ROOT/bench/login.lua" "$URL/api/auth/login" >"$WORK/storm.txt" &
STORM=$!
sleep 1
wrk -t1 -c10 -d5s --latency -s "$ROOT/bench/me.lua" "$URL/api/auth/me" | summary
wait "$STORM"
echo "   storm: $(summary <"$WORK/storm.txt")"
curl -s "$URL/metrics" | grep -E "^dermaga_hash_pool|^dermaga_pool_rejected"
echo "   server RSS: $(awk '/VmRSS/ {print $2 " kB"}' "/proc/$SERVER_PID/status")"
