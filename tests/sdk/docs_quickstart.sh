#!/usr/bin/env bash
# docs_quickstart.sh BUILD_DIR — runs the quick start of docs/plugins.md as
# written. Every ```sh block that follows a `<!-- quickstart -->` line is
# extracted, in document order, and run in one bash (set -euo pipefail)
# with the variables the doc uses:
#   BUILD   the Dermaga build folder (BUILD_DIR, already built)
#   PREFIX  an empty folder to install into
#   WORK    an empty folder to work in (also the current directory)
# Fails when a block fails, or when the quick start lost one of its steps
# (install, template copy, CMake build, pkg-config build, plugin-check,
# config with plugins.dirs and plugins.enabled, `dermaga plugins`).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
doc=$here/../../docs/plugins.md   # the doc of the tree this test is in
build=$(cd "$1" && pwd)
tmp=$(mktemp -d "${DERMAGA_TEST_TMPDIR:-/tmp}/sdk-quickstart.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -f "$doc" ] || fail "no $doc"

# The marked blocks, each preceded by a line naming it.
awk -v marker=quickstart -f "$here/../support/doc_blocks.awk" "$doc" >"$tmp/blocks.sh"
n=$(grep -c '^echo "## quickstart block' "$tmp/blocks.sh" || true)
[ "$n" -ge 5 ] || fail "docs/plugins.md has $n quickstart blocks, expected at least 5"
for step in 'cmake --install' 'sdk-templates/' 'find_package\|CMAKE_PREFIX_PATH' 'pkg-config' \
            'plugin-check' '"dirs"' '"enabled"' 'bin/dermaga" plugins'; do
  grep -q -- "$step" "$tmp/blocks.sh" || fail "the quick start no longer runs: $step"
done

mkdir -p "$tmp/prefix" "$tmp/work"
{
  echo 'set -euo pipefail'
  echo 'set -x'
  cat "$tmp/blocks.sh"
} >"$tmp/run.sh"
# A clean environment for what the doc sets itself, and the usual umask
# (the plugin folders must not be group-writable).
if ! (cd "$tmp/work" && umask 022 &&
      env -u DERMAGA_CONFIG -u DERMAGA_PLUGINS_DIR -u DERMAGA_PLUGINS_DIRS -u PKG_CONFIG_PATH \
          BUILD="$build" PREFIX="$tmp/prefix" WORK="$tmp/work" \
          timeout 240 bash "$tmp/run.sh") >"$tmp/out.log" 2>&1; then
  cat "$tmp/out.log"
  fail "a command of the quick start failed (the last '## quickstart block' above names its block)"
fi
echo "PASS: $n quickstart blocks of docs/plugins.md ran"
