#!/usr/bin/env bash
# The whole test suite: installs what it needs, lints, then runs pytest on PostgreSQL
# (TEST_DATABASE_URL, default the local `test` database) and every database-facing test
# not marked postgres_only again on SQLite. Extra arguments go to both pytest runs.
set -euo pipefail
backend=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bootstrap.sh
source "$backend/scripts/bootstrap.sh" requirements-dev.txt
cd "$backend"
started=$(date +%s)

echo "== ruff"
ruff check .
ruff format --check .

echo "== pytest on PostgreSQL"
pytest -q "$@"

echo "== pytest on SQLite"
# Every test that touches the database, except those marked postgres_only (races, row
# locks, PostgreSQL's own features); tests/sandbox, tests/ml and tests/integrations use no
# database and run once, above.
TEST_DATABASE_URL=sqlite pytest -q -m "not postgres_only" \
  tests/api tests/services tests/faults tests/worker \
  tests/test_migrations.py tests/test_tenant_isolation.py tests/test_fuzz_api.py \
  tests/test_sqlite_atomicity.py tests/test_config.py "$@"

"$backend/../frontend/scripts/test.sh"  # the dashboard: lint, types, client, vitest, e2e

echo "test suite passed in $(($(date +%s) - started)) s"
