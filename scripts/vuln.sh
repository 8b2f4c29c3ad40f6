#!/usr/bin/env bash
# govulncheck over every package, against a vulnerability database built
# offline from a pinned snapshot of golang.org/x/vulndb (fetched through the Go
# module proxy like any module; vuln.go.dev itself is not reachable from the
# CI machines). It fails (exit 3) when the code calls a function with a known
# vulnerability, and on any other error.
#
# Bump VULNDB_VERSION to refresh the snapshot; VULN_DB=https://vuln.go.dev
# checks against the live database instead, where it is reachable.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export GOTOOLCHAIN="${GOTOOLCHAIN:-go1.26.10}"
readonly GOVULNCHECK="golang.org/x/vuln/cmd/govulncheck@v1.9.0"
readonly VULNDB_VERSION="${VULNDB_VERSION:-v0.0.0-20261105234957-e22db6528018}"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

db="${VULN_DB:-}"
if [[ -z $db ]]; then
  cache="${XDG_CACHE_HOME:-$HOME/.cache}/lighthouse526/vulndb-$VULNDB_VERSION"
  if [[ ! -f $cache/index/db.json ]]; then
    echo "building the vulnerability database from golang.org/x/vulndb@$VULNDB_VERSION"
    src=$(go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    [[ -d $src/data/osv ]] || { echo "vuln.sh: no data/osv in golang.org/x/vulndb@$VULNDB_VERSION" >&2; exit 1; }
    rm -rf "$cache.tmp" && mkdir -p "$(dirname "$cache")"
    go run "golang.org/x/vulndb/cmd/indexdb@$VULNDB_VERSION" -vulns "$src/data/osv" -out "$cache.tmp"
    rm -rf "$cache" && mv "$cache.tmp" "$cache"
  fi
  db="file://$cache"
fi

# Installed, not `go run`: go run turns every exit code into 1, and exit code
# 3 (a called vulnerable function) must come through as it is.
GOBIN="$tmp" go install "$GOVULNCHECK"
echo "govulncheck with $(go version | cut -d' ' -f3) against $db"
"$tmp/govulncheck" -db "$db" "$@" ./...
