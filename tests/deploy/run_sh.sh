#!/usr/bin/env bash
# run_sh.sh — scripts/run.sh's promises to whoever runs it every day, with
# its functions called one by one (run.sh only defines them when sourced):
#  1. the scripts are shellcheck-clean (-x: the sourced libraries too);
#  2. config.json: written when missing, rewritten while it is still what
#     run.sh wrote (it follows the engine's socket), and NEVER rewritten
#     once the operator edited it (nor one run.sh has no record of);
#  3. the build is skipped when no source changed since the last one, and
#     redone when one did, when the options differ or the binary is gone;
#  4. a taken PostgreSQL port stops it with a message naming DERMAGA_PG_PORT;
#     the default port is below the ephemeral range (32768-60999).
# Exits non-zero naming the first broken promise.
# Single-quoted code runs in the sourced run.sh, on purpose:
# shellcheck disable=SC2016
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
run_sh=$root/scripts/run.sh
fail() { echo "FAIL: $*" >&2; exit 1; }
work=$(mktemp -d "${DERMAGA_TEST_TMPDIR:-/tmp}/run-sh.XXXXXX")
listener=""
trap '[ -z "$listener" ] || kill "$listener" 2>/dev/null || true; rm -rf "$work"' EXIT

# ---- 1. shellcheck -------------------------------------------------------------
command -v shellcheck >/dev/null || fail "shellcheck is not installed (Debian package shellcheck)"
shellcheck -x "$root"/scripts/run.sh "$root"/scripts/pg.sh "$root"/scripts/podman.sh \
  "$root"/scripts/test.sh "$root"/scripts/lib/*.sh "$here"/*.sh || fail "shellcheck"

# In a fresh bash: source run.sh with a clean DERMAGA_* environment, then
# run the given commands. Its EXIT trap only stops what it started (nothing).
# $0 is not run.sh, so sourcing it does not run its main.
in_run_sh() {
  env -i PATH="$PATH" HOME="$work" DERMAGA_DATA_DIR="$work/data" "$@" \
    bash -c 'set -euo pipefail; . "$1"; mkdir -p "$DATA_DIR"; eval "$RUN"' in_run_sh "$run_sh"
}

# ---- 2. config.json --------------------------------------------------------------
cfg=$work/data/config.json
in_run_sh RUN='setup_config' DERMAGA_DOCKER_HOST=unix:///one/podman.sock >"$work/out1" 2>&1 ||
  { cat "$work/out1"; fail "setup_config"; }
grep -q 'unix:///one/podman.sock' "$cfg" || fail "config.json was not written: $(cat "$work/out1")"
in_run_sh RUN='setup_config' DERMAGA_DOCKER_HOST=unix:///two/podman.sock >"$work/out2" 2>&1
grep -q 'unix:///two/podman.sock' "$cfg" || fail "run.sh's own config.json did not follow the socket"
# The operator edits it: it must survive every later start, byte for byte.
sed -i 's/"name": "payment-manual"/"name": "payment-manual", "enabled": false/' "$cfg"
cp "$cfg" "$work/edited.json"
in_run_sh RUN='setup_config' DERMAGA_DOCKER_HOST=unix:///three/podman.sock >"$work/out3" 2>&1
cmp -s "$cfg" "$work/edited.json" || fail "run.sh rewrote the config.json the operator edited"
grep -q "keeping $cfg" "$work/out3" || fail "run.sh did not say it kept the edited config.json: $(cat "$work/out3")"
# Without run.sh's record (a file it did not write): kept too.
rm -f "$work/data/config.json.generated"
echo '{}' >"$cfg"
in_run_sh RUN='setup_config' >"$work/out4" 2>&1
[ "$(cat "$cfg")" = '{}' ] || fail "run.sh overwrote a config.json it has no record of writing"
# Deleted: written fresh.
rm -f "$cfg"
in_run_sh RUN='setup_config' >"$work/out5" 2>&1
grep -q '"service-template"' "$cfg" || fail "a deleted config.json was not written again"
# DERMAGA_CONFIG given: nothing written.
rm -f "$cfg"
in_run_sh RUN='setup_config' DERMAGA_CONFIG="$work/mine.json" >"$work/out6" 2>&1
[ ! -e "$cfg" ] || fail "run.sh wrote config.json although DERMAGA_CONFIG was given"

# ---- 3. the build is skipped when nothing changed -------------------------------
# A stand-in source tree and a dm_build that only counts and makes the binary.
src=$work/src
mkdir -p "$src/core" "$src/plugins/p" "$src/sdk" "$src/cmake"
touch "$src/CMakeLists.txt" "$src/core/a.c" "$src/plugins/p/p.c"
build_count() {
  in_run_sh DM_FAKE_ROOT="$src" RUN='DM_ROOT=$DM_FAKE_ROOT
    dm_build() { echo BUILT >>"$DM_ROOT/builds"; touch "$1/dermaga"; chmod +x "$1/dermaga"; }
    dm_build_if_changed "$DM_ROOT/build" Release '"$*" >>"$work/build.log" 2>&1 ||
    { cat "$work/build.log"; fail "dm_build_if_changed"; }
  grep -c BUILT "$src/builds" || true
}
[ "$(build_count -DX=1)" = 1 ] || fail "the first start did not build"
[ "$(build_count -DX=1)" = 1 ] || fail "a start with no source changed built again"
touch "$src/core/a.c"
[ "$(build_count -DX=1)" = 2 ] || fail "a changed core/a.c did not rebuild"
touch "$src/plugins/p/new.c"
[ "$(build_count -DX=1)" = 3 ] || fail "a new plugin source did not rebuild"
[ "$(build_count -DX=1)" = 3 ] || fail "no change, but built again"
[ "$(build_count -DX=2)" = 4 ] || fail "other cmake options did not rebuild"
rm -f "$src/build/dermaga"
[ "$(build_count -DX=2)" = 5 ] || fail "a missing binary did not rebuild"
in_run_sh DERMAGA_REBUILD=1 DM_FAKE_ROOT="$src" RUN='DM_ROOT=$DM_FAKE_ROOT
  dm_build() { echo BUILT >>"$DM_ROOT/builds"; }
  dm_build_if_changed "$DM_ROOT/build" Release -DX=2' >>"$work/build.log" 2>&1
[ "$(grep -c BUILT "$src/builds")" = 6 ] || fail "DERMAGA_REBUILD=1 did not rebuild"

# ---- 4. the private cluster's port ------------------------------------------------
default=$(sed -n 's/^PG_PORT=\${DERMAGA_PG_PORT:-\([0-9]*\)}$/\1/p' "$run_sh")
{ [ -n "$default" ] && [ "$default" -lt 32768 ]; } || fail "the default DERMAGA_PG_PORT ($default) is not below 32768"
port=$("$root/scripts/pg.sh" freeport)
node -e 'require("net").createServer().listen(+process.argv[1], "127.0.0.1", () => console.log("LISTENING"))' \
  "$port" >"$work/listen.out" 2>&1 &
listener=$!
for _ in $(seq 100); do grep -q LISTENING "$work/listen.out" && break; sleep 0.1; done
grep -q LISTENING "$work/listen.out" || fail "the stand-in listener did not start"
# A pg.sh whose cluster is stopped, so run.sh would start it on the taken port.
printf '#!/bin/sh\n[ "$1" = status ] && exit 3\nexit 0\n' >"$work/pg.sh"
chmod +x "$work/pg.sh"
if in_run_sh DERMAGA_PG_PORT="$port" FAKE_PG="$work/pg.sh" RUN='PG_SH=$FAKE_PG; setup_database' \
     >"$work/port.out" 2>&1; then
  fail "setup_database went on with port $port taken"
fi
grep -q "port $port .*DERMAGA_PG_PORT" "$work/port.out" ||
  fail "the taken port's message does not name DERMAGA_PG_PORT: $(cat "$work/port.out")"
echo "PASS: run.sh is shellcheck-clean, keeps an edited config.json, builds only on change, names DERMAGA_PG_PORT"
