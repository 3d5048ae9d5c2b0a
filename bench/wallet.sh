#!/usr/bin/env bash
# bench/wallet.sh — catalog and wallet figures: the public catalog listing
# (seeded demo catalog), manual top-ups (each one a PENDING ledger row and a
# plugin call), the caller's ledger page, and the balance. Builds Release,
# throwaway PostgreSQL, cleans up. Numbers go into bench/RESULTS.md by hand.
#
#   ./bench/wallet.sh             DURATION=10s by default
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${DURATION:-10s}
export DERMAGA_LOG_LEVEL=warn
. "$ROOT/bench/lib.sh"

"$BUILD/dermaga" seed >/dev/null
curl -sf -XPOST "$URL/api/auth/register" -H 'Content-Type: application/json' \
    -d '{"email":"wallet@example.id","password":"bench-password-1","name":"Bench"}' |
    sed -E 's/.*"accessToken":"([^"]+)".*/\1/' >"$WORK/token"
ACCESS_TOKEN=$(cat "$WORK/token")
export ACCESS_TOKEN

echo "== catalog: wrk -t1 -c10 -d$DURATION --latency $URL/api/catalog/services"
wrk -t1 -c10 -d"$DURATION" --latency "$URL/api/catalog/services" | summary

echo "== top-ups (manual gateway): wrk -t1 -c10 -d$DURATION --latency -s bench/topup.lua"
wrk -t1 -c10 -d"$DURATION" --latency -s "$ROOT/bench/topup.lua" "$URL/api/wallet/topup" | summary
echo "   ledger rows: $(curl -sf "$URL/api/wallet/transactions?limit=1" -H "Authorization: Bearer $ACCESS_TOKEN" |
    sed -E 's/.*"total":([0-9]+).*/\1/')"

echo "== ledger page: wrk -t1 -c10 -d$DURATION --latency -s bench/me.lua $URL/api/wallet/transactions"
wrk -t1 -c10 -d"$DURATION" --latency -s "$ROOT/bench/me.lua" "$URL/api/wallet/transactions" | summary

echo "== balance: wrk -t1 -c10 -d$DURATION --latency -s bench/me.lua $URL/api/wallet"
wrk -t1 -c10 -d"$DURATION" --latency -s "$ROOT/bench/me.lua" "$URL/api/wallet" | summary
echo "   server RSS: $(rss)"
