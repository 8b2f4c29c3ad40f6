#!/usr/bin/env bash
# Makes sure a real Sidekiq can run here for spec/sidekiq_test.go: Debian's
# ruby-sidekiq (the `sidekiq` command and its Ruby library) and
# ruby-redis-namespace (what SIDEKIQ_NAMESPACE deployments run), installed
# from Debian's packages when missing, as scripts/services.sh installs
# PostgreSQL. Idempotent, and quiet when everything is already there; prints
# the version when it installs.
set -euo pipefail

log() { echo "sidekiq: $*" >&2; }
die() { log "error: $*"; exit 1; }

# Root runs apt-get; elsewhere sudo is needed.
as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

installed() {
  command -v sidekiq >/dev/null &&
    ruby -e 'require "sidekiq"; require "redis-namespace"' >/dev/null 2>&1
}

if ! installed; then
  log "installing ruby-sidekiq and ruby-redis-namespace from Debian's packages"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ruby-sidekiq ruby-redis-namespace >/dev/null 2>&1 || {
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ruby-sidekiq ruby-redis-namespace >/dev/null
  }
  installed || die "ruby-sidekiq is installed but \`sidekiq\` or its library does not load"
  log "Sidekiq $(ruby -e 'require "sidekiq"; print Sidekiq::VERSION') installed"
fi
