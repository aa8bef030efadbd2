#!/usr/bin/env bash
# Run Ticket Triage: the API and a Celery worker.
#   ./start.sh          embedded default: SQLite, built-in Zendesk sandbox, offline analyzer,
#                       a worker on a SQLite broker (or on Redis when REDIS_URL is set)
#   ./start.sh docker   docker compose: PostgreSQL 15, Redis, API and worker
# Honours HOST, PORT (default 127.0.0.1:8000), DATA_DIR, DATABASE_URL, REDIS_URL and the rest
# of the settings in backend/.env.example. Everything a copy writes (SQLite database, broker,
# beat schedule, metrics, generated keys) lives in its DATA_DIR: backend/data for port 8000,
# backend/data/port-$PORT for any other port, so copies on different ports run side by side.
# The worker is supervised: if it dies it is started again; the API keeps serving meanwhile.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [ "${1:-}" = "docker" ]; then
  cd "$root"
  if docker compose version >/dev/null 2>&1; then
    exec docker compose up --build
  fi
  exec docker-compose up --build
fi

# The runtime plus the training extras: the embedded worker retrains per-user models.
# shellcheck source=backend/scripts/bootstrap.sh
source "$root/backend/scripts/bootstrap.sh" requirements-training.txt
cd "$root/backend"

export HOST=${HOST:-127.0.0.1}
export PORT=${PORT:-8000}
export PUBLIC_BASE_URL=${PUBLIC_BASE_URL:-"http://$HOST:$PORT"}
if [ -z "${DATA_DIR:-}" ]; then
  DATA_DIR="$PWD/data"
  [ "$PORT" = "8000" ] || DATA_DIR="$PWD/data/port-$PORT"
fi
mkdir -p "$DATA_DIR"
DATA_DIR=$(cd "$DATA_DIR" && pwd)
export DATA_DIR

# Metrics of the API and of the worker's processes, added up by /metrics (our own default
# directory is emptied at start, as prometheus_client needs; one you set is left as it is).
if [ -z "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
  export PROMETHEUS_MULTIPROC_DIR="$DATA_DIR/metrics"
  rm -rf "$PROMETHEUS_MULTIPROC_DIR"
fi
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"

# Refuses, with the reason, settings that cannot start (e.g. a reachable HOST without keys).
python -m app.core.local_keys

"$root/frontend/scripts/build-if-stale.sh"  # the dashboard at /app, when Node.js 20+ is here

echo "Migrating the database"
python -m alembic upgrade head

# Run "$@" again whenever it exits, until this (background) shell is told to stop.
supervise() {
  set +e
  local child=""
  trap '[ -n "$child" ] && kill -TERM "$child" 2>/dev/null; wait "$child" 2>/dev/null; exit 0' TERM INT
  while true; do
    "$@" &
    child=$!
    wait "$child"
    echo "start.sh: $1 exited with status $?; starting it again in ${RESTART_DELAY_S:-2} s" >&2
    sleep "${RESTART_DELAY_S:-2}" &
    wait $!
  done
}

pids=()
cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

if [ "${START_WORKER:-1}" = "1" ]; then
  echo "Starting a Celery worker"
  # -B: the worker also runs the beat scheduler (polling intake, housekeeping); run a
  # separate `celery beat` instead when you start several workers.
  supervise celery -A app.worker worker -B -s "$DATA_DIR/celerybeat-schedule" \
    --loglevel "${WORKER_LOG_LEVEL:-warning}" \
    --concurrency "${WORKER_CONCURRENCY:-2}" --hostname "triage-$PORT@%h" &
  pids+=($!)
fi

echo "Ticket Triage: open $PUBLIC_BASE_URL/docs (register, then Authorize)"
# --no-proxy-headers: the app believes X-Forwarded-For only from FORWARDED_ALLOW_IPS (uvicorn's
# own default would trust it from loopback, letting anything local pick its address).
uvicorn app.embedded:create_embedded_app --factory --host "$HOST" --port "$PORT" \
  --no-proxy-headers --log-level "${UVICORN_LOG_LEVEL:-info}" &
api=$!
pids+=("$api")
# Only the API's end stops the copy (the worker is restarted by its supervisor).
wait "$api"
