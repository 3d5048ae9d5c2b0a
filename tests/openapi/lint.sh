#!/usr/bin/env bash
# tests/openapi/lint.sh — docs/openapi.yaml against Redocly's recommended
# rules (tests/openapi/redocly.yaml), with the linter installed by `npm ci`
# from tests/openapi/package-lock.json (scripts/test.sh does that). Any error
# or warning fails the test; the linter's own report says which rule and where.
set -euo pipefail
HERE="$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"
ROOT="$(readlink -f "$HERE/../..")"
REDOCLY=$HERE/node_modules/.bin/redocly
if [[ ! -x $REDOCLY ]]; then
    echo "lint.sh: $REDOCLY is missing: run 'npm ci --ignore-scripts' in $HERE (scripts/test.sh does)" >&2
    exit 1
fi
# No telemetry and no update check: the test machine may have no internet.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_UPDATE_NOTIFIER=1
cd "$ROOT"
report=$(mktemp)
trap 'rm -f "$report"' EXIT
rc=0
"$REDOCLY" lint --config "$HERE/redocly.yaml" --format=json docs/openapi.yaml >"$report" 2>/dev/null || rc=$?
counts=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
t = d.get("totals", {})
print(t.get("errors", -1), t.get("warnings", -1))
' "$report") || { echo "lint.sh: the linter gave no JSON report (exit $rc)" >&2; exit 1; }
read -r errors warnings <<<"$counts"
if [[ $errors != 0 || $warnings != 0 || $rc != 0 ]]; then
    echo "docs/openapi.yaml: $errors errors, $warnings warnings under Redocly's recommended rules (exit $rc):" >&2
    "$REDOCLY" lint --config "$HERE/redocly.yaml" --format=codeframe docs/openapi.yaml >&2 || true
    exit 1
fi
echo "docs/openapi.yaml passes Redocly's recommended rules (0 errors, 0 warnings)"
