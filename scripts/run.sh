#!/usr/bin/env bash
# scripts/run.sh — one command from a clean clone to a running Dermaga: install
# missing Debian packages and web/'s npm packages (the log page's
# socket.io-client), build (Release) into ./build, start a private
# PostgreSQL under $DERMAGA_DATA_DIR (unless DERMAGA_DATABASE_URL is given)
# and a private Podman (the container engine, Docker API on a unix socket in
# $DERMAGA_DATA_DIR/podman, with the locally built images), migrate, load the
# demo catalog, and serve on 127.0.0.1:8080 until Ctrl-C or SIGTERM.
#
# Environment (all optional):
#   DERMAGA_DATA_DIR      data, secrets and the private cluster; default ./.dermaga
#   DERMAGA_DATABASE_URL  use this PostgreSQL instead of a private cluster
#   DERMAGA_PORT          HTTP port, default 8080; DERMAGA_LISTEN, default 127.0.0.1
#   DERMAGA_PG_PORT       the private cluster's port, default 25432 (below the
#                         ephemeral range 32768-60999, so no outgoing connection holds it)
#   DERMAGA_ADMIN_EMAIL   default admin@dermaga.local
#   DERMAGA_ADMIN_PASSWORD  default: generated once into $DERMAGA_DATA_DIR/admin_password
#   DERMAGA_JWT_SECRET(_FILE) default: generated once into $DERMAGA_DATA_DIR/jwt_secret
#   DERMAGA_CONFIG        your own configuration file; without one, run.sh writes
#                         $DERMAGA_DATA_DIR/config.json enabling service-template
#                         and, with an engine, runtime-docker on the private Podman,
#                         and never overwrites it once you edited it
#   DERMAGA_LOG_LEVEL     passed to the server as it is
#   DERMAGA_BUILD_DIR     default ./build; rebuilt only when a source under core/,
#                         plugins/, sdk/ or cmake/ changed (DERMAGA_REBUILD=1 forces)
#   DERMAGA_SKIP_DEPS=1   skips the package check (apt-get runs only for missing ones)
#   DERMAGA_SKIP_NPM=1    skips `npm ci` in web/ (the log page's socket.io-client)
#   DERMAGA_PODMAN=0      start no container engine (docs/containers.md)
#
# The server gets DERMAGA_DOCKER_HOST=unix://…/podman.sock, the engine's
# address.
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
BUILD_DIR=$(dm_abspath "${DERMAGA_BUILD_DIR:-$DM_ROOT/build}")
DATA_DIR=$(dm_abspath "${DERMAGA_DATA_DIR:-$DM_ROOT/.dermaga}")
HTTP_PORT=${DERMAGA_PORT:-8080}
LISTEN=${DERMAGA_LISTEN:-127.0.0.1}
PG_PORT=${DERMAGA_PG_PORT:-25432}

CLUSTER=""        # the private cluster's directory, when we use one
PG_STARTED=0      # 1 when this run started it (and so must stop it)
PODMAN_DIR=""     # the private Podman's directory, when we use one
PODMAN_STARTED=0  # 1 when this run started it (and so must stop it)
SERVER_PID=""
SERVER_RC=1

# On any exit: stop the server if it still runs, then the private Podman and
# PostgreSQL if this run started them.
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
    local rc=$?
    set +e
    trap - INT TERM
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null
        local deadline=$((SECONDS + 15))
        while kill -0 "$SERVER_PID" 2>/dev/null && ((SECONDS < deadline)); do
            sleep 0.2
        done
        kill -KILL "$SERVER_PID" 2>/dev/null
    fi
    if ((PODMAN_STARTED)); then
        "$PODMAN_SH" stop "$PODMAN_DIR"
    fi
    if ((PG_STARTED)); then
        "$PG_SH" stop "$CLUSTER"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Create a secret file (mode 600) of N random bytes, unless it exists:
# hex, or base64 with a third argument "base64" (the JWT secret: serve
# wants 16 distinct bytes, which hex, of 16 symbols, often misses).
# Prints 1 if it was created now, else 0.
ensure_secret() {
    local file=$1 bytes=$2 form=${3:-hex}
    if [[ -s $file ]]; then
        chmod 600 "$file"
        echo 0
        return
    fi
    if [[ $form == base64 ]]; then
        (umask 077 && dm_random_base64 "$bytes" >"$file")
    else
        (umask 077 && dm_random_hex "$bytes" >"$file")
    fi
    echo 1
}

setup_data_dir() {
    mkdir -p -- "$DATA_DIR"
    # 711: the postgres user must traverse it to reach the cluster in pg/;
    # nobody else may list it, and every secret in it is mode 600.
    chmod 711 "$DATA_DIR"
    export DERMAGA_DATA_DIR=$DATA_DIR

    if [[ -z ${DERMAGA_JWT_SECRET:-} && -z ${DERMAGA_JWT_SECRET_FILE:-} ]]; then
        ensure_secret "$DATA_DIR/jwt_secret" 32 base64 >/dev/null
        export DERMAGA_JWT_SECRET_FILE=$DATA_DIR/jwt_secret
    fi

    export DERMAGA_ADMIN_EMAIL=${DERMAGA_ADMIN_EMAIL:-admin@dermaga.local}
    ADMIN_PASSWORD_SHOWN=""
    if [[ -z ${DERMAGA_ADMIN_PASSWORD:-} && -z ${DERMAGA_ADMIN_PASSWORD_FILE:-} ]]; then
        ensure_secret "$DATA_DIR/admin_password" 12 >/dev/null
        export DERMAGA_ADMIN_PASSWORD_FILE=$DATA_DIR/admin_password
        ADMIN_PASSWORD_SHOWN=$(cat "$DATA_DIR/admin_password")
    fi
}

# Where the private cluster lives: $DATA_DIR/pg, unless the postgres user
# cannot reach $DATA_DIR (say, a clone under a mode-700 /root); then a
# directory under /var/lib/dermaga named after the data dir, so that the next
# run finds it again.
choose_cluster_dir() {
    local blocked
    blocked=$(dm_pg_blocking_dir "$DATA_DIR")
    if [[ -z $blocked ]]; then
        CLUSTER=$DATA_DIR/pg
        return
    fi
    local id
    id=$(printf '%s' "$DATA_DIR" | sha256sum | cut -c1-16)
    CLUSTER=/var/lib/dermaga/clusters/$id
    mkdir -p /var/lib/dermaga/clusters
    chmod 755 /var/lib/dermaga /var/lib/dermaga/clusters
    printf '%s\n' "$CLUSTER" >"$DATA_DIR/pg_location"
    dm_warn "the postgres user cannot enter $blocked, so the private PostgreSQL cluster for $DATA_DIR lives in $CLUSTER"
}

setup_database() {
    if [[ -n ${DERMAGA_DATABASE_URL:-} ]]; then
        dm_log "using DERMAGA_DATABASE_URL; no private PostgreSQL"
        DB_SHOWN="the database in DERMAGA_DATABASE_URL"
        return
    fi
    choose_cluster_dir
    "$PG_SH" init "$CLUSTER" "$PG_PORT"
    if "$PG_SH" status "$CLUSTER" >/dev/null; then
        dm_log "reusing the private PostgreSQL already running in $CLUSTER (left running on exit)"
    else
        if dm_port_listening "$PG_PORT"; then
            dm_die "TCP port $PG_PORT (the private PostgreSQL's) is already in use; stop what uses it or set DERMAGA_PG_PORT to a free port, e.g. DERMAGA_PG_PORT=$(dm_free_port 25433) $0"
        fi
        PG_STARTED=1
        "$PG_SH" start "$CLUSTER" "$PG_PORT"
    fi
    "$PG_SH" createdb "$CLUSTER" dermaga
    DERMAGA_DATABASE_URL=$("$PG_SH" url "$CLUSTER" dermaga)
    export DERMAGA_DATABASE_URL
    local port=${DERMAGA_DATABASE_URL##*:}
    DB_SHOWN="dermaga on the private PostgreSQL at 127.0.0.1:${port%%/*} ($CLUSTER)"
}

# The private Podman in $DATA_DIR/podman, reused when already running (and then
# left running on exit), with the local images of scripts/images/.
setup_engine() {
    if [[ ${DERMAGA_PODMAN:-1} == 0 ]]; then
        dm_log "DERMAGA_PODMAN=0: no container engine"
        ENGINE_SHOWN="none (DERMAGA_PODMAN=0)"
        return
    fi
    PODMAN_DIR=$DATA_DIR/podman
    if "$PODMAN_SH" status "$PODMAN_DIR" >/dev/null 2>&1; then
        dm_log "reusing the private Podman already running in $PODMAN_DIR (left running on exit)"
    else
        PODMAN_STARTED=1
    fi
    "$PODMAN_SH" start "$PODMAN_DIR" ||
        dm_die "the container engine did not start (see above); DERMAGA_PODMAN=0 runs without one"
    "$PODMAN_SH" image "$PODMAN_DIR"
    DERMAGA_DOCKER_HOST=$("$PODMAN_SH" socket "$PODMAN_DIR")
    export DERMAGA_DOCKER_HOST
    ENGINE_SHOWN="Podman's Docker API at $DERMAGA_DOCKER_HOST"
}

# $1 as a JSON string (quotes, backslashes, newlines and tabs escaped).
json_str() {
    local s=$1
    s=${s//\\/\\\\}
    s=${s//\"/\\\"}
    s=${s//$'\n'/\\n}
    s=${s//$'\t'/\\t}
    printf '"%s"' "$s"
}

# Without a DERMAGA_CONFIG of the operator's, $DATA_DIR/config.json runs the
# demo catalog's services: service-template with config/services (the
# static site's image mapped to the locally built one, as no registry is
# reachable) and runtime-docker on the private Podman. Without an engine
# service-template is still enabled: `dermaga seed` refuses a service whose
# serviceType names no loaded service plugin.
#
# The file is the operator's once edited: run.sh records the checksum of
# what it wrote in config.json.generated, and rewrites the file (to follow
# the engine's socket, say) only while it still has that checksum. A file
# that differs, or that run.sh has no record of, is kept as it is.
setup_config() {
    if [[ -n ${DERMAGA_CONFIG:-} ]]; then
        dm_log "using DERMAGA_CONFIG=$DERMAGA_CONFIG"
        return
    fi
    local cfg=$DATA_DIR/config.json sums=$DATA_DIR/config.json.generated runtime=""
    export DERMAGA_CONFIG=$cfg
    if [[ -n ${DERMAGA_DOCKER_HOST:-} ]]; then
        runtime=",
      { \"name\": \"runtime-docker\", \"config\": { \"host\": $(json_str "$DERMAGA_DOCKER_HOST") } }"
    fi
    cat >"$cfg.tmp" <<JSON
{
  "plugins": {
    "enabled": [
      { "name": "auth-local" },
      { "name": "payment-manual" },
      { "name": "service-template",
        "config": { "dir": $(json_str "$DM_ROOT/config/services"),
                    "image_map": { "docker.io/joseluisq/static-web-server:2": "localhost/dermaga/static-site:test" } } }$runtime
    ]
  }
}
JSON
    local want
    want=$(sha256sum <"$cfg.tmp" | cut -c1-64)
    if [[ -e $cfg ]]; then
        local have
        have=$(sha256sum <"$cfg" | cut -c1-64)
        if [[ $have == "$want" ]]; then
            rm -f -- "$cfg.tmp"
            printf '%s\n' "$want" >"$sums"
            dm_log "$cfg is up to date"
            return
        fi
        if [[ ! -f $sums || $(cat "$sums") != "$have" ]]; then
            rm -f -- "$cfg.tmp"
            dm_warn "keeping $cfg as it is: it is not what run.sh wrote (edited since, or not written by run.sh); delete it to get a fresh one"
            return
        fi
    fi
    printf '%s\n' "$want" >"$sums"
    mv -- "$cfg.tmp" "$cfg"
    if [[ -n $runtime ]]; then
        dm_log "wrote $cfg: service-template and runtime-docker on $DERMAGA_DOCKER_HOST"
    else
        dm_log "wrote $cfg: service-template, no container engine (instances stay PENDING)"
    fi
}

# The address to show: a wildcard listen address is reachable on loopback.
url_host() {
    case $LISTEN in
        0.0.0.0|"") echo 127.0.0.1 ;;
        ::|"[::]") echo "[::1]" ;;
        *:*) echo "[$LISTEN]" ;;
        *) echo "$LISTEN" ;;
    esac
}

print_banner() {
    local base
    base="http://$(url_host):$HTTP_PORT"
    cat <<EOF

  Dermaga is running at $base
    data:      $DATA_DIR
    database:  $DB_SHOWN
    engine:    $ENGINE_SHOWN
    admin:     $DERMAGA_ADMIN_EMAIL
EOF
    if [[ -n $ADMIN_PASSWORD_SHOWN ]]; then
        cat <<EOF
    password:  $ADMIN_PASSWORD_SHOWN   (generated; kept in $DATA_DIR/admin_password)
EOF
    fi
    cat <<EOF

  Try first:
    curl $base/healthz          # the process is alive
    curl $base/readyz           # the database is reachable and plugins are loaded
    curl $base/metrics          # Prometheus metrics
    curl $base/openapi.json     # the whole API
    curl $base/api/catalog/services   # the demo catalog
    $base/test-logs.html     # in a browser: the live log page
EOF
    if [[ -n $PODMAN_DIR ]]; then
        cat <<EOF
    curl --unix-socket $PODMAN_DIR/podman.sock http://docker/v1.41/containers/json
                                # the containers (also: $PODMAN_SH cli $PODMAN_DIR ps -a)
EOF
    fi
    if [[ -n $ADMIN_PASSWORD_SHOWN ]]; then
        cat <<EOF
    curl -X POST $base/api/auth/login -H 'Content-Type: application/json' \\
         -d '{"email":"$DERMAGA_ADMIN_EMAIL","password":"$ADMIN_PASSWORD_SHOWN"}'
EOF
    fi
    cat <<EOF

  Ctrl-C stops the server$( ((PODMAN_STARTED)) && echo ", the containers and Podman")$( ((PG_STARTED)) && echo " and the private PostgreSQL"). Docs: docs/ and README.md.

EOF
}

# Poll (at most 30 s) until the server listens; false if it exited first.
wait_listening() {
    local deadline=$((SECONDS + 30))
    while kill -0 "$SERVER_PID" 2>/dev/null; do
        dm_port_listening "$HTTP_PORT" && return 0
        if ((SECONDS >= deadline)); then
            dm_warn "the server is not listening on port $HTTP_PORT after 30 s; still waiting for it"
            return 0
        fi
        sleep 0.2
    done
    return 1
}

# Wait for the server to exit, whatever signals arrive meanwhile, and set
# SERVER_RC to its exit status. (A trapped signal interrupts `wait`; bash keeps
# the status of a reaped child, so the final `wait` returns the real one.)
wait_server() {
    local s
    while kill -0 "$SERVER_PID" 2>/dev/null; do
        s=0
        wait "$SERVER_PID" 2>/dev/null || s=$?
        ((s != 127)) || break
    done
    SERVER_RC=0
    wait "$SERVER_PID" 2>/dev/null || SERVER_RC=$?
}

serve() {
    local bin=$BUILD_DIR/dermaga
    [[ -x $bin ]] || dm_die "the build produced no $bin"
    export DERMAGA_PORT=$HTTP_PORT DERMAGA_LISTEN=$LISTEN

    # The demo catalog is loaded once per data dir: `seed` upserts by slug,
    # so running it on every start would undo price or quota changes an
    # administrator made to the seeded rows. Run `dermaga seed` by hand to
    # load the file again.
    if [[ -e $DATA_DIR/catalog_seeded ]]; then
        dm_log "applying migrations"
        "$bin" migrate || dm_die "'dermaga migrate' failed (see above)"
    else
        dm_log "applying migrations and loading the demo catalog (config/catalog.json)"
        "$bin" seed || dm_die "'dermaga seed' failed (see above)"
        touch "$DATA_DIR/catalog_seeded"
    fi

    dm_log "starting the server"
    # Its own session: Ctrl-C reaches only this script, which turns it into
    # one SIGTERM, so the server sees exactly one signal and shuts down cleanly.
    setsid "$bin" serve &
    SERVER_PID=$!
    trap 'kill -TERM "$SERVER_PID" 2>/dev/null || true' INT TERM
    if wait_listening; then
        print_banner
    fi
    wait_server
    SERVER_PID=""
    if ((SERVER_RC == 0)); then
        dm_log "the server stopped"
    else
        dm_warn "the server exited with status $SERVER_RC"
    fi
}

main() {
    cd "$DM_ROOT"
    if [[ ! $HTTP_PORT =~ ^[0-9]+$ ]] || ((HTTP_PORT < 1 || HTTP_PORT > 65535)); then
        dm_die "DERMAGA_PORT must be a TCP port number, not '$HTTP_PORT'"
    fi
    dm_deps_ensure
    # The log page's socket.io-client build; the API works without it.
    dm_npm_ensure "$DM_ROOT/web" ||
        dm_warn "without web/node_modules the log page at /test-logs.html cannot follow logs (its /vendor/socket.io.min.js answers 404)"
    dm_build_if_changed "$BUILD_DIR" Release -DDERMAGA_TESTS=OFF -DDERMAGA_SANITIZE=OFF
    # Fail before starting anything when the HTTP port is taken.
    if dm_port_in_use "$HTTP_PORT"; then
        dm_die "TCP port $HTTP_PORT is already in use; stop what uses it or set DERMAGA_PORT to a free port, e.g. DERMAGA_PORT=$(dm_free_port 8081) $0"
    fi
    setup_data_dir
    setup_database
    setup_engine
    setup_config
    serve
    exit "$SERVER_RC"
}

# Sourced (tests/deploy/run_sh.sh calls the functions one by one), it only
# defines them.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    main "$@"
fi
