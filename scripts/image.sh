#!/usr/bin/env bash
# Builds the worker's container image without pulling a base image: stages a
# static binary (CGO_ENABLED=0, -trimpath, version stamped), the host's CA
# bundle and time-zone data, and passwd/group entries of the non-root user in
# a temporary build context, and has buildah copy them into FROM scratch
# (Containerfile). Installs buildah (and the CA bundle and tzdata) from
# Debian's packages when missing, as scripts/services.sh installs PostgreSQL.
#
# IMAGE (default localhost/lighthouse526-worker), IMAGE_TAG (default VERSION)
# and VERSION (default: git describe) choose the name and the stamp. The
# image is tagged IMAGE:IMAGE_TAG and IMAGE:latest, the tag the reference
# Kubernetes manifests name (deploy/kubernetes).
#
# scripts/image.sh --rootfs DIR stages the image's root filesystem in DIR
# (which must not exist) and builds no image: what deploy/kubernetes' spec
# runs the manifests' containers from, without buildah.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

rootfs_only=
if [[ ${1:-} == --rootfs ]]; then
  [[ -n ${2:-} ]] || { echo "usage: scripts/image.sh [--rootfs DIR]" >&2; exit 2; }
  rootfs_only=$2
elif [[ $# -gt 0 ]]; then
  echo "usage: scripts/image.sh [--rootfs DIR]" >&2
  exit 2
fi

export GOTOOLCHAIN="${GOTOOLCHAIN:-go1.26.10}"
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
IMAGE=${IMAGE:-localhost/lighthouse526-worker}
IMAGE_TAG=${IMAGE_TAG:-$VERSION}
REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)
# Files and the image's creation time carry the commit's time, so two builds
# of one commit are the same image.
CREATED=$(git log -1 --format=%ct 2>/dev/null || echo 0)

log() { echo "image: $*" >&2; }
die() { log "error: $*"; exit 1; }

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

apt_updated=false
install_packages() {
  log "installing $* from Debian's packages"
  if [[ $apt_updated == false ]]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    apt_updated=true
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

[[ -n $rootfs_only ]] || command -v buildah >/dev/null || install_packages buildah
[[ -s /etc/ssl/certs/ca-certificates.crt ]] || install_packages ca-certificates
[[ -f /usr/share/zoneinfo/UTC ]] || install_packages tzdata

# The user's ids come from the Containerfile's USER line: one source.
user_line=$(grep -E '^USER [0-9]+:[0-9]+$' Containerfile) || die "Containerfile has no numeric USER uid:gid line"
ids=${user_line#USER }
uid=${ids%%:*}
gid=${ids##*:}

if [[ -n $rootfs_only ]]; then
  [[ ! -e $rootfs_only ]] || die "$rootfs_only exists"
  root=$rootfs_only
else
  context=$(mktemp -d)
  trap 'rm -rf "$context"' EXIT
  root=$context/rootfs
fi
install -d -m 0755 "$root" "$root/etc" "$root/etc/ssl" "$root/etc/ssl/certs" \
  "$root/usr" "$root/usr/local" "$root/usr/local/bin" "$root/usr/share"

log "building the static binary (version $VERSION)"
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$VERSION" \
  -o "$root/usr/local/bin/worker" ./worker
chmod 0755 "$root/usr/local/bin/worker"

install -m 0644 /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
# The zones Go's time.LoadLocation reads, without the leap-second variants
# (right/), the legacy posix/ aliases and the host's own localtime link.
tar -C /usr/share --exclude=zoneinfo/right --exclude=zoneinfo/posix \
  --exclude=zoneinfo/localtime -cf - zoneinfo | tar -C "$root/usr/share" -xf - --no-same-owner
printf 'worker:x:%s:%s:lighthouse526 worker:/nonexistent:/nonexistent\n' "$uid" "$gid" >"$root/etc/passwd"
printf 'worker:x:%s:\n' "$gid" >"$root/etc/group"
chmod 0644 "$root/etc/passwd" "$root/etc/group"

if [[ -n $rootfs_only ]]; then
  log "staged the image's root filesystem in $root"
  exit 0
fi

log "building $IMAGE:$IMAGE_TAG"
buildah build --quiet --timestamp "$CREATED" \
  --build-arg "VERSION=$VERSION" --build-arg "REVISION=$REVISION" \
  -f Containerfile -t "$IMAGE:$IMAGE_TAG" "$context" >/dev/null
# The tag deploy/kubernetes names; a registry gets the version's tag.
buildah tag "$IMAGE:$IMAGE_TAG" "$IMAGE:latest"
size=$(buildah images --format '{{.Size}}' "$IMAGE:$IMAGE_TAG" | awk 'NR == 1')
echo "$IMAGE:$IMAGE_TAG ($size), also tagged $IMAGE:latest"
