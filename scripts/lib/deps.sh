# scripts/lib/deps.sh — the one list of Debian 12 packages Dermaga needs to
# build, test and run, and dm_deps_ensure, which installs only the missing ones.
# Sourced by run.sh and test.sh after common.sh.
# shellcheck shell=bash

# Build: compiler, cmake, pkg-config and the libraries CMakeLists.txt links.
# Test: check (the C test framework) and postgresql (a private cluster).
# auth-local: libargon2-dev (argon2id) and libcrypt-dev (legacy bcrypt).
# Bench: wrk. curl is for the first commands the README and run.sh suggest
# (and scripts/podman.sh's readiness check).
# Containers (scripts/podman.sh, docs/containers.md): podman with runc (crun
# fails on these hosts' cgroups), and busybox-static for the locally built
# images (no registry is reachable).
DM_DEBIAN_PACKAGES=(
    build-essential cmake pkg-config
    libuv1-dev node-llhttp libpq-dev libjansson-dev libcurl4-openssl-dev
    libssl-dev libjwt-dev libyaml-dev
    libargon2-dev libcrypt-dev
    check postgresql
    wrk curl
    podman runc busybox-static
)

# Test only (test.sh, not run.sh): Debian's Chromium and ChromeDriver for the
# log page's browser tests (tests/node/, driven by playwright-core, which never
# downloads a browser of its own). Node.js and npm are not Debian packages
# here: scripts/lib/npm.sh checks for them. openssl (the command) makes the
# fake Kubernetes API server's throwaway CA (tests/fakes/k8s/gen-certs.sh).
# jq reads the API's JSON in the shell tests (tests/deploy/); systemd brings
# systemd-analyze, which checks deploy/systemd/dermaga.service; shellcheck
# checks the scripts (tests/deploy/run_sh.sh); python3-prometheus-client is
# the reference parser that e2e/test_metrics runs over /metrics
# (tests/e2e/metrics_parse.py).
DM_DEBIAN_TEST_PACKAGES=(chromium chromium-driver openssl jq systemd shellcheck python3-prometheus-client)

# Print the packages named as arguments that are not installed, one a line.
dm_deps_missing() {
    local pkg
    for pkg in "$@"; do
        if [[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null) != ii* ]]; then
            printf '%s\n' "$pkg"
        fi
    done
}

# dm_deps_ensure [test]: install whatever of DM_DEBIAN_PACKAGES (and, with
# `test`, DM_DEBIAN_TEST_PACKAGES) is missing with apt-get (one `apt-get
# update` first, and only when something is missing). DERMAGA_SKIP_DEPS=1
# skips the check entirely.
dm_deps_ensure() {
    local wanted=("${DM_DEBIAN_PACKAGES[@]}")
    [[ ${1:-} != test ]] || wanted+=("${DM_DEBIAN_TEST_PACKAGES[@]}")
    if [[ ${DERMAGA_SKIP_DEPS:-0} == 1 ]]; then
        dm_log "skipping the package check (DERMAGA_SKIP_DEPS=1)"
        return 0
    fi
    if ! command -v dpkg-query >/dev/null 2>&1; then
        dm_warn "dpkg-query not found: not a Debian system, so the packages cannot be checked; continuing"
        return 0
    fi
    local missing
    missing=$(dm_deps_missing "${wanted[@]}")
    if [[ -z $missing ]]; then
        dm_log "all ${#wanted[@]} Debian packages are installed"
        return 0
    fi
    # shellcheck disable=SC2086 # one package a word, on purpose
    set -- $missing
    if [[ $(id -u) -ne 0 ]]; then
        dm_die "missing Debian packages: $*; install them as root: apt-get install $*"
    fi
    dm_log "installing missing Debian packages: $*"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q || dm_die "apt-get update failed"
    apt-get install -y -q --no-install-recommends "$@" </dev/null ||
        dm_die "apt-get install $* failed"
    missing=$(dm_deps_missing "${wanted[@]}")
    [[ -z $missing ]] || dm_die "still missing after apt-get install: $(tr '\n' ' ' <<<"$missing")"
}
