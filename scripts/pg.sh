#!/usr/bin/env bash
# scripts/pg.sh — one private PostgreSQL cluster in one directory, listening on
# 127.0.0.1 only: used by run.sh, test.sh, and tests that stop and restart a
# database. Every command is idempotent. Run as root (the server runs as the
# `postgres` user, which initdb and postgres require). `pg.sh help` explains.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib/common.sh"

usage() {
    cat <<'EOF'
usage: pg.sh init DIR PORT            create the cluster (no-op if DIR already holds one)
       pg.sh start DIR [PORT]         start it, wait (<= 30 s) until it accepts connections;
                                      no-op if already running
       pg.sh stop DIR                 fast shutdown; no-op if stopped or absent
       pg.sh status DIR               print the state; exit 0 running, 3 stopped, 4 no cluster
       pg.sh url DIR [PORT] [DB]      print postgresql://postgres:PASSWORD@127.0.0.1:PORT/DB
                                      (DB defaults to dermaga)
       pg.sh createdb DIR [PORT] DB   create database DB unless it exists
       pg.sh freeport [FROM]          print a TCP port nothing is bound to

PORT defaults to the port the cluster runs on, else the one last given to it.

Layout of DIR (owned by postgres, mode 700; it is created if missing, its
parent must be traversable by the postgres user):
  data/          the PostgreSQL data directory
  sock/          the Unix socket (trust auth: only postgres and root can enter)
  password       the superuser's generated password (mode 600)
  port           the port given to init or the last start
  postgres.log   the server log

Authentication: TCP connections (127.0.0.1 only) need the superuser
`postgres` and the password in DIR/password (scram-sha-256); `pg.sh url`
prints a URL that carries it. DERMAGA_PG_FAST=1 (init and start) turns off
fsync and raises max_connections: for throwaway test clusters only.
EOF
}

# Names allowed inside DIR: init refuses to take over a directory with others.
KNOWN_ENTRIES=" data data.init sock password port postgres.log initdb.log "

check_dir() {
    [[ -n ${1:-} ]] || { usage >&2; exit 2; }
    DIR=$(dm_abspath "$1")
    # pg_ctl passes its -o options through /bin/sh, so keep the path plain.
    [[ $DIR =~ ^[A-Za-z0-9._/+-]+$ ]] ||
        dm_die "cluster directory '$DIR' may only contain letters, digits and . _ / + -"
    [[ $DIR != / ]] || dm_die "refusing to use / as a cluster directory"
    DATA=$DIR/data
}

check_port() {
    if [[ ! $1 =~ ^[0-9]+$ ]] || (($1 < 1024 || $1 > 65535)); then
        dm_die "port must be a number from 1024 to 65535, not '$1'"
    fi
}

have_cluster() { [[ -f $DATA/PG_VERSION ]]; }

require_cluster() {
    have_cluster || dm_die "no PostgreSQL cluster in $DIR (run: pg.sh init $DIR PORT)"
}

pg_ctl() { dm_as_postgres "$PGBIN/pg_ctl" -D "$DATA" "$@"; }

is_running() { pg_ctl status >/dev/null 2>&1; }

# The port of the running postmaster (line 4 of postmaster.pid), else the
# recorded one.
current_port() {
    local p=""
    if is_running && [[ -r $DATA/postmaster.pid ]]; then
        p=$(sed -n 4p "$DATA/postmaster.pid")
    fi
    [[ -n $p ]] || p=$(cat "$DIR/port" 2>/dev/null || true)
    [[ -n $p ]] || dm_die "no port recorded for $DIR; give one"
    printf '%s\n' "$p"
}

log_tail() {
    if [[ -f $DIR/postgres.log ]]; then
        printf -- '--- last lines of %s ---\n' "$DIR/postgres.log" >&2
        tail -n 30 "$DIR/postgres.log" >&2
    fi
}

cmd_init() {
    check_dir "${1:-}"
    [[ -n ${2:-} ]] || dm_die "usage: pg.sh init DIR PORT"
    check_port "$2"
    if have_cluster; then
        dm_log "PostgreSQL cluster already initialised in $DIR"
        return 0
    fi
    local created=0
    [[ -d $DIR ]] || created=1
    mkdir -p -- "$DIR"
    local entry name
    for entry in "$DIR"/* "$DIR"/.[!.]*; do
        [[ -e $entry ]] || continue
        name=${entry##*/}
        [[ $KNOWN_ENTRIES == *" $name "* ]] ||
            dm_die "$DIR is not empty and holds no cluster (found '$name'); choose an empty or new directory"
    done
    local blocked
    blocked=$(dm_pg_blocking_dir "$(dirname "$DIR")")
    if [[ -n $blocked ]]; then
        ((created == 0)) || rmdir -- "$DIR"
        dm_die "the postgres user cannot enter $blocked (mode $(stat -c %a "$blocked" 2>/dev/null || echo '?')), so it cannot reach $DIR; make every parent traversable (chmod o+x $blocked) or put the cluster elsewhere, e.g. under /tmp or /var/lib"
    fi
    chown postgres:postgres "$DIR"
    chmod 700 "$DIR"
    if [[ ! -s $DIR/password ]]; then
        (umask 077 && dm_random_hex 24 >"$DIR/password")
    fi
    printf '%s\n' "$2" >"$DIR/port"
    chown postgres:postgres "$DIR/password" "$DIR/port"
    chmod 600 "$DIR/password"

    local locale=C
    if locale -a 2>/dev/null | grep -qix 'c\.utf-\?8'; then locale=C.UTF-8; fi
    # initdb into a side directory and rename at the end, so that an
    # interrupted init is simply redone next time.
    local extra=()
    [[ ${DERMAGA_PG_FAST:-0} != 1 ]] || extra+=(--no-sync)
    rm -rf -- "$DIR/data.init"
    dm_log "initialising PostgreSQL cluster in $DIR"
    if ! dm_as_postgres "$PGBIN/initdb" -D "$DIR/data.init" -U postgres \
            --pwfile="$DIR/password" --auth-local=trust --auth-host=scram-sha-256 \
            --encoding=UTF8 --locale="$locale" --no-instructions "${extra[@]}" \
            >"$DIR/initdb.log" 2>&1; then
        cat "$DIR/initdb.log" >&2
        dm_die "initdb failed in $DIR/data.init"
    fi
    mv -- "$DIR/data.init" "$DATA"
    rm -f -- "$DIR/initdb.log"
}

# Poll until the server answers on TCP, for at most 30 seconds; fail early if
# the postmaster is gone.
wait_ready() {
    local port=$1 deadline=$((SECONDS + 30))
    until "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$port" -t 2; do
        if ! is_running; then
            log_tail
            dm_die "PostgreSQL in $DIR exited while starting"
        fi
        if ((SECONDS >= deadline)); then
            log_tail
            dm_die "PostgreSQL in $DIR is not accepting connections after 30 s"
        fi
        sleep 0.2
    done
}

cmd_start() {
    check_dir "${1:-}"
    require_cluster
    local port=${2:-}
    [[ -n $port ]] || port=$(current_port)
    check_port "$port"
    if is_running; then
        local running_port
        running_port=$(current_port)
        [[ $running_port == "$port" ]] ||
            dm_die "PostgreSQL in $DIR is already running on port $running_port, not $port"
        dm_log "PostgreSQL in $DIR is already running on 127.0.0.1:$port"
        return 0
    fi
    # Only a listener blocks us: connections of clients that outlived a
    # stopped server (FIN_WAIT2 and the like) do not, since PostgreSQL binds
    # with SO_REUSEADDR — and a restart on the same port must work.
    if dm_port_listening "$port"; then
        dm_die "TCP port $port is already in use by another program; choose another port"
    fi
    mkdir -p -- "$DIR/sock"
    chown postgres:postgres "$DIR/sock"
    chmod 700 "$DIR/sock"
    printf '%s\n' "$port" >"$DIR/port"

    local opts="-p $port -c listen_addresses=127.0.0.1"
    # A Unix socket path is limited to 107 bytes; without a socket, every
    # client here uses TCP anyway.
    if (( ${#DIR} + ${#port} + 16 <= 107 )); then
        opts+=" -k $DIR/sock"
    else
        opts+=" -c unix_socket_directories=''"
    fi
    if [[ ${DERMAGA_PG_FAST:-0} == 1 ]]; then
        opts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
    fi
    dm_log "starting PostgreSQL in $DIR on 127.0.0.1:$port"
    if ! pg_ctl -l "$DIR/postgres.log" -o "$opts" -w -t 30 start >/dev/null; then
        log_tail
        dm_die "PostgreSQL in $DIR failed to start"
    fi
    wait_ready "$port"
}

cmd_stop() {
    check_dir "${1:-}"
    if ! have_cluster; then
        dm_log "no PostgreSQL cluster in $DIR: nothing to stop"
        return 0
    fi
    if ! is_running; then
        dm_log "PostgreSQL in $DIR is not running"
        return 0
    fi
    dm_log "stopping PostgreSQL in $DIR"
    if ! pg_ctl -m fast -w -t 30 stop >/dev/null; then
        dm_warn "fast shutdown of $DIR did not finish in 30 s; using immediate"
        pg_ctl -m immediate -w -t 30 stop >/dev/null
    fi
}

cmd_status() {
    check_dir "${1:-}"
    if ! have_cluster; then
        echo "no cluster in $DIR"
        exit 4
    fi
    if is_running; then
        echo "running on 127.0.0.1:$(current_port) (pid $(head -n 1 "$DATA/postmaster.pid"))"
        exit 0
    fi
    echo "stopped"
    exit 3
}

# Parse "DIR [PORT] [DB]" into DIR, PORT and DB (DB defaults to $1).
parse_dir_port_db() {
    local default_db=$1
    shift
    check_dir "${1:-}"
    require_cluster
    shift
    PORT=""
    if [[ ${1:-} =~ ^[0-9]+$ ]]; then PORT=$1; shift; fi
    [[ -n $PORT ]] || PORT=$(current_port)
    check_port "$PORT"
    DB=${1:-$default_db}
    [[ -n $DB ]] || dm_die "a database name is required"
    [[ -r $DIR/password ]] || dm_die "cannot read $DIR/password (run as root)"
}

cmd_url() {
    parse_dir_port_db dermaga "$@"
    # The password is hex, so the URL needs no escaping.
    printf 'postgresql://postgres:%s@127.0.0.1:%s/%s\n' "$(cat "$DIR/password")" "$PORT" "$DB"
}

cmd_createdb() {
    parse_dir_port_db "" "$@"
    # Quoting by psql variables (:'db', %I): the name is never spliced into SQL.
    PGPASSWORD=$(cat "$DIR/password") "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 \
        -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -v db="$DB" <<'SQL'
SELECT format('CREATE DATABASE %I', :'db')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db')\gexec
SQL
}

main() {
    local cmd=${1:-help}
    shift || true
    case $cmd in
        freeport)
            dm_free_port "$@"
            return ;;
        help|-h|--help)
            usage
            return ;;
    esac
    PGBIN=$(dm_pg_bindir)
    case $cmd in
        init)     cmd_init "$@" ;;
        start)    cmd_start "$@" ;;
        stop)     cmd_stop "$@" ;;
        status)   cmd_status "$@" ;;
        url)      cmd_url "$@" ;;
        createdb) cmd_createdb "$@" ;;
        *)        usage >&2; exit 2 ;;
    esac
}

main "$@"
