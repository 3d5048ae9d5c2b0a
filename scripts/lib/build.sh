# scripts/lib/build.sh — configure and build Dermaga with CMake into a given
# directory. Sourced by run.sh (Release into ./build) and test.sh (Debug with
# sanitizers into ./build-test) after common.sh.
# shellcheck shell=bash

# dm_build BUILD_DIR BUILD_TYPE [extra cmake -D options...]
# Configures (again, cheaply, if already configured, so changed options apply)
# and builds every target with one job per CPU.
dm_build() {
    local dir=$1 type=$2
    shift 2
    dm_log "configuring $type build in $dir"
    cmake -S "$DM_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE="$type" "$@" ||
        dm_die "cmake configure failed (see its output above)"
    dm_log "building with $(dm_jobs) jobs"
    cmake --build "$dir" -j "$(dm_jobs)" || dm_die "build failed (see the compiler output above)"
}

# What a build of Dermaga is made from: the top CMakeLists.txt and
# everything (files and folders, so an added or removed file counts) under
# core/, plugins/, sdk/ and cmake/. Print the first path newer than $1.
dm_build_newer_source() {
    local ref=$1
    find "$DM_ROOT/CMakeLists.txt" "$DM_ROOT/core" "$DM_ROOT/plugins" "$DM_ROOT/sdk" "$DM_ROOT/cmake" \
        -newer "$ref" -print -quit 2>/dev/null
}

# dm_build_if_changed BUILD_DIR BUILD_TYPE [extra cmake -D options...]
# dm_build, but only when something it is made from changed since the last
# successful one (a stamp in BUILD_DIR records it and the options), the
# binary is missing, or DERMAGA_REBUILD=1. run.sh starts in a second when
# nothing changed, instead of configuring and checking every target.
dm_build_if_changed() {
    local dir=$1 stamp=$1/.dermaga-build-stamp want newer
    want="$*"
    if [[ ${DERMAGA_REBUILD:-0} != 1 && -x $dir/dermaga && -f $stamp && $(cat "$stamp") == "$want" ]]; then
        newer=$(dm_build_newer_source "$stamp")
        if [[ -z $newer ]]; then
            dm_log "the build in $dir is up to date (no source newer than it; DERMAGA_REBUILD=1 forces one)"
            return 0
        fi
        dm_log "rebuilding: ${newer#"$DM_ROOT"/} changed since the last build"
    fi
    rm -f -- "$stamp"
    # The stamp is written before building: a source saved while the build
    # runs is newer than it, so the next start builds again.
    local next=$dir/.dermaga-build-stamp.next
    mkdir -p -- "$dir"
    printf '%s\n' "$want" >"$next"
    dm_build "$@"
    mv -- "$next" "$stamp"
}
