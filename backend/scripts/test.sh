#!/usr/bin/env bash
# The whole test suite: installs what it needs, lints, then runs pytest on PostgreSQL
# (TEST_DATABASE_URL, default the local `test` database) and, beside it, every
# database-facing test not marked postgres_only again on SQLite, then the dashboard's checks.
# Extra arguments go to both pytest runs.
set -euo pipefail
backend=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bootstrap.sh
source "$backend/scripts/bootstrap.sh" requirements-dev.txt
cd "$backend"
started=$(date +%s)

echo "== ruff"
ruff check .
ruff format --check .

# The dashboard's dependencies and build first, once: the operations tests' start.sh copies
# (PostgreSQL pass) and the dashboard's checks (the side) would otherwise both install and
# build it in the same folder at the same time.
"$backend/../frontend/scripts/build-if-stale.sh"

# The SQLite pass, then the dashboard's checks, run beside the PostgreSQL pass: that pass
# spends much of its time waiting (on its server, on workers and services it starts), so two
# cores finish both sooner. The side's output is shown when it is done. It empties Redis
# databases of its own (TEST_SQLITE_REDIS_URL, TEST_SQLITE_FAULTS_REDIS_URL).
side_log=$(mktemp)
(
  echo "== pytest on SQLite"
  # Every test that touches the database, except those marked postgres_only (races, row
  # locks, PostgreSQL's own features); tests/sandbox, tests/ml and tests/integrations use no
  # database and run once, in the PostgreSQL pass.
  TEST_DATABASE_URL=sqlite \
    TEST_REDIS_URL=${TEST_SQLITE_REDIS_URL:-redis://127.0.0.1:6379/14} \
    TEST_FAULTS_REDIS_URL=${TEST_SQLITE_FAULTS_REDIS_URL:-redis://127.0.0.1:6379/12} \
    pytest -q -p no:cacheprovider -m "not postgres_only" \
    tests/api tests/services tests/faults tests/worker \
    tests/test_migrations.py tests/test_tenant_isolation.py tests/test_fuzz_api.py \
    tests/test_sqlite_atomicity.py tests/test_config.py tests/test_json_columns.py \
    tests/test_read_sessions.py "$@"
  "$backend/../frontend/scripts/test.sh" # the dashboard: lint, types, client, vitest, e2e
) >"$side_log" 2>&1 &
side=$!
trap 'kill "$side" 2>/dev/null || true' INT TERM

echo "== pytest on PostgreSQL (the SQLite pass and the dashboard's checks run beside it)"
postgres_status=0
pytest -q "$@" || postgres_status=$?
side_status=0
wait "$side" || side_status=$?
cat "$side_log"
rm -f "$side_log"
if [ "$postgres_status" -ne 0 ] || [ "$side_status" -ne 0 ]; then
  echo "test suite FAILED: PostgreSQL pass exit $postgres_status, SQLite pass and dashboard exit $side_status"
  exit 1
fi

echo "test suite passed in $(($(date +%s) - started)) s"
