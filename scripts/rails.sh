#!/usr/bin/env bash
# Makes sure VA.gov's Rails side can run here for the specs and the demo
# (vagov/rails: ActiveRecord makes VA.gov's tables, reads back what the
# worker wrote, and turns Flipper flags on and off): Debian's
# ruby-activerecord, ruby-pg and ruby-flipper (with its ActiveRecord
# adapter), installed from Debian's packages when missing, as
# scripts/sidekiq.sh installs Sidekiq. Idempotent, and quiet when everything
# is already there; prints the versions when it installs.
set -euo pipefail

readonly PACKAGES=(ruby ruby-activerecord ruby-pg ruby-flipper)

log() { echo "rails: $*" >&2; }
die() { log "error: $*"; exit 1; }

# Root runs apt-get; elsewhere sudo is needed.
as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

installed() {
  command -v ruby >/dev/null &&
    ruby -e 'require "active_support/all"; require "active_record"; require "pg"; require "flipper"; require "flipper/adapters/active_record"' >/dev/null 2>&1
}

if ! installed; then
  log "installing ${PACKAGES[*]} from Debian's packages"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${PACKAGES[@]}" >/dev/null 2>&1 || {
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${PACKAGES[@]}" >/dev/null
  }
  installed || die "${PACKAGES[*]} are installed but ActiveRecord, pg or Flipper's ActiveRecord adapter does not load"
  log "ActiveRecord $(ruby -e 'require "active_record"; print ActiveRecord::VERSION::STRING'), Flipper $(ruby -e 'require "flipper/version"; print Flipper::VERSION') installed"
fi
