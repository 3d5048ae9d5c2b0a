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
export DERMAGA_LOG_LEVEL=warn
. "$ROOT/bench/lib.sh"

curl -sf -XPOST "$URL/api/auth/register" -H 'Content-Type: application/json' \
    -d '{"email":"bench@example.id","password":"bench-password-1","name":"Bench"}' >/dev/null
ACCESS_TOKEN=$(curl -sf -XPOST "$URL/api/auth/login" -H 'Content-Type: application/json' \
    -d '{"email":"bench@example.id","password":"bench-password-1"}' |
    sed -E 's/.*"accessToken":"([^"]+)".*/\1/')
export ACCESS_TOKEN

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
echo "   server RSS: $(rss)"
