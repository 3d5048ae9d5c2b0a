#!/usr/bin/env bash
# scripts/podman.sh — a private Podman under one directory, for the tests
# (scripts/test.sh) and for scripts/run.sh: its own image and container
# storage, the project's containers.conf, and Podman's Docker-compatible API
# on a unix socket inside the directory. Never touches the machine's default
# Podman storage. Must run as root (rootful Podman; see docs/containers.md).
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
HERE="$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"
# shellcheck source=lib/common.sh
. "$HERE/lib/common.sh"

CONF=$DM_ROOT/config/containers/containers.conf
IMAGES_DIR=$HERE/images
IMAGE_PREFIX=localhost/dermaga
IMAGE_TAG="test"
# The hard limits the containers.conf default_ulimits need (nofile, nproc).
NEED_NOFILE=10000
NEED_NPROC=4096

usage() {
    cat <<'EOF'
usage: podman.sh COMMAND DIR [ARGS...]

  init DIR             create the directory layout (done by start too)
  start DIR            start the API service on DIR/podman.sock in the
                       background and wait (at most 30 s) until /_ping answers
  stop DIR             stop every container of DIR (they are kept), then the
                       API service; nothing of DIR keeps running
  destroy DIR          stop, remove every container, volume and image of DIR,
                       unmount its storage and delete DIR
  status DIR           print the state; exit 0 running, 3 stopped, 4 no DIR
  socket DIR           print the Docker host URL: unix://DIR/podman.sock
  image DIR [NAME...]  build the local images from scripts/images/NAME (all by
                       default) as localhost/dermaga/NAME:test; skipped when
                       the image already holds the same sources
  cli DIR ARGS...      run the podman command line on DIR's storage
                       (e.g. podman.sh cli DIR ps -a)

DIR holds: storage/ (images, containers, volumes), run/ and libpod/ (run-time
state), networks/ (network configs), scratch/ (image copies), podman.sock,
service.pid, service.log, boot_id. Point a Docker client at it with
DOCKER_HOST=$(podman.sh socket DIR). DERMAGA_PODMAN_STOP_TIMEOUT (seconds,
default 5) is how long stop lets a container end before SIGKILL.
EOF
}

check_dir() {
    [[ -n ${1:-} ]] || { usage >&2; exit 2; }
    DIR=$(dm_abspath "$1")
    [[ $DIR != / ]] || dm_die "refusing to use / as the Podman directory"
    [[ $DIR =~ ^[A-Za-z0-9._/+-]+$ ]] ||
        dm_die "Podman directory '$DIR' may only contain letters, digits and . _ / + -"
    SOCK=$DIR/podman.sock
    PIDFILE=$DIR/service.pid
    LOG=$DIR/service.log
}

# The podman command line on DIR's private storage and configuration.
# TMPDIR: where image imports are staged (else /var/tmp).
pm_args() {
    PM=(env "CONTAINERS_CONF=$CONF" "TMPDIR=$DIR/scratch" podman
        --root "$DIR/storage" --runroot "$DIR/run" --tmpdir "$DIR/libpod"
        --network-config-dir "$DIR/networks")
}
pm() {
    local PM
    pm_args
    "${PM[@]}" "$@"
}

require_tools() {
    [[ $(id -u) -eq 0 ]] || dm_die "run as root: the private Podman is rootful (see docs/containers.md)"
    local t
    for t in podman runc conmon curl; do
        command -v "$t" >/dev/null 2>&1 ||
            dm_die "'$t' not found; install the Debian packages podman, runc and busybox-static (scripts/test.sh and run.sh do)"
    done
    [[ -r $CONF ]] || dm_die "cannot read $CONF"
}

# containers.conf asks for these ulimits; above the hard limits every
# container would fail to start, so say so now, plainly.
check_limits() {
    local hn hu
    hn=$(ulimit -Hn)
    hu=$(ulimit -Hu)
    if [[ $hn != unlimited ]] && ((hn < NEED_NOFILE)); then
        dm_die "the hard open-files limit is $hn, below the $NEED_NOFILE that $CONF gives containers; lower default_ulimits there"
    fi
    if [[ $hu != unlimited ]] && ((hu < NEED_NPROC)); then
        dm_die "the hard process limit is $hu, below the $NEED_NPROC that $CONF gives containers; lower default_ulimits there"
    fi
}

# Is the API service of DIR running? The pid file must name a live process
# whose command line is this directory's service (not a recycled pid).
is_running() {
    [[ -r $PIDFILE ]] || return 1
    local pid
    pid=$(cat "$PIDFILE" 2>/dev/null || true)
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    # (a pid file left by a machine that stopped may name no process at all)
    { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -qF -- "system service --time=0 unix://$SOCK"
}

service_pid() { cat "$PIDFILE"; }

ping_ok() {
    [[ -S $SOCK ]] || return 1
    [[ $(curl -s -m 2 --unix-socket "$SOCK" http://podman/_ping 2>/dev/null || true) == OK ]]
}

log_tail() {
    if [[ -f $LOG ]]; then
        printf -- '--- last lines of %s ---\n' "$LOG" >&2
        tail -n 30 "$LOG" >&2
    fi
}

cmd_init() {
    check_dir "${1:-}"
    require_tools
    # A unix socket path holds at most 107 bytes.
    ((${#SOCK} <= 107)) ||
        dm_die "the socket path $SOCK is longer than 107 bytes; choose a shorter directory"
    mkdir -p -- "$DIR"
    chmod 700 "$DIR"
    mkdir -p -- "$DIR/storage" "$DIR/run" "$DIR/libpod" "$DIR/networks" "$DIR/scratch"
}

# After a reboot the run-time state (run/, libpod/) describes processes that
# no longer exist; Podman only notices that when those directories are new,
# as on the tmpfs it normally uses. Keep the boot they belong to and drop
# them when it changed.
reset_stale_state() {
    local boot
    boot=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo unknown)
    if [[ -f $DIR/boot_id && $(cat "$DIR/boot_id") != "$boot" ]]; then
        dm_log "the machine restarted since $DIR was last used: clearing its run-time state"
        rm -rf --one-file-system -- "$DIR/run" "$DIR/libpod"
        mkdir -p -- "$DIR/run" "$DIR/libpod"
    fi
    printf '%s\n' "$boot" >"$DIR/boot_id"
}

# Poll /_ping through the socket for at most 30 s; fail early if the
# service died. Alive is its pid existing, not is_running: just after the
# start the pid may still be the forked shell that has not yet exec'd
# setsid and podman, whose command line is not the service's yet.
wait_ready() {
    local deadline=$((SECONDS + 30)) pid
    pid=$(service_pid 2>/dev/null || true)
    until ping_ok; do
        if [[ ! $pid =~ ^[0-9]+$ ]] || ! kill -0 "$pid" 2>/dev/null; then
            log_tail
            dm_die "the Podman API service of $DIR exited while starting"
        fi
        if ((SECONDS >= deadline)); then
            log_tail
            dm_die "the Podman API service of $DIR does not answer /_ping after 30 s"
        fi
        sleep 0.1
    done
}

cmd_start() {
    cmd_init "$@"
    check_limits
    if is_running; then
        wait_ready
        dm_log "Podman in $DIR is already running (pid $(service_pid)) on $SOCK"
        return 0
    fi
    reset_stale_state
    rm -f -- "$SOCK" "$PIDFILE"
    dm_log "starting Podman $(podman --version | awk '{print $3}') in $DIR (API on $SOCK)"
    # Its own session, so that a Ctrl-C meant for the caller does not kill it
    # before the caller's clean-up stops it in order. --time=0: never exit
    # for being idle.
    local pid PM
    pm_args
    # setsid execs in place (the shell's background child leads no process
    # group), so $! is the service's own pid.
    setsid "${PM[@]}" system service --time=0 "unix://$SOCK" >"$LOG" 2>&1 </dev/null &
    pid=$!
    printf '%s\n' "$pid" >"$PIDFILE"
    wait_ready
    chmod 600 "$SOCK"
}

# Stop containers, then the service; each step tolerates the other's absence.
cmd_stop() {
    check_dir "${1:-}"
    if [[ ! -d $DIR/storage ]]; then
        dm_log "no private Podman in $DIR: nothing to stop"
        return 0
    fi
    require_tools
    local t=${DERMAGA_PODMAN_STOP_TIMEOUT:-5}
    [[ $t =~ ^[0-9]+$ ]] || dm_die "DERMAGA_PODMAN_STOP_TIMEOUT must be a number of seconds, not '$t'"
    local running
    running=$(pm ps -q 2>/dev/null | wc -l || true)
    if ((running > 0)); then
        dm_log "stopping $running container(s) of $DIR"
        pm stop --all --time "$t" >/dev/null 2>&1 || dm_warn "podman stop --all failed in $DIR"
    fi
    if is_running; then
        local pid deadline
        pid=$(service_pid)
        dm_log "stopping the Podman API service of $DIR (pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
        deadline=$((SECONDS + 10))
        while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            dm_warn "the Podman API service did not stop in 10 s; killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f -- "$SOCK" "$PIDFILE"
}

# Unmount whatever is still mounted at or below DIR, deepest first.
unmount_below() {
    local mp
    while IFS= read -r mp; do
        umount -l -- "$mp" 2>/dev/null || dm_warn "could not unmount $mp"
    done < <(awk -v d="$DIR" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r)
}

cmd_destroy() {
    check_dir "${1:-}"
    [[ -e $DIR ]] || return 0
    cmd_stop "$DIR"
    if [[ -d $DIR/storage ]]; then
        # Removing the containers also gives their addresses back to the
        # machine-wide network allocator; reset removes images and volumes.
        pm rm --all --force --volumes >/dev/null 2>&1 || dm_warn "podman rm --all failed in $DIR"
        pm system reset --force >/dev/null 2>&1 || dm_warn "podman system reset failed in $DIR"
    fi
    unmount_below
    rm -rf --one-file-system -- "$DIR"
}

cmd_status() {
    check_dir "${1:-}"
    if [[ ! -d $DIR/storage ]]; then
        echo "no private Podman in $DIR"
        exit 4
    fi
    if is_running; then
        if ping_ok; then
            echo "running (pid $(service_pid)) on unix://$SOCK"
            exit 0
        fi
        echo "starting or not answering (pid $(service_pid)) on unix://$SOCK"
        exit 0
    fi
    echo "stopped"
    exit 3
}

cmd_socket() {
    check_dir "${1:-}"
    printf 'unix://%s\n' "$SOCK"
}

cmd_cli() {
    check_dir "${1:-}"
    shift
    require_tools
    [[ -d $DIR/storage ]] || dm_die "no private Podman in $DIR (run: podman.sh start $DIR)"
    pm "$@"
}

# ---- images ------------------------------------------------------------

# The static busybox the images are built from (busybox-static's /bin/busybox;
# a dynamically linked one would need its libraries inside the image).
static_busybox() {
    local bb
    bb=$(command -v busybox || true)
    [[ -n $bb ]] || dm_die "busybox not found; install the Debian package busybox-static"
    bb=$(readlink -f "$bb")
    if LC_ALL=C ldd "$bb" 2>&1 | grep -q '=>'; then
        dm_die "$bb is dynamically linked; install the Debian package busybox-static"
    fi
    printf '%s\n' "$bb"
}

# A hash of everything an image is made of, kept as a label so that an
# unchanged image is not imported again.
source_hash() {
    local src=$1 bb=$2
    {
        (cd "$src" && find . \( -type f -o -type l \) -print0 | LC_ALL=C sort -z |
            xargs -0r sha256sum && find . -type f -perm -u+x -print | LC_ALL=C sort)
        sha256sum <"$bb"
    } | sha256sum | cut -c1-32
}

# Build one image: BusyBox with a link per applet in /bin, files/ laid over
# it, imported with the instructions of `changes`.
build_image() {
    local name=$1 bb=$2
    local src=$IMAGES_DIR/$name ref=$IMAGE_PREFIX/$name:$IMAGE_TAG
    [[ -f $src/changes ]] || dm_die "no image '$name' (no $src/changes)"
    local hash have
    hash=$(source_hash "$src" "$bb")
    have=$(pm image inspect --format '{{index .Labels "dermaga.source-hash"}}' "$ref" 2>/dev/null || true)
    if [[ $have == "$hash" ]]; then
        dm_log "image $ref is up to date"
        return 0
    fi
    local root
    root=$(mktemp -d "$DIR/scratch/rootfs.XXXXXX")
    mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/proc" "$root/sys" "$root/dev"
    chmod 1777 "$root/tmp"
    cp -- "$bb" "$root/bin/busybox"
    local applet
    for applet in $("$bb" --list); do
        [[ $applet == busybox || -e $root/bin/$applet ]] || ln -s busybox "$root/bin/$applet"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
    if [[ -d $src/files ]]; then
        cp -a -- "$src/files/." "$root/"
    fi
    local changes=() line
    while IFS= read -r line || [[ -n $line ]]; do
        [[ -z ${line//[[:space:]]/} || $line == \#* ]] && continue
        changes+=(--change "$line")
    done <"$src/changes"
    changes+=(--change "LABEL dermaga.source-hash=$hash")
    # Fixed owners, order and times: the same sources give the same layer.
    tar -C "$root" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 \
        -cf "$root.tar" .
    dm_log "importing image $ref"
    if ! pm import --quiet "${changes[@]}" "$root.tar" "$ref" >/dev/null; then
        rm -rf -- "$root" "$root.tar"
        dm_die "podman import of $ref failed"
    fi
    rm -rf -- "$root" "$root.tar"
    # The previous build of this tag, now untagged.
    pm image prune --force >/dev/null 2>&1 || true
}

cmd_image() {
    check_dir "${1:-}"
    shift
    require_tools
    [[ -d $DIR/storage ]] || dm_die "no private Podman in $DIR (run: podman.sh start $DIR)"
    local names=("$@") d bb
    if ((${#names[@]} == 0)); then
        for d in "$IMAGES_DIR"/*/; do
            [[ -f $d/changes ]] && names+=("$(basename "$d")")
        done
    fi
    ((${#names[@]})) || dm_die "no images under $IMAGES_DIR"
    bb=$(static_busybox)
    local name
    for name in "${names[@]}"; do
        [[ $name =~ ^[a-z0-9][a-z0-9._-]*$ ]] || dm_die "bad image name '$name'"
        build_image "$name" "$bb"
    done
}

main() {
    local cmd=${1:-help}
    shift || true
    case $cmd in
        init)    cmd_init "$@" ;;
        start)   cmd_start "$@" ;;
        stop)    cmd_stop "$@" ;;
        destroy) cmd_destroy "$@" ;;
        status)  cmd_status "$@" ;;
        socket)  cmd_socket "$@" ;;
        image)   cmd_image "$@" ;;
        cli)     cmd_cli "$@" ;;
        help|-h|--help) usage ;;
        *)       usage >&2; exit 2 ;;
    esac
}

main "$@"
