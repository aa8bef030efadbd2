#!/usr/bin/env bash
# A longer fuzzing run than the test suite's: schemathesis generates requests for every
# operation of the OpenAPI schema (as a signed-in user whose Zendesk is the simulator) and
# checks for 5xx and for responses that do not match the schema.
#
#   backend/bench/fuzz.sh [examples per operation, default 300]
#
# Uses TEST_DATABASE_URL like the tests (rolled back, nothing is kept). Prints name=value.
set -euo pipefail
backend=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if ! python -c 'import schemathesis' 2>/dev/null; then
  # shellcheck source=../scripts/bootstrap.sh
  source "$backend/scripts/bootstrap.sh" requirements-dev.txt
fi
cd "$backend"
examples=${1:-300}
log=$(mktemp -t triage-fuzz.XXXXXX)
started=$(date +%s)
set +e
FUZZ_RANDOM=1 FUZZ_MAX_EXAMPLES=$examples python -m pytest -q -p no:cacheprovider tests/test_fuzz_api.py \
  >"$log" 2>&1
status=$?
set -e
summary=$(grep -E '^[0-9]+ (passed|failed)|^=+ .*(passed|failed)' "$log" | tail -1)
passed=$(grep -oE '[0-9]+ passed' <<<"$summary" | cut -d' ' -f1 || true)
failed=$(grep -oE '[0-9]+ failed' <<<"$summary" | cut -d' ' -f1 || true)
echo "fuzz_examples_per_operation=$examples"
echo "fuzz_operations=$((${passed:-0} + ${failed:-0}))"
echo "fuzz_operations_failed=${failed:-0}"
echo "fuzz_duration_s=$(($(date +%s) - started))"
if [ "$status" -ne 0 ]; then
  grep -E '^(FAILED|  \| - |E  )' "$log" | head -40 || true
  echo "fuzz_log=$log"
  exit "$status"
fi
rm -f "$log"
