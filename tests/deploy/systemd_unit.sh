#!/usr/bin/env bash
# systemd_unit.sh BUILD_DIR — deploy/systemd/dermaga.service as systemd
# reads it: `systemd-analyze verify` on a copy whose ExecStart names the
# built binary (verify insists the program exists) must print nothing at
# all (an unknown or misspelt key is only a warning there, exit status 0),
# the hardening the operator guide promises must be in it, and its
# ExecStartPost readiness probe, unescaped as systemd runs it, must wait
# through 503s until /readyz answers 200 on DERMAGA_PORT.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
unit=$here/../../deploy/systemd/dermaga.service
build=$(cd "$1" && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v systemd-analyze >/dev/null || fail "systemd-analyze is not installed (Debian package systemd)"
work=$(mktemp -d "${DERMAGA_TEST_TMPDIR:-/tmp}/systemd-unit.XXXXXX")
srv=""
trap '[ -z "$srv" ] || kill "$srv" 2>/dev/null || true; rm -rf "$work"' EXIT

grep -q '^ExecStart=/usr/local/bin/dermaga serve ' "$unit" || fail "ExecStart is not /usr/local/bin/dermaga serve"
sed "s|^ExecStart=/usr/local/bin/dermaga |ExecStart=$build/dermaga |" "$unit" >"$work/dermaga.service"
systemd-analyze verify "$work/dermaga.service" >"$work/verify.log" 2>&1 ||
  { cat "$work/verify.log"; fail "systemd-analyze verify exited non-zero"; }
[ ! -s "$work/verify.log" ] || { cat "$work/verify.log"; fail "systemd-analyze verify printed warnings"; }

for line in 'Type=simple' 'User=dermaga' 'EnvironmentFile=-/etc/dermaga/dermaga.env' \
            'NoNewPrivileges=yes' 'ProtectSystem=strict' 'ReadWritePaths=/var/lib/dermaga' \
            'ProtectHome=yes' 'PrivateTmp=yes' 'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' \
            'CapabilityBoundingSet=' 'StateDirectory=dermaga'; do
  grep -qxF "$line" "$unit" || fail "the unit lacks $line"
done

# The probe: systemd turns $$ into $ and runs the rest with /bin/sh.
probe=$(sed -n 's/^ExecStartPost=\/bin\/sh -c //p' "$unit")
[ -n "$probe" ] || fail "no ExecStartPost=/bin/sh -c probe"
probe=${probe#\'}; probe=${probe%\'}; probe=${probe//\$\$/\$}
port=$("$here/../../scripts/pg.sh" freeport)
# A stand-in server: /readyz answers 503 twice, then 200.
cat >"$work/ready.mjs" <<'JS'
import http from 'node:http';
let n = 0;
http.createServer((req, res) => {
  if (req.url !== '/readyz') { res.writeHead(404); res.end(); return; }
  n += 1;
  res.writeHead(n > 2 ? 200 : 503); res.end(String(n));
}).listen(Number(process.argv[2]), '127.0.0.1', () => console.log('LISTENING'));
JS
node "$work/ready.mjs" "$port" >"$work/srv.out" 2>&1 &
srv=$!
for _ in $(seq 100); do grep -q LISTENING "$work/srv.out" && break; sleep 0.1; done
grep -q LISTENING "$work/srv.out" || fail "the stand-in did not start: $(cat "$work/srv.out")"
DERMAGA_PORT=$port timeout 30 /bin/sh -c "$probe" || fail "the readiness probe did not see /readyz 200"
echo "PASS: systemd-analyze verify is silent, the hardening is in place, the probe waits for /readyz"
