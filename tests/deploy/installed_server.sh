#!/usr/bin/env bash
# installed_server.sh BUILD_DIR — the server as an operator installs it:
# `cmake --install` into a fresh prefix, then, with the source tree (and the
# build tree inside it) hidden under an empty tmpfs in a private mount
# namespace, the installed binary started from another folder with only the
# installed sample configuration (share/dermaga/examples/config.json) and
# the environment an operator's dermaga.env gives it (database URL, JWT
# secret, admin). It must migrate a fresh database, answer /healthz and
# /readyz with 200, and list its bundled plugins as loaded to the admin.
# Cleans up the prefix and the database. Needs root (unshare -m) and
# DERMAGA_TEST_DATABASE_URL (a superuser URL); exits non-zero naming the
# first thing that is wrong.
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt")
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -n "${DERMAGA_TEST_DATABASE_URL:-}" ] || fail "DERMAGA_TEST_DATABASE_URL is not set"
[ -d "$src" ] || fail "no source dir in $build/CMakeCache.txt"
work=$(mktemp -d "${DERMAGA_TEST_TMPDIR:-/tmp}/installed-server.XXXXXX")
case $work in "$src"/*) fail "the work folder $work is inside the source tree";; esac
db="installed_srv_$$"
cleanup() {
  psql -q "$DERMAGA_TEST_DATABASE_URL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

cmake --install "$build" --prefix "$work/prefix" >"$work/install.log" 2>&1 ||
  { cat "$work/install.log"; fail "cmake --install"; }
p=$work/prefix
[ -f "$p/share/dermaga/examples/config.json" ] || fail "no sample config installed"
psql -q "$DERMAGA_TEST_DATABASE_URL" -c "CREATE DATABASE $db" >/dev/null
port=$("$src/scripts/pg.sh" freeport)
mkdir -p "$work/cwd"

# Inside the namespace nothing of $src is readable: the inner script and
# everything it runs live in $work.
cat >"$work/inner.sh" <<'INNER'
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }
mount -t tmpfs -o ro,size=1m tmpfs "$SRC"
[ -z "$(ls -A "$SRC")" ] || fail "the source tree is still visible"
cd "$WORK/cwd"
base=http://127.0.0.1:$PORT
"$P/bin/dermaga" serve --config "$P/share/dermaga/examples/config.json" >"$WORK/server.log" 2>&1 &
pid=$!
stop() { kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
trap stop EXIT
ready=""
for _ in $(seq 300); do
  kill -0 "$pid" 2>/dev/null || { cat "$WORK/server.log"; fail "the installed server exited"; }
  code=$(curl -s -o "$WORK/readyz.json" -w '%{http_code}' "$base/readyz" || true)
  if [ "$code" = 200 ]; then ready=1; break; fi
  sleep 0.2
done
[ -n "$ready" ] || { cat "$WORK/server.log"; fail "/readyz never answered 200"; }
[ "$(jq -r .data.plugins "$WORK/readyz.json")" = 2 ] || fail "/readyz: $(cat "$WORK/readyz.json")"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/healthz")" = 200 ] || fail "/healthz is not 200"
token=$(curl -sf "$base/api/auth/login" -H 'Content-Type: application/json' \
          -d "{\"email\":\"$DERMAGA_ADMIN_EMAIL\",\"password\":\"$DERMAGA_ADMIN_PASSWORD\"}" | jq -r .data.accessToken)
[ -n "$token" ] && [ "$token" != null ] || fail "the admin could not log in"
curl -sf "$base/api/admin/plugins" -H "Authorization: Bearer $token" >"$WORK/plugins.json" ||
  fail "GET /api/admin/plugins"
for name in auth-local payment-manual; do
  loaded=$(jq -r --arg n "$name" '[.data[] | select(.name == $n and .state == "loaded") | .file] | first // ""' "$WORK/plugins.json")
  case $loaded in
    "$P"/bin/../lib/dermaga/plugins/*) ;;
    *) fail "$name is not loaded from the prefix: $(cat "$WORK/plugins.json")" ;;
  esac
done
stop
trap - EXIT
grep -q "applied\|migrat" "$WORK/server.log" || fail "the server log says nothing of migrations"
INNER

# Only what an operator's dermaga.env sets: no DERMAGA_* of the caller's.
unset_dm=()
while IFS= read -r v; do unset_dm+=(-u "$v"); done < <(compgen -e | grep '^DERMAGA_')
if ! env "${unset_dm[@]}" SRC="$src" WORK="$work" P="$p" PORT="$port" \
      DERMAGA_DATABASE_URL="${DERMAGA_TEST_DATABASE_URL%/*}/$db" \
      DERMAGA_JWT_SECRET="installed-server-test-secret-0123456789" \
      DERMAGA_ADMIN_EMAIL=admin@installed.test DERMAGA_ADMIN_PASSWORD=installed-admin-pw \
      DERMAGA_PORT="$port" unshare -m --propagation private bash "$work/inner.sh"; then
  [ ! -f "$work/server.log" ] || tail -n 40 "$work/server.log"
  fail "the installed server, with the sources out of reach"
fi
n=$(psql -qtA "${DERMAGA_TEST_DATABASE_URL%/*}/$db" -c "SELECT count(*) FROM schema_migrations")
m=$(find "$p/share/dermaga/migrations" -name "*.sql" | wc -l)
[ "$n" = "$m" ] || fail "$n of $m migrations applied"
echo "PASS: installed server ran from $p with the sources hidden: $m migrations, /healthz, /readyz, 2 plugins loaded"
