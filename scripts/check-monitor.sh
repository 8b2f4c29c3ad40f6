#!/usr/bin/env bash
# Browser check of the monitor (make check-monitor; CI runs it): starts
# `worker monitor` read-write behind basic auth, enqueues a task on a queue of
# its own, checks the security headers, opens the monitor in headless
# Chromium and fails unless the rendered page lists that queue, which proves
# the real asynqmon UI still runs under the monitor's Content-Security-Policy;
# then, through chromedriver, hovers the queue's row and clicks the UI's own
# Pause button, and fails unless the queue is paused and the monitor logged
# the action with its user: the UI's changing calls pass the cross-site
# defences. Installs Debian's chromium and chromium-driver when missing (as
# scripts/services.sh installs PostgreSQL). Leaves a screenshot (CHECK_MONITOR_SCREENSHOT, default
# $TMPDIR/lighthouse526-monitor.png). Removes its queue and stops the monitor
# on exit. Needs Redis at REDIS_URL (scripts/services.sh) and bin/worker
# (make build).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

readonly PORT=${CHECK_MONITOR_PORT:-19481}
readonly DRIVER_PORT=${CHECK_MONITOR_DRIVER_PORT:-19482}
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
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  echo "check-monitor: installing chromium and chromium-driver from Debian's packages" >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi
command -v chromium >/dev/null || die "chromium could not be installed"
command -v chromedriver >/dev/null || die "chromium-driver could not be installed"
[[ -x bin/worker ]] || die "bin/worker is missing: make build"

monitor_pid=""
driver_pid=""
cleanup() {
  # Their exit status (143 after SIGTERM) is not the check's.
  if [[ -n $driver_pid ]]; then kill -TERM "$driver_pid" 2>/dev/null; wait "$driver_pid" 2>/dev/null || true; fi
  if [[ -n $monitor_pid ]]; then kill -TERM "$monitor_pid" 2>/dev/null; wait "$monitor_pid" 2>/dev/null || true; fi
  # Only this check's own queue: its keys, and its name in asynq's registry.
  redis-cli -u "$REDIS_URL" --scan --pattern "asynq:{$QUEUE}:*" | xargs -r redis-cli -u "$REDIS_URL" DEL >/dev/null
  redis-cli -u "$REDIS_URL" SREM asynq:queues "$QUEUE" >/dev/null
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

# The UI's own Pause button, through WebDriver: hover the row (the buttons
# show on hover), click its first button (Pause), and look for the result.
chromedriver --port="$DRIVER_PORT" >"$WORK/chromedriver.log" 2>&1 &
driver_pid=$!
wd() { # wd METHOD PATH [JSON]: one WebDriver call, its answer on stdout
  curl -sS -X "$1" "http://127.0.0.1:$DRIVER_PORT$2" -H 'Content-Type: application/json' ${3:+-d "$3"}
}
element_id() { sed -n 's/.*"element-6066-11e4-a52e-4f735466cecf":"\([^"]*\)".*/\1/p'; }
deadline=$((SECONDS + 20))
until wd GET /status 2>/dev/null | grep -q '"ready":true'; do
  ((SECONDS < deadline)) || die "chromedriver did not start"
  sleep 0.2
done
profile=$(mktemp -d "$WORK/profile.XXXXXX")
args='"--headless","--no-sandbox","--disable-gpu","--disable-quic","--no-first-run","--disable-background-networking","--disable-component-update","--disable-sync","--disable-dev-shm-usage","--window-size=1600,900"'
session=$(wd POST /session "{\"capabilities\":{\"alwaysMatch\":{\"goog:chromeOptions\":{\"binary\":\"$(command -v chromium)\",\"args\":[$args,\"--user-data-dir=$profile\"]}}}}" |
  sed -n 's/.*"sessionId":"\([^"]*\)".*/\1/p')
[[ -n $session ]] || die "chromedriver opened no session (see $WORK/chromedriver.log)"
wd POST "/session/$session/url" "{\"url\":\"$url\"}" >/dev/null
row="//tr[.//a[text()='$QUEUE']]/td[last()]"
deadline=$((SECONDS + 20))
until cell=$(wd POST "/session/$session/element" "{\"using\":\"xpath\",\"value\":\"$row\"}" | element_id) && [[ -n $cell ]]; do
  ((SECONDS < deadline)) || die "the UI in chromedriver does not list queue $QUEUE"
  sleep 0.2
done
wd POST "/session/$session/actions" "{\"actions\":[{\"type\":\"pointer\",\"id\":\"mouse\",\"actions\":[{\"type\":\"pointerMove\",\"origin\":{\"element-6066-11e4-a52e-4f735466cecf\":\"$cell\"},\"x\":0,\"y\":0}]}]}" >/dev/null
deadline=$((SECONDS + 10))
until button=$(wd POST "/session/$session/element" "{\"using\":\"xpath\",\"value\":\"$row//button[1]\"}" | element_id) && [[ -n $button ]]; do
  ((SECONDS < deadline)) || die "the queue's row shows no Pause button"
  sleep 0.2
done
wd POST "/session/$session/element/$button/click" '{}' >/dev/null
deadline=$((SECONDS + 10))
until [[ $(redis-cli -u "$REDIS_URL" EXISTS "asynq:{$QUEUE}:paused") == 1 ]]; do
  ((SECONDS < deadline)) || { grep -i refused "$WORK/monitor.log" >&2 || true; die "the UI's Pause did not pause queue $QUEUE"; }
  sleep 0.2
done
wd DELETE "/session/$session" >/dev/null || true
grep -q 'msg="monitor action".*user=check.*:pause' "$WORK/monitor.log" ||
  die "the monitor did not log the UI's pause with its user"
echo "check-monitor: ok: the monitor lists queue $QUEUE, and the UI's Pause paused it under the cross-site defences; screenshot: $SCREENSHOT"
