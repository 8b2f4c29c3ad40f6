#!/usr/bin/env bash
# Browser check of the monitor (make check-monitor): starts `worker monitor`
# behind basic auth, enqueues a task on a queue of its own, opens the monitor
# in headless Chromium and fails unless the rendered page lists that queue.
# Leaves a screenshot (CHECK_MONITOR_SCREENSHOT, default
# $TMPDIR/lighthouse526-monitor.png). Removes its queue and stops the monitor
# on exit. Needs Redis (scripts/services.sh) and bin/worker (make build).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

readonly PORT=${CHECK_MONITOR_PORT:-19481}
readonly SCREENSHOT=${CHECK_MONITOR_SCREENSHOT:-${TMPDIR:-/tmp}/lighthouse526-monitor.png}
readonly REDIS_DB=${CHECK_MONITOR_REDIS_DB:-0}
QUEUE="lighthouse526_monitor_check_$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
readonly QUEUE
WORK=$(mktemp -d)
readonly WORK

die() { echo "check-monitor: $*" >&2; exit 1; }

command -v chromium >/dev/null || die "chromium is missing: apt-get install -y chromium"
[[ -x bin/worker ]] || die "bin/worker is missing: make build"

monitor_pid=""
cleanup() {
  [[ -n $monitor_pid ]] && kill -TERM "$monitor_pid" 2>/dev/null && wait "$monitor_pid" 2>/dev/null
  # Only this check's own queue: its keys, and its name in asynq's registry.
  redis-cli -n "$REDIS_DB" --scan --pattern "asynq:{$QUEUE}:*" | xargs -r redis-cli -n "$REDIS_DB" DEL >/dev/null
  redis-cli -n "$REDIS_DB" SREM asynq:queues "$QUEUE" >/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

export REDIS_URL="redis://127.0.0.1:6379/$REDIS_DB"
export QUEUE_NAME="$QUEUE"
export MONITOR_ADDR="127.0.0.1:$PORT"
export MONITOR_USERNAME=check
MONITOR_PASSWORD=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
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
