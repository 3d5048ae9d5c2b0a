#!/usr/bin/env bash
# bench/slow_conns.sh — memory held by slow clients, and given back: builds
# Release (build-bench, as bench/lib.sh does) and runs bench/slow_conns.py,
# which starts the server without a database, opens CONNS connections that
# each send a partial request, closes them and reports RSS before / peak /
# after. Fails when RSS after is more than 10 MiB above before. Figures go
# into bench/RESULTS.md by hand.
#
#   ./bench/slow_conns.sh            CONNS=1000 HEADER_BYTES=12000 by default
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$ROOT/build-bench
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DDERMAGA_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target dermaga >/dev/null
exec python3 "$ROOT/bench/slow_conns.py" "$BUILD/dermaga" --conns "${CONNS:-1000}" \
    --header-bytes "${HEADER_BYTES:-12000}"
