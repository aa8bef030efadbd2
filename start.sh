#!/usr/bin/env bash
# Run Ticket Triage: the API and a Celery worker.
#   ./start.sh          embedded default: SQLite, built-in Zendesk sandbox, offline analyzer,
#                       a worker on a SQLite broker (or on Redis when REDIS_URL is set)
#   ./start.sh docker   docker compose: PostgreSQL 15, Redis, API and worker
# Honours HOST, PORT (default 127.0.0.1:8000), DATABASE_URL, REDIS_URL and the rest of
# the settings in backend/.env.example.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [ "${1:-}" = "docker" ]; then
  cd "$root"
  if docker compose version >/dev/null 2>&1; then
    exec docker compose up --build
  fi
  exec docker-compose up --build
fi

# shellcheck source=backend/scripts/bootstrap.sh
source "$root/backend/scripts/bootstrap.sh" requirements.txt
cd "$root/backend"

export HOST=${HOST:-127.0.0.1}
export PORT=${PORT:-8000}
export PUBLIC_BASE_URL=${PUBLIC_BASE_URL:-"http://$HOST:$PORT"}

# Metrics of the API and of the worker's processes, added up by /metrics (our own default
# directory is emptied at start, as prometheus_client needs; one you set is left as it is).
if [ -z "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
  export PROMETHEUS_MULTIPROC_DIR="$PWD/${DATA_DIR:-data}/metrics-$PORT"
  rm -rf "$PROMETHEUS_MULTIPROC_DIR"
fi
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"

"$root/frontend/scripts/build-if-stale.sh"  # the dashboard at /app, when Node.js 20+ is here

echo "Migrating the database"
python -m alembic upgrade head

pids=()
cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

if [ "${START_WORKER:-1}" = "1" ]; then
  echo "Starting a Celery worker"
  mkdir -p "${DATA_DIR:-data}"
  # -B: the worker also runs the beat scheduler (polling intake, housekeeping); run a
  # separate `celery beat` instead when you start several workers.
  celery -A app.worker worker -B -s "${DATA_DIR:-data}/celerybeat-schedule-$PORT" \
    --loglevel "${WORKER_LOG_LEVEL:-warning}" \
    --concurrency "${WORKER_CONCURRENCY:-2}" --hostname "triage-$PORT@%h" &
  pids+=($!)
fi

echo "Ticket Triage: open $PUBLIC_BASE_URL/docs (register, then Authorize)"
uvicorn app.main:create_app --factory --host "$HOST" --port "$PORT" \
  --log-level "${UVICORN_LOG_LEVEL:-info}" &
pids+=($!)
wait -n "${pids[@]}"
