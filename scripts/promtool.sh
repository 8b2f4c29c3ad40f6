#!/usr/bin/env bash
# Runs promtool with the given arguments, installing it first from Debian's
# packages when missing (`prometheus`, which ships /usr/bin/promtool), as
# scripts/image.sh installs buildah and scripts/sidekiq.sh installs Sidekiq.
set -euo pipefail

log() { echo "promtool: $*" >&2; }

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

if ! command -v promtool >/dev/null; then
  log "installing prometheus (for promtool) from Debian's packages"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1 || {
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  }
  command -v promtool >/dev/null || { log "error: prometheus is installed but promtool is not on PATH"; exit 1; }
  log "$(promtool --version 2>&1 | head -1) installed"
fi
exec promtool "$@"
