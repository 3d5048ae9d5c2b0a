#!/usr/bin/env bash
# scripts/test.sh — the whole test run, as CI does it: install missing Debian
# packages (Chromium included) and the npm packages of web/, tests/node/ and
# tests/fakes/k8s/, build with ASan+UBSan and -Werror into ./build-test, start a
# throwaway private PostgreSQL and a throwaway private Podman (the container
# engine, with the locally built test images), run every suite through ctest,
# clean up, and exit with ctest's status. Extra arguments go to ctest:
# ./scripts/test.sh -R config
#
# Environment (all optional): DERMAGA_TEST_BUILD_DIR (default ./build-test),
# DERMAGA_TEST_JOBS (parallel ctest jobs, default 2), DERMAGA_SKIP_DEPS=1,
# DERMAGA_SKIP_NPM=1 (the node_modules/ already there are used as they are),
# DERMAGA_TEST_PODMAN=0 (start no Podman: the container tests then use the
# DERMAGA_TEST_DOCKER_HOST you give, or skip without one).
#
# What the tests get (tests/support and the e2e tests read these):
#   DERMAGA_TEST_DATABASE_URL  superuser URL of database dermaga_test
#   DERMAGA_TEST_PG_SH         this repository's scripts/pg.sh, for a second
#                              cluster a test stops and restarts itself
#   DERMAGA_TEST_TMPDIR        a scratch directory (mode 755) that the postgres
#                              user can enter: put such clusters here
#   DERMAGA_TEST_BIN           the built dermaga binary
#   DERMAGA_TEST_SOURCE_DIR    the repository root
#   DERMAGA_TEST_PLUGIN_DIR    <build>/plugins, the built plugins
#   DERMAGA_PG_FAST=1          clusters started by pg.sh skip fsync
#   DERMAGA_TEST_DOCKER_HOST   unix://…/podman.sock: the private Podman's
#                              Docker Engine API (docs/containers.md)
#   DERMAGA_TEST_PODMAN_SH     this repository's scripts/podman.sh, and
#   DERMAGA_TEST_PODMAN_DIR    the private Podman's directory, for
#                              `podman.sh cli DIR …` (act behind Dermaga's back)
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
# The plugin loader refuses plugin files and folders that group or others
# can write: build them with a umask that never makes them so.
umask 022
HERE="$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"
# shellcheck source=lib/common.sh
. "$HERE/lib/common.sh"
# shellcheck source=lib/deps.sh
. "$HERE/lib/deps.sh"
# shellcheck source=lib/build.sh
. "$HERE/lib/build.sh"
# shellcheck source=lib/npm.sh
. "$HERE/lib/npm.sh"

PG_SH=$HERE/pg.sh
PODMAN_SH=$HERE/podman.sh
PODMAN_DIR=""
BUILD_DIR=$(dm_abspath "${DERMAGA_TEST_BUILD_DIR:-$DM_ROOT/build-test}")
JOBS=${DERMAGA_TEST_JOBS:-2}
TMP=""
CTEST_RC=""
CTEST_PID=""
CTEST_LOG=""
T_START=$SECONDS
TIMES=()

# Record how long the phase that started at $2 took, under the name $1.
timed() { TIMES+=("$1 $((SECONDS - $2))s"); }

# Kill any server a test started from this build and left running, so that
# it holds no port (or CI) beyond this run.
# shellcheck disable=SC2317 # run from cleanup
stop_stray_servers() {
    local exe=$BUILD_DIR/dermaga proc pid
    for proc in /proc/[0-9]*; do
        [[ $(readlink "$proc/exe" 2>/dev/null) == "$exe" ]] || continue
        pid=${proc#/proc/}
        dm_warn "a test left $exe running (pid $pid); killing it"
        kill -KILL "$pid" 2>/dev/null
    done
}

# Stop every cluster under the throwaway directory (ours, and any a test left
# running), keep the main cluster's log next to ctest's, remove the directory.
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
    local rc=$?
    set +e
    trap - INT TERM
    if [[ -n $CTEST_PID ]]; then
        dm_warn "interrupted: stopping ctest"
        kill -TERM "$CTEST_PID" 2>/dev/null
        wait "$CTEST_PID" 2>/dev/null
    fi
    # Podman first: its container storage may hold files a scan below
    # must not take for our clusters, and it must be unmounted before rm.
    if [[ -n $PODMAN_DIR && -d $PODMAN_DIR ]]; then
        if [[ -f $PODMAN_DIR/service.log && -d $BUILD_DIR/Testing ]]; then
            cp "$PODMAN_DIR/service.log" "$BUILD_DIR/Testing/podman.log"
        fi
        "$PODMAN_SH" destroy "$PODMAN_DIR" 2>&1 | sed 's/^/    /' >&2
    fi
    if [[ -n $TMP && -d $TMP ]]; then
        if [[ -f $TMP/pg/postgres.log && -d $BUILD_DIR/Testing ]]; then
            cp "$TMP/pg/postgres.log" "$BUILD_DIR/Testing/postgres.log"
        fi
        local pidfile
        while IFS= read -r pidfile; do
            "$PG_SH" stop "$(dirname "$(dirname "$pidfile")")" 2>&1 | sed 's/^/    /' >&2
        done < <(find "$TMP" -name postmaster.pid -path '*/data/postmaster.pid' 2>/dev/null)
        rm -rf -- "$TMP"
    fi
    stop_stray_servers
    if [[ -n $CTEST_RC ]]; then
        rc=$CTEST_RC
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start_database() {
    TMP=$(mktemp -d /tmp/dermaga-test.XXXXXX)
    chmod 755 "$TMP" # the postgres user must enter it
    mkdir -m 755 "$TMP/scratch"
    export DERMAGA_PG_FAST=1
    local port="" attempt
    "$PG_SH" init "$TMP/pg" "$("$PG_SH" freeport)"
    # A free port can be taken between the check and the bind; try another.
    for attempt in 1 2 3; do
        port=$("$PG_SH" freeport)
        if "$PG_SH" start "$TMP/pg" "$port"; then
            break
        fi
        ((attempt < 3)) || dm_die "could not start the test PostgreSQL"
    done
    "$PG_SH" createdb "$TMP/pg" "$port" dermaga
    "$PG_SH" createdb "$TMP/pg" "$port" dermaga_test
    DB_PORT=$port
}

export_test_env() {
    # The developer's own server settings (DERMAGA_PORT, DERMAGA_CONFIG, …)
    # must not leak into the tests; keep only the test and pg.sh variables.
    local var
    for var in $(compgen -e); do
        case $var in
            DERMAGA_TEST_* | DERMAGA_PG_* | DERMAGA_PODMAN_*) ;;
            DERMAGA_*) unset "$var" ;;
        esac
    done
    DERMAGA_TEST_DATABASE_URL=$("$PG_SH" url "$TMP/pg" "$DB_PORT" dermaga_test)
    export DERMAGA_TEST_DATABASE_URL
    export DERMAGA_TEST_PG_SH=$PG_SH
    export DERMAGA_TEST_TMPDIR=$TMP/scratch
    export DERMAGA_TEST_BIN=$BUILD_DIR/dermaga
    export DERMAGA_TEST_SOURCE_DIR=$DM_ROOT
    export DERMAGA_TEST_PLUGIN_DIR=$BUILD_DIR/plugins
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
}

# The private Podman under $TMP/podman, with the images of scripts/images/.
start_podman() {
    if [[ ${DERMAGA_TEST_PODMAN:-1} == 0 ]]; then
        dm_warn "DERMAGA_TEST_PODMAN=0: no private Podman${DERMAGA_TEST_DOCKER_HOST:+; using DERMAGA_TEST_DOCKER_HOST=$DERMAGA_TEST_DOCKER_HOST}"
        return 0
    fi
    PODMAN_DIR=$TMP/podman
    "$PODMAN_SH" start "$PODMAN_DIR"
    "$PODMAN_SH" image "$PODMAN_DIR"
    DERMAGA_TEST_DOCKER_HOST=$("$PODMAN_SH" socket "$PODMAN_DIR")
    export DERMAGA_TEST_DOCKER_HOST
    export DERMAGA_TEST_PODMAN_SH=$PODMAN_SH
    export DERMAGA_TEST_PODMAN_DIR=$PODMAN_DIR
}

# Run ctest (extra arguments passed on), keep its output, set CTEST_RC.
# In the background, so that a signal reaches our trap at once instead of
# after the whole run; the trap's clean-up then stops ctest.
run_ctest() {
    CTEST_LOG=$BUILD_DIR/Testing/test-sh.log
    mkdir -p "$BUILD_DIR/Testing"
    dm_log "running ctest -j$JOBS${*:+ $*} (database 127.0.0.1:$DB_PORT/dermaga_test)"
    ctest --test-dir "$BUILD_DIR" --output-on-failure --no-tests=error -j "$JOBS" \
        --output-log "$CTEST_LOG" "$@" </dev/null &
    CTEST_PID=$!
    local rc=0
    wait "$CTEST_PID" || rc=$?
    CTEST_PID=""
    CTEST_RC=$rc
}

summary() {
    local line failed
    line=$(grep -E '^[0-9]+% tests passed' "$CTEST_LOG" | tail -n 1 || true)
    failed=$(sed -n '/^The following tests FAILED:/,$p' "$CTEST_LOG" | tail -n +2 | grep -E '^[[:space:]]+[0-9]+ - ' || true)
    echo
    echo "======================== Dermaga test summary ========================"
    if ((CTEST_RC == 0)); then
        echo "  result:  PASSED   ${line:-}"
    else
        echo "  result:  FAILED (ctest exit status $CTEST_RC)   ${line:-}"
        [[ -z $failed ]] || printf '  failed:\n%s\n' "$failed"
    fi
    echo "  time:    ${TIMES[*]}, total $((SECONDS - T_START))s"
    echo "  logs:    $CTEST_LOG"
    echo "           $BUILD_DIR/Testing/Temporary/LastTest.log"
    echo "           $BUILD_DIR/Testing/postgres.log (after clean-up)"
    [[ -z $PODMAN_DIR ]] || echo "           $BUILD_DIR/Testing/podman.log (after clean-up)"
    echo "======================================================================"
}

main() {
    cd "$DM_ROOT"
    local t=$SECONDS
    dm_deps_ensure test
    timed deps "$t"

    t=$SECONDS
    dm_npm_ensure "$DM_ROOT/web" || dm_die "the npm packages of web/ are needed by the log page tests"
    dm_npm_ensure "$DM_ROOT/tests/node" || dm_die "the npm packages of tests/node/ are needed by the browser tests"
    dm_npm_ensure "$DM_ROOT/tests/fakes/k8s" || dm_die "the npm packages of tests/fakes/k8s/ are needed by the fake Kubernetes API server"
    dm_npm_ensure "$DM_ROOT/tests/openapi" || dm_die "the npm packages of tests/openapi/ (Redocly's linter) are needed by docs/openapi_lint"
    timed npm "$t"

    t=$SECONDS
    dm_build "$BUILD_DIR" Debug -DDERMAGA_SANITIZE=ON -DDERMAGA_WERROR=ON -DDERMAGA_TESTS=ON -DDERMAGA_FAULTS=ON
    timed build "$t"

    t=$SECONDS
    start_database
    export_test_env
    timed database "$t"

    t=$SECONDS
    start_podman
    timed podman "$t"

    t=$SECONDS
    run_ctest "$@"
    timed tests "$t"
    summary
}

main "$@"
