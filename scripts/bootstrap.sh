#!/usr/bin/env bash
# Make this machine ready for Gridline: system packages, running PostgreSQL/PostGIS and Redis,
# the database role, and a .venv with the project installed. Idempotent: every step checks first.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages by release (/etc/os-release): each ships one PostgreSQL major, with PostGIS built for it, and
# its own sonames of the GDAL, GEOS and PROJ libraries that GeoDjango loads.
os_release="$( (. /etc/os-release && echo "${ID:-}:${VERSION_ID:-}") 2>/dev/null || true)"
case "$os_release" in
  debian:12)  # bookworm
    PG_VERSION=15; PG_EXTRA=(postgresql-contrib); GEO_LIBS=(libgdal32 libgeos-c1v5 libproj25)
    BROWSER=(chromium chromium-driver) ;;
  debian:13)  # trixie: the contrib modules are part of postgresql-17
    PG_VERSION=17; PG_EXTRA=(); GEO_LIBS=(libgdal36 libgeos-c1t64 libproj25)
    BROWSER=(chromium chromium-driver) ;;
  ubuntu:24.04)  # noble: Chromium is a snap there, not a package, so the browser tests skip
    PG_VERSION=16; PG_EXTRA=(); GEO_LIBS=(libgdal34t64 libgeos-c1t64 libproj25)
    BROWSER=() ;;
  *)
    echo "[bootstrap] unsupported system '${os_release:-unknown}' (from /etc/os-release): Gridline's bootstrap" \
      "knows the package names of Debian 12 (bookworm), Debian 13 (trixie) and Ubuntu 24.04 (noble)." >&2
    exit 1 ;;
esac
APT_PACKAGES=("postgresql-${PG_VERSION}" "postgresql-${PG_VERSION}-postgis-3" "postgresql-${PG_VERSION}-postgis-3-scripts"
              "${PG_EXTRA[@]}" gdal-bin "${GEO_LIBS[@]}" redis-server python3-venv curl
              "${BROWSER[@]}" fonts-wqy-microhei gettext)
# Optional extras asked for by the caller (e.g. BOOTSTRAP_EXTRA="wrk" for benchmarks).
read -r -a EXTRA <<<"${BOOTSTRAP_EXTRA:-}"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
say() { printf '\033[1m[bootstrap]\033[0m %s\n' "$*"; }

missing=()
for pkg in "${APT_PACKAGES[@]}" "${EXTRA[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# PostgreSQL: the cluster "main" (of the release's major when there are several), created for the release's
# major when there is none, and started if it is not running.
pg_cluster_version() {
  pg_lsclusters -h 2>/dev/null | awk -v want="$PG_VERSION" \
    '$2=="main" {found[$1]=1} END {if (want in found) print want; else for (v in found) print v}' | sort -n | tail -1
}
pg_version="$(pg_cluster_version)"
if [ -z "$pg_version" ]; then
  say "creating PostgreSQL cluster ${PG_VERSION}/main"
  as_root pg_createcluster "$PG_VERSION" main >/dev/null
  pg_version="$PG_VERSION"
fi
if ! pg_lsclusters -h | awk -v v="$pg_version" '$1==v && $2=="main" {print $4}' | grep -q online; then
  say "starting PostgreSQL ${pg_version}/main"
  as_root pg_ctlcluster "$pg_version" main start
fi
for _ in $(seq 1 30); do pg_isready -q -h localhost && break; sleep 0.5; done

# Redis: the broker and cache.
if ! redis-cli -u "${REDIS_URL:-redis://localhost:6379/0}" ping >/dev/null 2>&1; then
  say "starting Redis"
  redis-server --daemonize yes --save '' --appendonly no >/dev/null
  for _ in $(seq 1 20); do redis-cli ping >/dev/null 2>&1 && break; sleep 0.25; done
fi

# The database role and database named by DATABASE_URL (default postgis://gridline:gridline@localhost:5432/gridline).
# The role is a superuser so that tests can create their database with the postgis extension.
DB_URL="${DATABASE_URL:-postgis://gridline:gridline@localhost:5432/gridline}"
if [[ "$DB_URL" =~ ^[a-z]+://([^:@/]+):([^@/]*)@(localhost|127\.0\.0\.1)(:[0-9]+)?/([^?]+) ]]; then
  db_user="${BASH_REMATCH[1]}"; db_pass="${BASH_REMATCH[2]}"; db_name="${BASH_REMATCH[5]}"
  psql_su() { as_root su postgres -c "psql -qAt -v ON_ERROR_STOP=1 $(printf '%q ' "$@")"; }
  if [ "$(psql_su -c "SELECT 1 FROM pg_roles WHERE rolname='${db_user}'")" != 1 ]; then
    say "creating database role ${db_user}"
    psql_su -c "CREATE ROLE \"${db_user}\" LOGIN SUPERUSER PASSWORD '${db_pass}'"
  fi
  if [ "$(psql_su -c "SELECT 1 FROM pg_database WHERE datname='${db_name}'")" != 1 ]; then
    say "creating database ${db_name}"
    psql_su -c "CREATE DATABASE \"${db_name}\" OWNER \"${db_user}\""
  fi
  psql_su -d "$db_name" -c "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS postgis"
else
  say "DATABASE_URL points elsewhere; assuming that database exists"
fi

# The virtualenv, reinstalled only when pyproject.toml changes.
# Python 3.11, as pyproject.toml's requires-python says: PYTHON when set, else python3.11, else python3 (Debian 12's
# python3 is 3.11; Debian 13's and Ubuntu 24.04's are not, so a 3.11 must be installed there and named).
if [ ! -x .venv/bin/python ]; then
  PY="${PYTHON:-python3}"
  if [ -z "${PYTHON:-}" ] && command -v python3.11 >/dev/null; then PY=python3.11; fi
  if ! "$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
    say "Gridline needs Python 3.11 (requires-python in pyproject.toml); '$PY' is" \
      "$( (command -v "$PY" >/dev/null && "$PY" -V 2>&1) || echo "not found"). Install a Python 3.11 and run again with PYTHON=/path/to/python3.11"
    exit 1
  fi
  say "creating .venv"
  "$PY" -m venv .venv
fi
# GRIDLINE_VISION=0 leaves out the camera analytics extra (torch, ultralytics, OpenCV): the web server runs
# without it; `make run` and `make test` install it by default.
extras="dev"
vision_files=()
if [ "${GRIDLINE_VISION:-1}" != "0" ]; then
  extras="dev,vision"
  vision_files=(scripts/vision-constraints.txt scripts/vision-no-deps.txt)
fi
stamp=.venv/.gridline-installed
want="$(cat pyproject.toml "${vision_files[@]}" | sha256sum | cut -d' ' -f1) $extras"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "installing Python packages ($extras)"
  if ! {
    .venv/bin/pip install -q --upgrade pip &&
      if [ "$extras" = "dev" ]; then
        .venv/bin/pip install -q -e '.[dev]'
      else
        .venv/bin/pip install -q -e ".[$extras]" -c scripts/vision-constraints.txt &&
          .venv/bin/pip install -q --no-deps -r scripts/vision-no-deps.txt
      fi
  } >.venv/pip.log 2>&1; then
    cat .venv/pip.log >&2; say "pip install failed (log above, also in .venv/pip.log)"; exit 1
  fi
  echo "$want" >"$stamp"
fi
say "ready"
