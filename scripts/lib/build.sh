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
