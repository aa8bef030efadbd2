#!/usr/bin/env bash
# The whole test suite: installs what it needs, lints, then runs three streams at once:
# pytest on PostgreSQL (TEST_DATABASE_URL, default the local `test` database) without the
# system tests; the system tests (tests/operations, tests/worker, tests/faults: real
# workers, start.sh copies, the CLI, outages; mostly waiting on the processes they start)
# on PostgreSQL too, on a database and Redis numbers of their own; and every
# database-facing test not marked postgres_only again on SQLite, then the dashboard's checks.
# Extra arguments go to every pytest run.
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

# The SQLite pass, then the dashboard's checks, run beside the PostgreSQL passes: those
# spend much of their time waiting (on their server, on workers and services they start), so
# two cores finish all three sooner. Each stream's output is shown when it is done. Each
# empties Redis databases of its own (the SQLite pass: TEST_SQLITE_REDIS_URL,
# TEST_SQLITE_FAULTS_REDIS_URL; the system tests: TEST_SYSTEM_REDIS_URL,
# TEST_SYSTEM_FAULTS_REDIS_URL).
side_log=$(mktemp)
system_log=$(mktemp)
(
  echo "== pytest on SQLite"
  # Every test that touches the database, except those marked postgres_only (races, row
  # locks, PostgreSQL's own features); tests/sandbox, tests/ml and tests/integrations use no
  # database and run once, in the PostgreSQL pass.
  # The API fuzzer tries 10 examples an operation here, 25 on PostgreSQL: what differs
  # between the two is the database under the same requests.
  TEST_DATABASE_URL=sqlite FUZZ_MAX_EXAMPLES=${FUZZ_MAX_EXAMPLES_SQLITE:-${FUZZ_MAX_EXAMPLES:-10}} \
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

# The system tests: they spend most of their time waiting on the servers, workers and
# start.sh copies they run, so they overlap well with the two streams that compute.
system_tests=(tests/operations tests/worker tests/faults)
(
  echo "== pytest on PostgreSQL: the system tests"
  TEST_DATABASE_URL=${TEST_SYSTEM_DATABASE_URL:-${TEST_DATABASE_URL:-postgresql+psycopg2://postgres@127.0.0.1:5432/test}_system} \
    TEST_REDIS_URL=${TEST_SYSTEM_REDIS_URL:-redis://127.0.0.1:6379/9} \
    TEST_FAULTS_REDIS_URL=${TEST_SYSTEM_FAULTS_REDIS_URL:-redis://127.0.0.1:6379/8} \
    pytest -q -p no:cacheprovider "${system_tests[@]}" "$@"
) >"$system_log" 2>&1 &
system=$!
trap 'kill "$side" "$system" 2>/dev/null || true' INT TERM

echo "== pytest on PostgreSQL (the system tests, the SQLite pass and the dashboard's checks run beside it)"
postgres_status=0
pytest -q "${system_tests[@]/#/--ignore=}" "$@" || postgres_status=$?
system_status=0
wait "$system" || system_status=$?
cat "$system_log"
side_status=0
wait "$side" || side_status=$?
cat "$side_log"
rm -f "$side_log" "$system_log"
if [ "$postgres_status" -ne 0 ] || [ "$system_status" -ne 0 ] || [ "$side_status" -ne 0 ]; then
  echo "test suite FAILED: PostgreSQL pass exit $postgres_status, system tests exit $system_status, SQLite pass and dashboard exit $side_status"
  exit 1
fi

echo "test suite passed in $(($(date +%s) - started)) s"
