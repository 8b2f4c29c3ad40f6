-- When a cycle's StatsD gauges (the original's pending_documents_*) were sent:
-- whichever replica finishes the cycle last sets it with a conditional UPDATE,
-- so they are sent exactly once, by one replica. The worker's own table.

-- +goose Up
ALTER TABLE lighthouse526_polling_cycles ADD COLUMN IF NOT EXISTS gauges_sent_at timestamp(6) without time zone;

-- +goose Down
ALTER TABLE lighthouse526_polling_cycles DROP COLUMN IF EXISTS gauges_sent_at;
