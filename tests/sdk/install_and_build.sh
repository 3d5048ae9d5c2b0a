#!/usr/bin/env bash
# install_and_build.sh BUILD_DIR — the SDK as an integrator gets it:
#  1. `cmake --install` of the build into a fresh prefix lays out the server,
#     the bundled plugins, what the server reads at run time, the headers
#     (with the build signature), dermaga-sdk.pc, the DermagaSDK CMake
#     package and the templates;
#  2. the installed server, moved to another folder, finds its migrations
#     and catalog relative to itself (migrate and seed a fresh database;
#     when DERMAGA_TEST_DATABASE_URL is set) and its bundled plugins;
#  3. every template under share/dermaga/sdk-templates builds UNCHANGED out
#     of tree with find_package(DermagaSDK), one also with pkg-config alone,
#     the installed server would load each, and each passes the installed
#     `dermaga plugin-check` (the payment one against its gateway-sim.mjs).
# Exits non-zero naming the first thing that is wrong.
set -euo pipefail
build=$(cd "$1" && pwd)
work=$(mktemp -d "${DERMAGA_TEST_TMPDIR:-/tmp}/sdk-install.XXXXXX")
db=""
cleanup() {
  if [ -n "$db" ]; then psql -q "$DERMAGA_TEST_DATABASE_URL" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
echo '{}' >"$work/empty.json"
fail() { echo "FAIL: $*" >&2; exit 1; }

# ---- 1. the layout ------------------------------------------------------------
cmake --install "$build" --prefix "$work/first" >"$work/install.log" || { cat "$work/install.log"; fail "cmake --install"; }
# Installed elsewhere than where it was installed to: nothing may depend on
# the prefix given at install time.
mv "$work/first" "$work/prefix"
p=$work/prefix
for f in bin/dermaga lib/dermaga/plugins/auth-local.so lib/dermaga/plugins/payment-manual.so \
         lib/dermaga/plugins/runtime-docker.so lib/dermaga/plugins/service-template.so \
         include/dermaga/plugin.h include/dermaga/runtime.h include/dermaga/build_signature.h \
         lib/pkgconfig/dermaga-sdk.pc lib/cmake/DermagaSDK/DermagaSDKConfig.cmake \
         lib/cmake/DermagaSDK/DermagaSDKConfigVersion.cmake \
         share/dermaga/openapi.yaml share/dermaga/catalog.json share/dermaga/services/static-site.json \
         share/dermaga/web/test-logs.html \
         share/dermaga/sdk-templates/service/plugin.c share/dermaga/sdk-templates/runtime/plugin.c \
         share/dermaga/sdk-templates/auth/plugin.c share/dermaga/sdk-templates/payment/plugin.c \
         share/dermaga/sdk-templates/payment/gateway-sim.mjs; do
  [ -f "$p/$f" ] || fail "not installed: $f"
done
ls "$p"/share/dermaga/migrations/*.sql >/dev/null 2>&1 || fail "no migrations installed"
[ ! -e "$p/share/dermaga/web/node_modules/.package-lock.json" ] || fail "web/node_modules installed whole"
[ -z "$(ls "$p"/lib/dermaga/plugins | grep -E '^(tp_|variant|good_|example)' || true)" ] ||
  fail "a test fixture plugin was installed"
src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt")
for rel in migrations docs/openapi.yaml config/catalog.json web; do
  ! grep -qF "$src/$rel" "$p/bin/dermaga" || fail "the binary holds the source path $src/$rel"
done

host_sig=$("$p/bin/dermaga" plugins --config "$work/empty.json" 2>/dev/null | sed -n 's/.*DM_BUILD_SIGNATURE_STR="\([^"]*\)".*/\1/p' | head -1)
[ -n "$host_sig" ] || fail "dermaga plugins printed no build signature"
pc_sig=$(PKG_CONFIG_PATH=$p/lib/pkgconfig pkg-config --variable=build_signature dermaga-sdk)
[ "$pc_sig" = "$host_sig" ] || fail "dermaga-sdk.pc says $pc_sig, the host $host_sig"

# ---- 2. the installed server finds its files relative to itself --------------
cd "$work"
"$p/bin/dermaga" plugins --config "$work/empty.json" >"$work/bundled.txt" 2>&1 || true
grep -qF "$p/bin/../lib/dermaga/plugins/payment-manual.so" "$work/bundled.txt" ||
  fail "the installed server did not look in its lib/dermaga/plugins: $(head -3 "$work/bundled.txt")"
if [ -n "${DERMAGA_TEST_DATABASE_URL:-}" ]; then
  db="sdk_install_$$"
  psql -q "$DERMAGA_TEST_DATABASE_URL" -c "CREATE DATABASE $db" >/dev/null
  url="${DERMAGA_TEST_DATABASE_URL%/*}/$db"
  DERMAGA_DATABASE_URL=$url "$p/bin/dermaga" migrate --config "$work/empty.json" >"$work/migrate.log" 2>&1 ||
    { cat "$work/migrate.log"; fail "installed dermaga migrate"; }
  # seed checks each service's plugin: service-template, reading the
  # installed templates.
  echo "{\"plugins\": {\"enabled\": [{\"name\": \"service-template\", \"config\": {\"dir\": \"$p/share/dermaga/services\"}}]}}" >"$work/seed.json"
  DERMAGA_DATABASE_URL=$url "$p/bin/dermaga" seed --config "$work/seed.json" >"$work/seed.log" 2>&1 ||
    { cat "$work/seed.log"; fail "installed dermaga seed"; }
  n=$(psql -qtA "$url" -c "SELECT count(*) FROM services")
  [ "$n" -gt 0 ] || fail "seed from the installed catalog made no service"
fi

# ---- 3. the templates, unchanged, out of tree ---------------------------------
mkdir -p "$work/plugins"
for kind in service runtime auth payment; do
  cp -r "$p/share/dermaga/sdk-templates/$kind" "$work/$kind"
  cmake -S "$work/$kind" -B "$work/$kind/build" -DCMAKE_PREFIX_PATH="$p" -DPLUGIN_NAME="$kind-mine" \
        >"$work/$kind.log" 2>&1 || { cat "$work/$kind.log"; fail "configure the $kind template"; }
  cmake --build "$work/$kind/build" >>"$work/$kind.log" 2>&1 || { cat "$work/$kind.log"; fail "build the $kind template"; }
  cp "$work/$kind/build/$kind-mine.so" "$work/plugins/"
done
# pkg-config alone, no CMake
PKG_CONFIG_PATH=$p/lib/pkgconfig
export PKG_CONFIG_PATH
# shellcheck disable=SC2046
cc -shared -fPIC -Wall -Wextra -Werror -Wno-unused-parameter $(pkg-config --cflags dermaga-sdk) \
   -DPLUGIN_NAME='"service-pc"' "$work/service/plugin.c" -o "$work/plugins/service-pc.so" \
   $(pkg-config --libs dermaga-sdk) || fail "build the service template with pkg-config"

node "$work/payment/gateway-sim.mjs" --port 0 >"$work/sim.out" 2>&1 &
sim=$!
trap 'kill $sim 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 50); do grep -q LISTENING "$work/sim.out" && break; sleep 0.1; done
sim_url="http://127.0.0.1:$(sed -n 's/^LISTENING //p' "$work/sim.out")"
[ "$sim_url" != "http://127.0.0.1:" ] || fail "gateway-sim.mjs did not start: $(cat "$work/sim.out")"
pay_cfg="{\"base_url\": \"$sim_url\", \"api_key\": \"sim-api-key\", \"webhook_secret\": \"sim-webhook-secret\"}"
cat >"$work/config.json" <<EOF
{"plugins": {"dir": "$work/plugins", "enabled": [
  {"name": "service-mine", "config": {"image": "nginx:alpine"}},
  {"name": "service-pc", "config": {}},
  {"name": "runtime-mine", "config": {}},
  {"name": "auth-mine", "config": {"keys": {"bot": "s3cret"}}},
  {"name": "payment-mine", "config": $pay_cfg}]}}
EOF
"$p/bin/dermaga" plugins --config "$work/config.json" >"$work/load.txt" 2>&1 || true
for name in service-mine service-pc runtime-mine auth-mine payment-mine; do
  verdict=$(grep -A2 "^$work/plugins/$name.so" "$work/load.txt" | sed -n 3p)
  [ "$verdict" = "  would load" ] || { cat "$work/load.txt"; fail "the installed server would not load $name"; }
done
# ---- 4. each template passes the installed conformance kit -------------------
echo "$pay_cfg" >"$work/pay.json"
echo '{"keys": {"bot": "s3cret"}}' >"$work/auth.json"
kit() {
  local name=$1; shift
  "$p/bin/dermaga" plugin-check "$work/plugins/$name.so" "$@" >"$work/kit-$name.txt" 2>&1 ||
    { cat "$work/kit-$name.txt"; fail "plugin-check $name"; }
  grep -q '^PASS: ' "$work/kit-$name.txt" || { cat "$work/kit-$name.txt"; fail "plugin-check $name: no PASS summary"; }
}
kit service-mine
kit runtime-mine --wait 5
kit auth-mine --config "$work/auth.json" --identity bot --secret s3cret
kit payment-mine --config "$work/pay.json" --against "$sim_url"
grep -q '^PASS payment signed notification mapped' "$work/kit-payment-mine.txt" ||
  { cat "$work/kit-payment-mine.txt"; fail "the payment template's notifications were not checked"; }

echo "PASS: installed layout, relocated server, 4 templates with find_package (each through plugin-check), 1 with pkg-config"
