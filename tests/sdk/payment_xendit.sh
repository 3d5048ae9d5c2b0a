#!/usr/bin/env bash
# payment_xendit.sh BUILD_DIR TOPUP_TEST — examples/payment-xendit as an
# integrator builds it:
#  1. `cmake --install` of the build into a fresh prefix;
#  2. the example copied to a temp folder and built with its Makefile by
#     pkg-config against the INSTALLED SDK only (no source tree on the
#     include path), under -Werror (and with CMake); the installed server
#     would load it;
#  3. the installed `dermaga plugin-check` passes it against xendit-sim.mjs,
#     the signed-notification checks included;
#  4. TOPUP_TEST (tests/sdk/xendit_topup.c) runs the INSTALLED server with
#     the built plugin and tops a wallet up end to end through the
#     simulator's callback (needs DERMAGA_TEST_DATABASE_URL).
# Exits non-zero naming the first thing that is wrong.
set -euo pipefail
build=$(cd "$1" && pwd)
topup_test=$2
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${DERMAGA_TEST_TMPDIR:-/tmp}/xendit.XXXXXX")
sim=""
cleanup() {
  if [ -n "$sim" ]; then kill "$sim" 2>/dev/null || true; wait "$sim" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -n "${DERMAGA_TEST_DATABASE_URL:-}" ] || fail "DERMAGA_TEST_DATABASE_URL is not set; run through scripts/test.sh"

# ---- 1. the installed SDK -----------------------------------------------------
cmake --install "$build" --prefix "$work/prefix" >"$work/install.log" || { cat "$work/install.log"; fail "cmake --install"; }
p=$work/prefix
[ -f "$p/lib/pkgconfig/dermaga-sdk.pc" ] || fail "no dermaga-sdk.pc installed"

# ---- 2. the example, out of tree, with pkg-config -----------------------------
cp -r "$src/examples/payment-xendit" "$work/xendit"
rm -f "$work/xendit/payment-xendit.so"
chmod 700 "$work/xendit"
# Only the installed .pc: PKG_CONFIG_LIBDIR replaces the default search path
# for the SDK (jansson's .pc comes from the system folders, added back).
sys_pc=$(pkg-config --variable pc_path pkg-config)
( cd "$work/xendit" && PKG_CONFIG_PATH= PKG_CONFIG_LIBDIR="$p/lib/pkgconfig:$sys_pc" make ) >"$work/make.log" 2>&1 ||
  { cat "$work/make.log"; fail "make (pkg-config) of examples/payment-xendit"; }
so=$work/xendit/payment-xendit.so
[ -f "$so" ] || fail "the Makefile made no payment-xendit.so"
grep -q -- "-I$p/lib/pkgconfig/../../include" "$work/make.log" || grep -q -- "-I$p/include" "$work/make.log" ||
  { cat "$work/make.log"; fail "the build did not take its headers from the installed SDK"; }
! grep -qF -- "-I$src" "$work/make.log" || { cat "$work/make.log"; fail "the build used the source tree"; }
chmod 755 "$so"
# The CMake build of the same folder works too (find_package(DermagaSDK 1.5)).
cmake -S "$work/xendit" -B "$work/xendit-cmake" -DCMAKE_PREFIX_PATH="$p" >"$work/cmake.log" 2>&1 &&
  cmake --build "$work/xendit-cmake" >>"$work/cmake.log" 2>&1 || { cat "$work/cmake.log"; fail "CMake build of the example"; }
[ -f "$work/xendit-cmake/payment-xendit.so" ] || fail "the CMake build made no payment-xendit.so"
rm -rf "$work/xendit-cmake"

node "$work/xendit/xendit-sim.mjs" --port 0 --secret-key xnd_development_e2e_secret \
     --callback-token e2e-callback-token-of-the-account >"$work/sim.out" 2>&1 &
sim=$!
for _ in $(seq 100); do grep -q LISTENING "$work/sim.out" && break; sleep 0.1; done
sim_url="http://127.0.0.1:$(sed -n 's/^LISTENING //p' "$work/sim.out")"
[ "$sim_url" != "http://127.0.0.1:" ] || fail "xendit-sim.mjs did not start: $(cat "$work/sim.out")"

cfg="{\"secret_key\": \"xnd_development_e2e_secret\", \"callback_token\": \"e2e-callback-token-of-the-account\",
      \"api_base_url\": \"$sim_url\", \"timeout_ms\": 5000}"
echo "$cfg" >"$work/xendit.json"
echo "{\"plugins\": {\"dir\": \"$work/xendit\", \"enabled\": [{\"name\": \"payment-xendit\", \"config\": $cfg}]}}" \
  >"$work/load.json"
"$p/bin/dermaga" plugins --config "$work/load.json" >"$work/load.txt" 2>&1 || true
verdict=$(grep -A2 "^$so" "$work/load.txt" | sed -n 3p)
[ "$verdict" = "  would load" ] || { cat "$work/load.txt"; fail "the installed server would not load payment-xendit"; }
grep -q "callback_token" "$work/load.txt" || { cat "$work/load.txt"; fail "the config keys are not listed"; }
! grep -q "e2e-callback-token-of-the-account\|xnd_development_e2e_secret" "$work/load.txt" ||
  fail "dermaga plugins printed a secret"

# ---- 3. the installed conformance kit against the simulator -------------------
"$p/bin/dermaga" plugin-check "$so" --config "$work/xendit.json" --against "$sim_url" >"$work/kit.txt" 2>&1 ||
  { cat "$work/kit.txt"; fail "plugin-check payment-xendit"; }
for check in 'PASS: ' 'PASS payment create' 'PASS payment status of the new order' 'PASS payment cancel' \
             'PASS payment status after cancel' 'PASS payment forged notification refused' \
             'PASS payment signed notification mapped' 'PASS payment tampered notification refused' \
             'PASS payment unknown status handled'; do
  grep -q "^$check" "$work/kit.txt" || { cat "$work/kit.txt"; fail "plugin-check: no \"$check\""; }
done
! grep -q "e2e-callback-token-of-the-account\|xnd_development_e2e_secret" "$work/kit.txt" ||
  fail "plugin-check output holds a secret"

# ---- 4. a wallet top-up through the installed server --------------------------
DERMAGA_TEST_BIN=$p/bin/dermaga DERMAGA_TEST_PLUGIN_DIR=$p/lib/dermaga/plugins XENDIT_PLUGIN_DIR=$work/xendit \
  XENDIT_SIM_URL=$sim_url "$topup_test" || fail "the xendit top-up end to end"

echo "PASS: payment-xendit built with pkg-config against the installed SDK, plugin-check against xendit-sim.mjs, top-up end to end"
