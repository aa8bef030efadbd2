#!/usr/bin/env bash
# Create (once) the virtualenv at the repo root and install pinned requirements.
# Usage: source backend/scripts/bootstrap.sh [requirements-file]
# (default requirements-training.txt: the runtime plus the training extras the embedded
# default's worker retrains per-user models with; requirements.txt alone for an API host)
set -euo pipefail
_repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
_requirements=${1:-requirements-training.txt}
VENV_DIR=${VENV_DIR:-"$_repo_root/.venv"}

_find_python() {
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  echo "error: Python 3.11 or newer is required (set PYTHON=/path/to/python3.11)" >&2
  return 1
}

if [ ! -x "$VENV_DIR/bin/python" ]; then
  _python=$(_find_python)
  echo "Creating virtualenv in $VENV_DIR with $_python"
  "$_python" -m venv "$VENV_DIR"
  "$VENV_DIR/bin/python" -m pip install --quiet --upgrade pip
fi

_stamp="$VENV_DIR/.installed-$(basename "$_requirements")"
_digest=$(cat "$_repo_root/backend/requirements"*.txt | sha256sum | cut -d' ' -f1)
if [ ! -f "$_stamp" ] || [ "$(cat "$_stamp")" != "$_digest" ]; then
  echo "Installing $(basename "$_requirements") into $VENV_DIR"
  "$VENV_DIR/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "$_repo_root/backend/$_requirements"
  echo "$_digest" >"$_stamp"
fi
# The package itself, editable: installs the operator's `triage` command into the venv.
if [ ! -x "$VENV_DIR/bin/triage" ]; then
  "$VENV_DIR/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
    -e "$_repo_root/backend" >/dev/null 2>&1 ||
    echo "note: could not install the triage command; use: python -m app.cli" >&2
fi
export PATH="$VENV_DIR/bin:$PATH"
