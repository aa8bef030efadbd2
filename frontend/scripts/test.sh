#!/usr/bin/env bash
# The dashboard's checks: dependencies, lint, types, the generated client, component tests,
# then end-to-end tests in Debian's Chromium against the real service.
set -euo pipefail
frontend=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$frontend"
started=$(date +%s)

if ! command -v node >/dev/null 2>&1 || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "Node.js 20+ is required for the dashboard's tests" >&2
  exit 1
fi
if [ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing Debian's chromium for the end-to-end tests"
    apt-get install -y -q chromium >/dev/null || { apt-get update -q && apt-get install -y -q chromium >/dev/null; }
  else
    echo "Chromium is missing: apt-get install chromium (as root)" >&2
    exit 1
  fi
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "== npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

echo "== eslint, prettier"
npm run --silent lint
echo "== tsc"
npm run --silent typecheck
echo "== generated API client is current"
npm run --silent check:client
echo "== vitest"
npx vitest run --reporter=dot
echo "== build (types were checked above)"
# Into a folder of its own: frontend/dist is what running copies of start.sh serve (the
# backend's operations tests start some while this runs), and the end-to-end tests'
# start.sh builds it when it is stale.
build_check=$(mktemp -d)
npx vite build --logLevel warn --outDir "$build_check" --emptyOutDir
rm -rf "$build_check"
echo "== end-to-end (Chromium)"
node --test --test-reporter=spec tests/e2e/
echo "frontend checks passed in $(($(date +%s) - started)) s"
