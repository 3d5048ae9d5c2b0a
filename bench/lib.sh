# bench/lib.sh — what every benchmark script needs: a Release build, a
# throwaway PostgreSQL, the server on a free port, and clean-up on exit.
# Sourced after ROOT is set; defines BUILD, WORK, URL, SERVER_PID and the
# helpers rss and summary. Not a test: figures go into bench/RESULTS.md.
# A script that must prepare something first (a config file, an engine)
# sets BENCH_DEFER_SERVER=1 before sourcing and calls bench_start_server
# itself; it may define bench_cleanup_hook, run after the server is stopped
# and before $WORK is removed.
# shellcheck shell=bash

. "$ROOT/scripts/lib/common.sh"
. "$ROOT/scripts/lib/deps.sh"
dm_deps_ensure

BUILD=$ROOT/build-bench
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DDERMAGA_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j"$(nproc)" >/dev/null

WORK=$(mktemp -d /tmp/dermaga-bench.XXXXXX)
chmod 755 "$WORK"
PGDIR=$WORK/pg
SERVER_PID=
EXTRA_PIDS=()
bench_cleanup() {
    local p
    for p in "${EXTRA_PIDS[@]}" $SERVER_PID; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if declare -F bench_cleanup_hook >/dev/null; then bench_cleanup_hook || true; fi
    "$ROOT/scripts/pg.sh" stop "$PGDIR" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap bench_cleanup EXIT

PGPORT=$("$ROOT/scripts/pg.sh" freeport 26000)
"$ROOT/scripts/pg.sh" init "$PGDIR" "$PGPORT" >/dev/null
DERMAGA_PG_FAST=1 "$ROOT/scripts/pg.sh" start "$PGDIR" "$PGPORT" >/dev/null
"$ROOT/scripts/pg.sh" createdb "$PGDIR" "$PGPORT" dermaga >/dev/null

export DERMAGA_DATABASE_URL
DERMAGA_DATABASE_URL=$("$ROOT/scripts/pg.sh" url "$PGDIR" "$PGPORT" dermaga)
export DERMAGA_PORT DERMAGA_DATA_DIR=$WORK/data
DERMAGA_PORT=$("$ROOT/scripts/pg.sh" freeport 18500)
export DERMAGA_JWT_SECRET=bench-Secret-0123456789-ABCDEFGHIJ-klmnop
URL=http://127.0.0.1:$DERMAGA_PORT
# The access log is part of the request path and stays on (unless the caller
# set DERMAGA_LOG_LEVEL); it goes to a file.
bench_start_server() {
    "$BUILD/dermaga" serve 2>"$WORK/server.log" &
    SERVER_PID=$!
    for _ in $(seq 1 100); do
        curl -sf "$URL/healthz" >/dev/null 2>&1 && break
        sleep 0.1
    done
    curl -sf "$URL/healthz" >/dev/null || { cat "$WORK/server.log"; exit 1; }
}
[[ ${BENCH_DEFER_SERVER:-0} == 1 ]] || bench_start_server

rss() { awk '/VmRSS/ {print $2 " kB"}' "/proc/$SERVER_PID/status"; }
summary() { grep -E "Requests/sec|^ +99%|Non-2xx" | tr -s ' ' | paste -sd' ' -; }
