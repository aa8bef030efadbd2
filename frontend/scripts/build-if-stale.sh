#!/usr/bin/env bash
# Build the dashboard (frontend/dist) when it is missing or older than its sources, if
# Node.js 20+ is installed. Never fails the caller: without Node the API runs alone.
set -uo pipefail
frontend=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dist="$frontend/dist"

how_to() {
  echo "Dashboard: $1. The API runs without it; to get the dashboard at /app, install"
  echo "  Node.js 20+ (https://nodejs.org) and run ./start.sh again, or build it once:"
  echo "  cd frontend && npm ci && npm run build"
}

stale() {
  [ -f "$dist/index.html" ] || return 0
  # Any source newer than the build's index.html means a rebuild.
  [ -n "$(find "$frontend/src" "$frontend/public" "$frontend/index.html" \
    "$frontend/package-lock.json" "$frontend/vite.config.ts" \
    -newer "$dist/index.html" -print -quit 2>/dev/null)" ]
}

if ! stale; then
  exit 0
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  if [ -f "$dist/index.html" ]; then
    echo "Dashboard: the build is older than its sources, but Node.js is missing; serving it as it is"
  else
    how_to "frontend/dist is missing and Node.js is not installed"
  fi
  exit 0
fi
major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 20 ]; then
  how_to "Node.js $(node -v) is too old (20+ needed)"
  exit 0
fi

echo "Building the dashboard (frontend/dist)"
cd "$frontend" || exit 0
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error || { how_to "npm ci failed"; exit 0; }
fi
npm run build --silent || how_to "the build failed"
exit 0
