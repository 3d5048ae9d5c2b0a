# scripts/lib/npm.sh — npm packages from committed package-lock.json files:
# web/ (the socket.io-client build Dermaga serves to browsers) for run.sh
# and test.sh, tests/node/ (playwright-core, socket.io-client, the
# stand-in's socket.io), tests/fakes/k8s/ (kubernetes-models, yaml: the
# fake Kubernetes API server) and tests/openapi/ (@redocly/cli, the OpenAPI
# linter) for test.sh. node_modules/ is never committed.
# Sourced after common.sh.
# shellcheck shell=bash

# dm_npm_ensure DIR: make DIR/node_modules match DIR/package-lock.json,
# running `npm ci` only when node_modules is missing or was installed from
# another lock (or another Node.js major). Install scripts are not run (none
# of these packages needs one). Returns non-zero with a message on stderr
# when Node.js or npm is missing, the lock is missing, or npm fails;
# DERMAGA_SKIP_NPM=1 skips the whole check.
dm_npm_ensure() {
    local dir=$1
    if [[ ${DERMAGA_SKIP_NPM:-0} == 1 ]]; then
        dm_log "skipping npm in $dir (DERMAGA_SKIP_NPM=1)"
        return 0
    fi
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        dm_warn "Node.js and npm are needed for $dir (found: node $(command -v node || echo missing), npm $(command -v npm || echo missing)); install Node.js 20 with npm"
        return 1
    fi
    if [[ ! -f $dir/package-lock.json ]]; then
        dm_warn "$dir/package-lock.json is missing: it is committed with package.json (make it with 'npm install --package-lock-only')"
        return 1
    fi
    # What the install was made from: the lock, package.json and Node's major.
    local want have="" stamp=$dir/node_modules/.dermaga-npm-stamp
    want="$(cat "$dir/package-lock.json" "$dir/package.json" | sha256sum | cut -c1-64) node-$(node -p 'process.versions.node.split(".")[0]')"
    [[ -f $stamp ]] && have=$(cat "$stamp")
    if [[ $have == "$want" ]]; then
        dm_log "npm packages in $dir are up to date"
        return 0
    fi
    dm_log "installing npm packages in $dir from its package-lock.json (npm ci)"
    local t=$SECONDS
    if ! (cd "$dir" && npm ci --include=dev --ignore-scripts --no-audit --no-fund --loglevel=error </dev/null); then
        dm_warn "'npm ci' in $dir failed (see above); is the npm registry reachable? (npm config get registry: $(npm config get registry 2>/dev/null))"
        return 1
    fi
    printf '%s\n' "$want" >"$stamp"
    dm_log "npm packages installed in $dir in $((SECONDS - t))s"
}
