#!/usr/bin/env bash
# The editor extension's CI: everything its tests need, then every test, failing on the first error.
#
#   editor-extension/scripts/ci.sh
#
# On a fresh Debian 12 machine as root with network to the package registries. It expects the repo's
# Python venv at ../.venv with connector-watch installed (the repo's .ci/run creates it first).
#
#   1. apt: chromium (the browser tests) and the headers code-server's native modules build against
#   2. in the background, once apt is done: Node 24 and code-server 4.139.1 from the npm registry
#      into test/e2e/tools/*/node_modules (kept between runs: the slowest step); why this route, see
#      "A real VS Code, headless" in editor-extension/README.md
#   3. npm ci for the extension (skipped while node_modules matches package-lock.json)
#   4. build (types generated from daemon/protocol.schema.json, checked fresh), unit tests,
#      integration tests against a real `connector-watch serve`, the .vsix
#   5. the daemon's panel in headless Chromium, then the code-server end-to-end test
#
# Logs of the background installs and screenshots land in ../artifacts/. Environment:
#   CW_SKIP_APT=1   do not run apt-get (the packages are known to be there)
#   CW_SKIP_E2E=1   stop after the browser panel test (no code-server)
set -euo pipefail
set -m # every background job gets its own process group, so cleanup stops its children too

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
ARTIFACTS="$REPO/artifacts"
LOGS="$ARTIFACTS/ci-logs"
TOOLS="$HERE/test/e2e/tools"
mkdir -p "$LOGS"
cd "$HERE"

START=$SECONDS
step() { echo; echo "=== [ci.sh +$((SECONDS - START))s] $*"; }
fail() { echo "ci.sh: $*" >&2; exit 1; }
timed() { local t=$SECONDS; "$@"; echo "    ($((SECONDS - t)) s)"; }

# Background jobs: remember their PIDs, stop them if we exit early (a failing test, Ctrl-C).
BACKGROUND=()
cleanup() {
  local pid
  for pid in "${BACKGROUND[@]}"; do
    kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT
# Wait for one background job; on failure show its log.
await() {
  local pid=$1 name=$2 log=$3
  if ! wait "$pid"; then
    echo "--- last lines of $log:" >&2
    tail -n 60 "$log" >&2 || true
    fail "$name failed (full log: $log)"
  fi
}

# ------------------------------------------------------------------------------ prerequisites
step "prerequisites"
command -v node >/dev/null || fail "node is not installed (Node 20 or newer: the repo's .ci/run installs it)"
command -v npm >/dev/null || fail "npm is not installed"
NODE_MAJOR="$(node -p 'process.versions.node.split(".")[0]')"
[ "$NODE_MAJOR" -ge 20 ] || fail "Node $NODE_MAJOR is too old: the extension's tooling needs Node 20 or newer (the repo's .ci/run installs one)"
export CONNECTOR_WATCH="${CONNECTOR_WATCH:-$REPO/.venv/bin/connector-watch}"
[ -x "$CONNECTOR_WATCH" ] || fail "no connector-watch at $CONNECTOR_WATCH: create the repo's venv first (make install)"
echo "node $(node --version), npm $(npm --version), $CONNECTOR_WATCH"

# ------------------------------------------------------------------------------ 1. apt (background)
APT_PACKAGES=(chromium libxkbfile-dev libsecret-1-dev libkrb5-dev build-essential python3)
apt_install() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then echo "apt: all present"; return 0; fi
  echo "apt: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
}
rm -f "$LOGS/.apt-done" "$LOGS/.apt-failed"
if [ "${CW_SKIP_APT:-0}" = 1 ]; then
  APT_PID=""
  touch "$LOGS/.apt-done"
else
  step "apt (background): ${APT_PACKAGES[*]}"
  { if apt_install; then touch "$LOGS/.apt-done"; else touch "$LOGS/.apt-failed"; exit 1; fi; } >"$LOGS/apt.log" 2>&1 &
  APT_PID=$!
  BACKGROUND+=("$APT_PID")
fi

# npm ci, skipped while node_modules carries a stamp of package-lock.json's hash (a warm checkout).
npm_ci_cached() {
  local dir=$1 stamp hash
  stamp="$dir/node_modules/.ci-stamp"
  hash="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)-node$(node --version)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$hash" ]; then
    echo "$dir: node_modules matches package-lock.json (cached)"
    return 0
  fi
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$hash" >"$stamp"
}
# ------------------------------------------------------------------------------ 2. code-server (background)
install_code_server() {
  set -euo pipefail
  # Node 24 first: code-server 4.139 runs on it, and its native modules build for the node on PATH.
  npm_ci_cached "$TOOLS/node24"
  export PATH="$TOOLS/node24/node_modules/.bin:$PATH"
  # Build against Node 24's own headers (the registry's node package ships them), not whatever
  # npm's nodedir says (Debian's npm points node-gyp at /usr: Node 20's) and without downloading any.
  local headers="" candidate
  for candidate in "$TOOLS"/node24/node_modules/node/node_modules/*/; do
    [ -f "$candidate/include/node/node.h" ] && headers="${candidate%/}"
  done
  [ -n "$headers" ] || { echo "no Node 24 headers under $TOOLS/node24"; return 1; }
  export npm_config_nodedir="$headers"
  echo "building code-server's native modules with node $(node --version), headers in $npm_config_nodedir"
  local stamp="$TOOLS/code-server/node_modules/.ci-stamp"
  local hash
  hash="$(sha256sum "$TOOLS/code-server/package-lock.json" | cut -d' ' -f1)-node$(node --version)-own-headers"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$hash" ] && [ -x "$TOOLS/code-server/node_modules/.bin/code-server" ]; then
    echo "code-server: cached"
  else
    (cd "$TOOLS/code-server" && npm_config_unsafe_perm=true npm ci --no-audit --no-fund --foreground-scripts --loglevel=error)
    echo "$hash" >"$stamp"
  fi
  "$TOOLS/code-server/node_modules/.bin/code-server" --version
}
if [ "${CW_SKIP_E2E:-0}" != 1 ]; then
  step "code-server (background, after apt): Node 24 + code-server 4.139.1"
  (
    # Its native modules compile against the apt headers: wait for apt (a marker file, not a PID).
    while [ ! -e "$LOGS/.apt-done" ]; do
      [ ! -e "$LOGS/.apt-failed" ] || { echo "apt failed: see apt.log"; exit 1; }
      sleep 1
    done
    echo "$(date +%T) apt done; installing"
    install_code_server
    echo "$(date +%T) done"
  ) >"$LOGS/code-server.log" 2>&1 &
  CS_PID=$!
  BACKGROUND+=("$CS_PID")
fi

# ------------------------------------------------------------------------------ 3. npm ci (extension)
step "npm ci (extension)"
timed npm_ci_cached "$HERE"

# ------------------------------------------------------------------------------ 4. build, unit, integration, package
step "build (generated protocol types must be fresh)"
timed npm run --silent gen:check
timed npm run --silent build
step "unit tests"
timed node --test --test-reporter=spec out/test/unit/*.test.js
step "integration tests (real connector-watch serve)"
timed node --test --test-reporter=spec out/test/integration/*.test.js
step "package the .vsix"
timed npm run --silent package:vsix
ls -l "$HERE/connector-watch.vsix"

# ------------------------------------------------------------------------------ 5. browsers
if [ -n "${APT_PID:-}" ]; then
  step "waiting for apt"
  await "$APT_PID" "apt-get install" "$LOGS/apt.log"
fi
command -v chromium >/dev/null || fail "chromium is not installed (apt-get install chromium)"
step "the daemon's panel in headless Chromium"
timed node --test --test-reporter=spec test/browser/*.test.mjs

if [ "${CW_SKIP_E2E:-0}" != 1 ]; then
  step "waiting for code-server"
  await "$CS_PID" "the code-server install" "$LOGS/code-server.log"
  tail -n 3 "$LOGS/code-server.log"
  step "end to end: the .vsix in code-server, driven by Chromium"
  timed node --test --test-reporter=spec test/e2e/*.test.mjs
fi

step "all green in $((SECONDS - START)) s; screenshots in $ARTIFACTS"
