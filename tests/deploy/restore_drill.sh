#!/usr/bin/env bash
# restore_drill.sh BUILD_DIR — docs/operators.md's restore drill, run as
# written. It
#  1. starts the built server on a fresh database and fills it through the
#     API: two users, manual top-ups confirmed by the administrator, one
#     left pending, a subscription (a debit), and records what the API
#     answers each user (balance, ledger, subscriptions);
#  2. stops it (the drill's fingerprint step wants a quiet source), starts a
#     second, private PostgreSQL cluster (scripts/pg.sh) with an empty
#     database, and runs every ```sh block of docs/operators.md that follows
#     a `<!-- restore-drill -->` line, in order, in one bash: dump, restore
#     into the fresh cluster, migrate status, ledger check, fingerprint
#     comparison, and a server started on the copy until /readyz says 200;
#  3. signs every user in on the restored server and checks the same
#     balance, ledger rows and subscriptions come back.
# Cleans up both databases, the cluster and the servers. Needs
# DERMAGA_TEST_DATABASE_URL (a superuser URL) and root (pg.sh).
# Single-quoted "$VARS" are the doc's text or expand in the drill's bash:
# shellcheck disable=SC2016
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
doc=$root/docs/operators.md
build=$(cd "$1" && pwd)
bin=$build/dermaga
pg_sh=${DERMAGA_TEST_PG_SH:-$root/scripts/pg.sh}
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -n "${DERMAGA_TEST_DATABASE_URL:-}" ] || fail "DERMAGA_TEST_DATABASE_URL is not set"
[ -f "$doc" ] || fail "no $doc"

work=$(mktemp -d "${DERMAGA_TEST_TMPDIR:-/tmp}/restore-drill.XXXXXX")
chmod 755 "$work"   # the postgres user enters it to reach the cluster
db="drill_src_$$"
src_url="${DERMAGA_TEST_DATABASE_URL%/*}/$db"
cluster=$work/pg
srv=""
stop_pid() {   # SIGTERM, then wait for the server to drain and exit
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}
cleanup() {
  set +e
  [ -z "$srv" ] || stop_pid "$srv"
  [ ! -f "$work/backup/drill-server.pid" ] || stop_pid "$(cat "$work/backup/drill-server.pid")"
  "$pg_sh" stop "$cluster" >/dev/null 2>&1
  psql -q "$DERMAGA_TEST_DATABASE_URL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

# ---- the drill's blocks, extracted as the doc has them --------------------------
awk -v marker=restore-drill -f "$root/tests/support/doc_blocks.awk" "$doc" >"$work/drill.sh"
for step in 'pg_dump ' 'pg_restore ' '--dbname="$RESTORE_URL"' 'migrate status' 'ledger_violations' \
            'diff ' '" serve '; do
  grep -q -- "$step" "$work/drill.sh" || fail "the drill in docs/operators.md no longer runs: $step"
done

# ---- 1. a server with users, money and a subscription ------------------------
export DERMAGA_JWT_SECRET=restore-drill-test-secret-0123456789abcdef
export DERMAGA_ADMIN_EMAIL=admin@drill.test DERMAGA_ADMIN_PASSWORD=drill-admin-pw
unset DERMAGA_CONFIG DERMAGA_DATABASE_URL DERMAGA_PORT DERMAGA_LISTEN
cat >"$work/config.json" <<JSON
{"plugins": {"enabled": [{"name": "auth-local"}, {"name": "payment-manual"},
  {"name": "service-template", "config": {"dir": "$root/config/services"}}]}}
JSON
psql -q "$DERMAGA_TEST_DATABASE_URL" -c "CREATE DATABASE $db" >/dev/null
DERMAGA_DATABASE_URL=$src_url "$bin" seed --config "$work/config.json" >"$work/seed.log" 2>&1 ||
  { cat "$work/seed.log"; fail "dermaga seed"; }

port=$("$pg_sh" freeport)
base=http://127.0.0.1:$port
DERMAGA_DATABASE_URL=$src_url DERMAGA_PORT=$port "$bin" serve --config "$work/config.json" >"$work/source.log" 2>&1 &
srv=$!
wait_ready() {   # $1 base URL, $2 pid, $3 log
  for _ in $(seq 300); do
    kill -0 "$2" 2>/dev/null || { tail -n 30 "$3"; fail "the server exited while starting"; }
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$1/readyz")" != 200 ] || return 0
    sleep 0.1
  done
  tail -n 30 "$3"; fail "$1/readyz never answered 200"
}
wait_ready "$base" "$srv" "$work/source.log"

api() {   # api METHOD PATH TOKEN [BODY]: the JSON answer; fails on a non-2xx
  local out
  out=$(curl -sS -X "$1" "$base$2" -H "Authorization: Bearer $3" -H 'Content-Type: application/json' \
             ${4:+-d "$4"} -w '\n%{http_code}')
  case ${out##*$'\n'} in 2??) printf '%s\n' "${out%$'\n'*}" ;; *) fail "$1 $2: ${out//$'\n'/ }" ;; esac
}
login() {
  curl -sS "$base/api/auth/login" -H 'Content-Type: application/json' \
       -d "{\"email\":\"$1\",\"password\":\"$2\"}" | jq -er .data.accessToken ||
    fail "$1 could not sign in at $base"
}
admin=$(login "$DERMAGA_ADMIN_EMAIL" "$DERMAGA_ADMIN_PASSWORD")
users=(ayu@drill.test budi@drill.test)
for u in "${users[@]}"; do
  api POST /api/auth/register "" "{\"email\":\"$u\",\"password\":\"pw-$u\",\"name\":\"$u\"}" >/dev/null
done
topup() {   # user token, amount: the new PENDING row's id
  api POST /api/wallet/topup "$1" "{\"amount\":$2,\"paymentMethod\":\"bank_transfer\",\"gateway\":\"manual\"}" |
    jq -er .data.transaction.id
}
ayu=$(login ayu@drill.test pw-ayu@drill.test)
budi=$(login budi@drill.test pw-budi@drill.test)
t1=$(topup "$ayu" 500000); t2=$(topup "$budi" 200000); topup "$budi" 30000 >/dev/null
api POST "/api/admin/transactions/$t1/confirm" "$admin" >/dev/null
api POST "/api/admin/transactions/$t2/confirm" "$admin" >/dev/null
plan=$(api GET /api/catalog/services/redis/plans "" | jq -er '.data | min_by(.price) | .id')
api POST /api/subscriptions "$ayu" "{\"planId\":\"$plan\"}" >/dev/null

# What each user sees: balance, every ledger row, every subscription.
view() {   # token
  {
    api GET /api/wallet "$1" | jq -c .data
    api GET '/api/wallet/transactions?limit=100' "$1" |
      jq -c '[.data[] | {id, customId, type, status, amount, balanceBefore, balanceAfter, createdAt, settledAt}]'
    api GET '/api/subscriptions?limit=100' "$1" |
      jq -c '[.data[] | {id, status, price, plan: .plan.id, service: .service.slug, startDate, endDate, autoRenew}]'
  }
}
view "$ayu" >"$work/ayu.before"; view "$budi" >"$work/budi.before"
grep -q '"balance":475000' "$work/ayu.before" || fail "the setup went wrong: $(head -1 "$work/ayu.before")"
grep -q '"status":"PENDING"' "$work/budi.before" || fail "the setup left no pending top-up"
grep -q '"status":"ACTIVE"' "$work/ayu.before" || fail "the setup made no subscription"
stop_pid "$srv"; srv=""

# ---- 2. a fresh cluster, then the drill as written ---------------------------
pg_port=$("$pg_sh" freeport)
if ! { DERMAGA_PG_FAST=1 "$pg_sh" init "$cluster" "$pg_port" &&
       DERMAGA_PG_FAST=1 "$pg_sh" start "$cluster" "$pg_port" &&
       "$pg_sh" createdb "$cluster" dermaga; } >"$work/pg.log" 2>&1; then
  cat "$work/pg.log"; fail "the second cluster did not start"
fi
restore_url=$("$pg_sh" url "$cluster" dermaga)
drill_port=$("$pg_sh" freeport)
if ! (cd "$work" && env DATABASE_URL="$src_url" RESTORE_URL="$restore_url" BACKUP_DIR="$work/backup" \
        DERMAGA="$bin" DERMAGA_CONFIG="$work/config.json" DRILL_PORT="$drill_port" \
        timeout 240 bash -c 'set -euo pipefail; set -x; . "$1"' drill "$work/drill.sh") >"$work/drill.log" 2>&1; then
  cat "$work/drill.log"
  [ ! -f "$work/backup/drill-server.log" ] || tail -n 30 "$work/backup/drill-server.log"
  fail "a command of the restore drill failed (the last '## restore-drill block' above names it)"
fi
grep -q '^users|3|' "$work/backup/restored.fingerprint" || fail "the restored copy has not 3 users: $(cat "$work/backup/restored.fingerprint")"

# ---- 3. the restored server answers every user as the first one did ------------
base=http://127.0.0.1:$drill_port
ayu=$(login ayu@drill.test pw-ayu@drill.test)
budi=$(login budi@drill.test pw-budi@drill.test)
view "$ayu" >"$work/ayu.after"; view "$budi" >"$work/budi.after"
for u in ayu budi; do
  diff "$work/$u.before" "$work/$u.after" || fail "$u's balance, ledger or subscriptions differ after the restore"
done
n=$(grep -c '^echo "## restore-drill block' "$work/drill.sh")
echo "PASS: the $n-block restore drill of docs/operators.md ran; balances, ledgers and subscriptions match"
