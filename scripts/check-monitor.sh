#!/usr/bin/env bash
# Browser check of the monitor (make check-monitor; CI runs it): starts
# `worker monitor` read-write behind basic auth, enqueues a task on a queue of
# its own, checks the security headers, opens the monitor in headless
# Chromium and fails unless the rendered page lists that queue, which proves
# the real asynqmon UI still runs under the monitor's Content-Security-Policy.
# Installs Debian's Chromium when missing (as scripts/services.sh installs
# PostgreSQL). Leaves a screenshot (CHECK_MONITOR_SCREENSHOT, default
# $TMPDIR/lighthouse526-monitor.png). Removes its queue and stops the monitor
# on exit. Needs Redis at REDIS_URL (scripts/services.sh) and bin/worker
# (make build).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

readonly PORT=${CHECK_MONITOR_PORT:-19481}
readonly SCREENSHOT=${CHECK_MONITOR_SCREENSHOT:-${TMPDIR:-/tmp}/lighthouse526-monitor.png}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
export REDIS_URL
readonly REDIS_URL
QUEUE="lighthouse526_monitor_check_$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
readonly QUEUE
WORK=$(mktemp -d)
readonly WORK

die() { echo "check-monitor: $*" >&2; exit 1; }

# Root runs apt-get; elsewhere sudo is needed.
as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}
if ! command -v chromium >/dev/null; then
  echo "check-monitor: installing chromium from Debian's packages" >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
command -v chromium >/dev/null || die "chromium could not be installed"
[[ -x bin/worker ]] || die "bin/worker is missing: make build"

monitor_pid=""
cleanup() {
  [[ -n $monitor_pid ]] && kill -TERM "$monitor_pid" 2>/dev/null && wait "$monitor_pid" 2>/dev/null
  # Only this check's own queue: its keys, and its name in asynq's registry.
  redis-cli -u "$REDIS_URL" --scan --pattern "asynq:{$QUEUE}:*" | xargs -r redis-cli -u "$REDIS_URL" DEL >/dev/null
  redis-cli -u "$REDIS_URL" SREM asynq:queues "$QUEUE" >/dev/null
  redis-cli -u "$REDIS_URL" SREM asynq:queues:paused "$QUEUE" >/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

export QUEUE_NAME="$QUEUE"
# Read-write: the mode the cross-site defences are for.
export MONITOR_READ_ONLY=false
export MONITOR_ADDR="127.0.0.1:$PORT"
export MONITOR_USERNAME=check
MONITOR_PASSWORD=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
export MONITOR_PASSWORD
export LOG_FORMAT=text

bin/worker monitor >"$WORK/monitor.log" 2>&1 &
monitor_pid=$!
deadline=$((SECONDS + 20))
until curl -fsS -o /dev/null "http://127.0.0.1:$PORT/healthz" 2>/dev/null; do
  ((SECONDS < deadline)) || { cat "$WORK/monitor.log" >&2; die "the monitor did not start"; }
  sleep 0.2
done

# Without credentials the monitor must refuse.
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/monitor/")
[[ $code == 401 ]] || die "the monitor answered $code without credentials, not 401"

# The UI's answers carry the browser defences.
headers=$(curl -fsS -D - -o /dev/null -u "check:$MONITOR_PASSWORD" "http://127.0.0.1:$PORT/monitor/")
for want in "Content-Security-Policy: default-src 'none'" "X-Frame-Options: DENY" "X-Content-Type-Options: nosniff" "Set-Cookie: XSRF-TOKEN="; do
  grep -qiF "$want" <<<"$headers" || die "the monitor's page lacks the header: $want"
done
# A changing call without the UI's XSRF header is refused.
code=$(curl -s -o /dev/null -w '%{http_code}' -u "check:$MONITOR_PASSWORD" -X POST "http://127.0.0.1:$PORT/monitor/api/queues/$QUEUE:pause")
[[ $code == 403 ]] || die "a changing call without the XSRF header answered $code, not 403"

bin/worker enqueue poll --request-id 1 >/dev/null

chrome() {
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --disable-dev-shm-usage --user-data-dir="$(mktemp -d "$WORK/profile.XXXXXX")" "$@" 2>>"$WORK/chromium.log"
}
url="http://check:$MONITOR_PASSWORD@127.0.0.1:$PORT/monitor/"
chrome --virtual-time-budget=10000 --dump-dom "$url" >"$WORK/dom.html" || true
chrome --virtual-time-budget=10000 --window-size=1280,900 --screenshot="$SCREENSHOT" "$url" >/dev/null || true

if ! grep -q "$QUEUE" "$WORK/dom.html"; then
  echo "--- rendered page (first lines) ---" >&2
  head -c 2000 "$WORK/dom.html" >&2
  die "the monitor page does not list queue $QUEUE"
fi
echo "check-monitor: ok: the monitor lists queue $QUEUE; screenshot: $SCREENSHOT"
