# scripts/lib/common.sh — helpers shared by Dermaga's shell scripts: messages,
# the repository root, random secrets, TCP port checks, and running commands as
# the `postgres` user. Sourced, never run; safe under `set -euo pipefail`.
# shellcheck shell=bash

# The repository root: this file lives in <root>/scripts/lib/.
# shellcheck disable=SC2034 # used by the scripts that source this file
DM_ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)"

dm_log()  { printf '==> %s\n' "$*" >&2; }
dm_warn() { printf 'warning: %s\n' "$*" >&2; }
dm_die()  { printf 'error: %s\n' "$*" >&2; exit 1; }

# Parallel build/test jobs: the CPU count, at least 1.
dm_jobs() { nproc 2>/dev/null || echo 2; }

# N random bytes as 2N lowercase hex characters (URL- and shell-safe).
dm_random_hex() {
    od -An -vtx1 -N"$1" /dev/urandom | tr -d ' \n'
}

# N random bytes as standard base64, no newline (the JWT secret).
dm_random_base64() {
    head -c "$1" /dev/urandom | base64 | tr -d '\n'
}

# Absolute form of a path that may not exist yet.
dm_abspath() { realpath -m -- "$1"; }

# Is anything bound to TCP port $1 on any address (IPv4 or IPv6)?
# Reads /proc/net/tcp{,6} so that no extra package (ss, netstat) is needed;
# TIME_WAIT (state 06) does not block a listener that sets SO_REUSEADDR.
dm_port_in_use() {
    local files=() f
    for f in /proc/net/tcp /proc/net/tcp6; do [[ -r $f ]] && files+=("$f"); done
    ((${#files[@]})) || return 1
    awk -v p="$(printf ':%04X' "$1")" '
        FNR > 1 && substr($2, length($2) - 4) == p && $4 != "06" { found = 1 }
        END { exit !found }' "${files[@]}"
}

# Is something listening (state 0A) on TCP port $1?
dm_port_listening() {
    local files=() f
    for f in /proc/net/tcp /proc/net/tcp6; do [[ -r $f ]] && files+=("$f"); done
    ((${#files[@]})) || return 1
    awk -v p="$(printf ':%04X' "$1")" '
        FNR > 1 && substr($2, length($2) - 4) == p && $4 == "0A" { found = 1 }
        END { exit !found }' "${files[@]}"
}

# Print a free TCP port at or after $1 (default: a random one in 15000-31999,
# below Linux's ephemeral range so that outgoing connections cannot take it).
dm_free_port() {
    local port=${1:-$((15000 + RANDOM % 17000))} tries=0
    while dm_port_in_use "$port"; do
        port=$((port + 1))
        tries=$((tries + 1))
        ((tries < 500)) || dm_die "no free TCP port found after $tries tries"
        ((port <= 65535)) || port=15000
    done
    printf '%s\n' "$port"
}

# The newest installed PostgreSQL server binaries, e.g. /usr/lib/postgresql/15/bin
# (DERMAGA_PG_BINDIR overrides).
dm_pg_bindir() {
    if [[ -n ${DERMAGA_PG_BINDIR:-} ]]; then
        printf '%s\n' "$DERMAGA_PG_BINDIR"
        return
    fi
    local initdb
    initdb=$(printf '%s\n' /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)
    [[ -x $initdb ]] ||
        dm_die "PostgreSQL server binaries not found (no /usr/lib/postgresql/*/bin/initdb); install the 'postgresql' package or run ./scripts/run.sh once"
    dirname "$initdb"
}

# Run a command as the `postgres` OS user: initdb and postgres refuse root.
# From /, because the caller's directory may be closed to postgres (commands
# are given absolute paths).
dm_as_postgres() {
    if [[ $(id -u) -eq 0 ]]; then
        (cd / && runuser -u postgres -- "$@")
    elif [[ $(id -un) == postgres ]]; then
        (cd / && "$@")
    else
        dm_die "run as root (or as the postgres user) to manage a private PostgreSQL cluster"
    fi
}

# Print the first ancestor of directory $1 (itself included) that the postgres
# user cannot traverse; print nothing when the whole path is open to it.
dm_pg_blocking_dir() {
    local dir
    dir=$(dm_abspath "$1")
    dm_as_postgres test -x "$dir" 2>/dev/null && return 0
    local path="" part
    local IFS=/
    for part in $dir; do
        [[ -z $part ]] && continue
        path="$path/$part"
        if ! dm_as_postgres test -x "$path" 2>/dev/null; then
            printf '%s\n' "$path"
            return 0
        fi
    done
    printf '%s\n' "$dir"
}
