#!/usr/bin/env bash
# The demo (make demo): a fake Lighthouse, the worker (with the enqueue API)
# and the asynqmon monitor on this machine; a few hundred sample documents
# uploaded to the fake and tracked through form526:document_upload_track
# tasks; their states shown every second until none is pending; a final
# table. Every process it starts is stopped on exit.
#
# VA.gov's side is the real thing: Debian's ActiveRecord makes VA.gov's
# tables from vets-api's schema (vagov/rails/schema.rb: integer keys,
# timestamp(6), Flipper's tables), as `rails db:schema:load` would, and the
# failure emails follow Flipper's flag, which the demo turns on as an
# operator does (Flipper's ActiveRecord adapter, vagov/rails/flipper.rb).
#
# It uses its own database (lighthouse526_demo, recreated on each run), Redis
# DB 0 with its own queues (lighthouse526_demo*) and key prefix, and ports
# 8095 (fake), 9464 (metrics), 9470 (API) and 9480 (monitor); override with
# DEMO_FAKE_PORT, DEMO_METRICS_PORT, DEMO_API_PORT, DEMO_MONITOR_PORT. The
# local PostgreSQL and Redis are on 5432 and 6379, which scripts/services.sh
# starts; DEMO_PG_PORT and DEMO_REDIS_PORT point the demo at others already
# running (services.sh is then not run).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

readonly COUNT=${DEMO_COUNT:-300}
readonly FAKE_PORT=${DEMO_FAKE_PORT:-8095}
readonly METRICS_PORT=${DEMO_METRICS_PORT:-9464}
readonly API_PORT=${DEMO_API_PORT:-9470}
readonly MONITOR_PORT=${DEMO_MONITOR_PORT:-9480}
readonly PG_PORT=${DEMO_PG_PORT:-5432}
readonly REDIS_PORT=${DEMO_REDIS_PORT:-6379}
readonly DEMO_DB=lighthouse526_demo
LOG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/lighthouse526-demo.XXXXXX")
readonly LOG_DIR

say() { printf '\n==> %s\n' "$*"; }

pids=()
stop_all() {
  local status=$?
  trap - EXIT INT TERM
  if ((${#pids[@]} > 0)); then
    say "stopping the demo's processes (logs stay in $LOG_DIR)"
    kill -TERM "${pids[@]}" 2>/dev/null || true
    local deadline=$((SECONDS + 15))
    for pid in "${pids[@]}"; do
      while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
      kill -KILL "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
  fi
  exit "$status"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

# wait_port NAME PORT: wait until something listens on 127.0.0.1:PORT.
wait_port() {
  local deadline=$((SECONDS + 30))
  until (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      echo "demo: $1 did not listen on port $2; its log:" >&2
      tail -n 20 "$LOG_DIR/$1.log" >&2 || true
      exit 1
    fi
    sleep 0.2
  done
}

# refuse_busy PORT: a port already taken would make a process fail later.
refuse_busy() {
  if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
    echo "demo: port $1 is already in use (another demo?); set DEMO_*_PORT" >&2
    exit 1
  fi
}
for port in "$FAKE_PORT" "$METRICS_PORT" "$API_PORT" "$MONITOR_PORT"; do refuse_busy "$port"; done

random_secret() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
MONITOR_PASS=$(random_secret)

export DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/$DEMO_DB?sslmode=disable"
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
export REDIS_KEY_PREFIX=lighthouse526demo:
export QUEUE_NAME=lighthouse526_demo
export NOTIFICATION_QUEUE=lighthouse526_demo_notifications
# The demo shows the follow-ups in asynqmon; no Sidekiq runs here to take them.
export NOTIFICATION_TARGET=asynq
export LIGHTHOUSE_HOST="http://127.0.0.1:$FAKE_PORT"
export LIGHTHOUSE_CLIENT_ID=lighthouse526-local
export LIGHTHOUSE_RSA_KEY=.local/lighthouse_rsa_key.pem
export LIGHTHOUSE_RATE_LIMIT_PER_MINUTE=6000
export LIGHTHOUSE_RATE_BUDGET=6000
export POLL_CRON="* * * * *"
export POLL_WINDOW=30s
export POLL_WINDOW_GRACE=5s
# Unset: the failure emails follow Flipper's flag (turned on below).
unset FAILURE_NOTIFICATIONS_ENABLED
export METRICS_ADDR="127.0.0.1:$METRICS_PORT"
export API_ADDR="127.0.0.1:$API_PORT"
export API_JWT_HS256_SECRET
API_JWT_HS256_SECRET=$(random_secret)
export API_JWT_ISSUER=lighthouse526-demo
export API_JWT_AUDIENCE=lighthouse526-api
export MONITOR_ADDR="127.0.0.1:$MONITOR_PORT"
export MONITOR_USERNAME=demo
export MONITOR_PASSWORD="$MONITOR_PASS"
export MONITOR_PROMETHEUS_ADDR=
export LOG_FORMAT=semantic_logger
export LOG_LEVEL=info

say "services (PostgreSQL, Redis, ActiveRecord) and a fresh $DEMO_DB database"
if [[ $PG_PORT == 5432 && $REDIS_PORT == 6379 ]]; then
  scripts/services.sh
fi
scripts/rails.sh
psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $DEMO_DB WITH (FORCE)" >/dev/null
psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qc "CREATE DATABASE $DEMO_DB" >/dev/null

say "VA.gov's tables, made by ActiveRecord from vets-api's schema (vagov/rails/schema.rb)"
ruby vagov/rails/load_schema.rb
psql "$DATABASE_URL" -qAtc "SELECT '    ' || table_name || ' ' || format_type(a.atttypid, a.atttypmod) || ' id'
  FROM information_schema.tables t JOIN pg_attribute a ON a.attrelid = t.table_name::regclass AND a.attname = 'id'
 WHERE t.table_schema = 'public' AND t.table_name IN ('form526_submissions', 'form_attachments', 'lighthouse526_document_uploads', 'flipper_gates')
 ORDER BY 1"

say "build bin/worker"
GOTOOLCHAIN="${GOTOOLCHAIN:-go1.26.10}" go build -tags dev -o bin/worker ./worker

# The fake creates the client key (LIGHTHOUSE_RSA_KEY) the first time; every
# other command reads it, so the fake starts first.
say "fake Lighthouse on :$FAKE_PORT (steps of 5s and 8s, ~10% of uploads fail)"
bin/worker fake-lighthouse --addr "127.0.0.1:$FAKE_PORT" --key-file "$LIGHTHOUSE_RSA_KEY" \
  --claims-evidence-duration 5s --bgs-duration 8s --fail-claims-evidence 0.05 --fail-bgs 0.05 \
  >"$LOG_DIR/fake.log" 2>&1 &
pids+=($!)
wait_port fake "$FAKE_PORT"

say "migrate"
bin/worker migrate up | sed 's/^/    /'

say "Flipper: turn the failure emails on, as an operator does in Flipper's UI"
ruby vagov/rails/flipper.rb disability_compensation_email_veteran_on_polled_lighthouse_doc_failure enable | sed 's/^/    /'

say "upload $COUNT sample documents and enqueue their track tasks"
bin/worker demo-seed --reset --count "$COUNT" 2>"$LOG_DIR/seed.log" | sed 's/^/    /'

say "worker (cron every minute, enqueue API) and monitor"
bin/worker run --api >"$LOG_DIR/worker.log" 2>&1 &
pids+=($!)
bin/worker monitor >"$LOG_DIR/monitor.log" 2>&1 &
pids+=($!)
wait_port worker "$METRICS_PORT"
wait_port monitor "$MONITOR_PORT"
cat <<INFO
    monitor:  http://demo:$MONITOR_PASS@127.0.0.1:$MONITOR_PORT/monitor/  (user demo)
    metrics:  http://127.0.0.1:$METRICS_PORT/metrics
    API:      http://127.0.0.1:$API_PORT/v1/uploads  (HS256 bearer tokens, iss $API_JWT_ISSUER, aud $API_JWT_AUDIENCE)
    logs:     $LOG_DIR
INFO

say "uploads per state (the worker polls at every minute)"
bin/worker demo-watch --expect "$COUNT" --timeout 5m

say "the worker's figures"
curl -fsS "http://127.0.0.1:$METRICS_PORT/metrics" |
  grep -E '^form526_(document_upload_status_total|document_upload_notifications_enqueued_total|document_upload_failure_emails_share|document_upload_batches_enqueued_total|worker_tasks_processed_total)' |
  sed 's/^/    /' || true
cat <<INFO

    monitor (while this script runs): http://demo:$MONITOR_PASS@127.0.0.1:$MONITOR_PORT/monitor/
    metrics:                          http://127.0.0.1:$METRICS_PORT/metrics
    one upload's timeline:            bin/worker uploads show <request-id>   (with DATABASE_URL=$DATABASE_URL)
INFO
if [[ -t 0 && -z ${DEMO_NO_WAIT:-} ]]; then
  read -r -p "Press Enter to stop the demo. " _ || true
fi
