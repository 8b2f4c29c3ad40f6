#!/usr/bin/env bash
# Makes sure PostgreSQL (127.0.0.1:5432, trust auth for user postgres) and
# Redis (127.0.0.1:6379) run, installing them from Debian's packages when their
# binaries are missing, and creates the database named in DATABASE_URL.
# Idempotent, and quiet when everything is already fine.
set -euo pipefail

readonly WAIT_SECONDS="${SERVICES_WAIT_SECONDS:-60}"
readonly DATABASE_URL_DEFAULT="postgres://postgres@127.0.0.1:5432/lighthouse_uploads?sslmode=disable"

log() { echo "services: $*" >&2; }
die() { log "error: $*"; exit 1; }

# Root runs apt-get and the servers; elsewhere sudo is needed for both.
as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

install_packages() {
  log "installing $* from Debian's packages"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

postgres_version() {
  # The newest cluster version configured under /etc/postgresql.
  ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1
}

# wait_for NAME CMD...: run CMD until it succeeds, at most WAIT_SECONDS.
wait_for() {
  local name=$1; shift
  local deadline=$((SECONDS + WAIT_SECONDS))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      die "$name did not answer within ${WAIT_SECONDS}s ($*)"
    fi
    sleep 0.5
  done
}

# Local TCP connections from 127.0.0.1 and ::1 must not need a password: CI
# and the tests connect as postgres without one. Checked by connecting; only
# when that fails are trust lines put first in pg_hba.conf.
ensure_trust_auth() {
  local version=$1
  if psql -h 127.0.0.1 -U postgres -d postgres -w -Atqc 'SELECT 1' >/dev/null 2>&1; then
    return
  fi
  local hba="/etc/postgresql/$version/main/pg_hba.conf"
  [[ -f $hba ]] || die "no $hba"
  log "allowing trust auth for postgres on 127.0.0.1 and ::1 in $hba"
  local tmp
  tmp=$(mktemp)
  {
    echo "# Added by scripts/services.sh: local TCP without a password for tests and CI."
    echo "host    all    postgres    127.0.0.1/32    trust"
    echo "host    all    postgres    ::1/128         trust"
    cat "$hba"
  } >"$tmp"
  as_root cp "$tmp" "$hba"
  rm -f "$tmp"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload
  psql -h 127.0.0.1 -U postgres -d postgres -w -Atqc 'SELECT 1' >/dev/null ||
    die "cannot connect to PostgreSQL as postgres on 127.0.0.1 without a password"
}

ensure_postgres() {
  if ! command -v pg_ctlcluster >/dev/null || [[ -z $(postgres_version) ]]; then
    install_packages postgresql postgresql-client
  fi
  command -v pg_isready >/dev/null || install_packages postgresql-client
  local version
  version=$(postgres_version)
  [[ -n $version ]] || die "PostgreSQL is installed but no cluster exists under /etc/postgresql"

  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    if ! pg_ctlcluster "$version" main status >/dev/null 2>&1; then
      log "starting PostgreSQL $version"
      as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start
    fi
  fi
  wait_for "PostgreSQL" pg_isready -q -h 127.0.0.1 -p 5432
  ensure_trust_auth "$version"
}

ensure_redis() {
  if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    install_packages redis-server
  fi
  if [[ $(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null) != PONG ]]; then
    log "starting Redis"
    as_root mkdir -p /var/lib/redis /var/log/redis
    as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 \
      --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
  fi
  wait_for "Redis" sh -c '[ "$(redis-cli -h 127.0.0.1 -p 6379 ping)" = PONG ]'
}

# ensure_database creates the database named in DATABASE_URL when absent.
ensure_database() {
  local url=${DATABASE_URL:-$DATABASE_URL_DEFAULT}
  local name=${url%%\?*}
  name=${name##*/}
  [[ $name =~ ^[A-Za-z0-9_]+$ ]] || die "DATABASE_URL names no plain database name"
  local exists
  exists=$(psql -h 127.0.0.1 -U postgres -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$name'")
  if [[ $exists != 1 ]]; then
    log "creating database $name"
    psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE \"$name\"" >/dev/null
  fi
}

ensure_postgres
ensure_redis
ensure_database
