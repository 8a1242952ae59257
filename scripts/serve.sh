#!/usr/bin/env bash
# Start (or restart) the web server, the Celery worker and Celery beat in the background; `stop` stops them.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p var/run var/log
PORT="${PORT:-8000}"
WEB_PID=var/run/web.pid
WORKER_PID=var/run/worker.pid
BEAT_PID=var/run/beat.pid

stop_one() {
  local pidfile=$1 pid
  pid=$(cat "$pidfile" 2>/dev/null) || return 0  # the process removes its own pidfile when it exits
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  fi
  rm -f "$pidfile"
}

case "${1:-start}" in
  stop)
    stop_one "$WEB_PID"; stop_one "$WORKER_PID"; stop_one "$BEAT_PID"; echo "Gridline stopped." ;;
  start)
    stop_one "$WEB_PID"; stop_one "$WORKER_PID"; stop_one "$BEAT_PID"
    .venv/bin/gunicorn project.wsgi:application --bind "0.0.0.0:${PORT}" --workers "${WEB_WORKERS:-3}" \
      --pid "$WEB_PID" --daemon --access-logfile var/log/web-access.log --error-logfile var/log/web.log
    # one worker for both queues: grid's (celery) and camera analysis (vision); on GPU nodes run -Q vision alone
    .venv/bin/celery -A project worker -Q celery,vision --loglevel INFO --concurrency "${WORKER_CONCURRENCY:-2}" \
      --pidfile "$WORKER_PID" --logfile var/log/worker.log --detach
    # beat: the minute sweeps (deadline warnings and escalation, unrouted reports, due webhooks), due cameras
    # every 15 s and the hourly purge of old frames
    .venv/bin/celery -A project beat --loglevel INFO --schedule var/run/celerybeat-schedule \
      --pidfile "$BEAT_PID" --logfile var/log/beat.log --detach
    for _ in $(seq 1 50); do
      curl -fsS "http://127.0.0.1:${PORT}/healthz" >/dev/null 2>&1 && break; sleep 0.2
    done
    cat <<MSG

Gridline is running (logs in var/log/, stop with 'make stop').
  Dispatcher console: http://localhost:${PORT}/console/
  Phone report page:  http://localhost:${PORT}/m/report/
  Station finder:     http://localhost:${PORT}/stations/
  One map (public):   http://localhost:${PORT}/map/
  API docs:          http://localhost:${PORT}/api/docs/
  Admin:             http://localhost:${PORT}/admin/
  Health:            $(curl -fsS "http://127.0.0.1:${PORT}/healthz" 2>/dev/null || echo "not answering yet: see var/log/web.log")
Demo accounts (password: ${DEMO_PASSWORD:-gridline-demo}):
  admin       administrator of the county (and Django admin)
  dispatcher  dispatcher of a street
  worker      grid worker of one grid
  auditor     read-only auditor of the county
  member      party member and gig worker, with points and a mall order
  secretary   secretary of the member's party branch
  keeper      keeper of the member's station (mall pickups)
MSG
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
