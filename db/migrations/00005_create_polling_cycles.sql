-- One row per polling cycle (one cron tick or one ad hoc poll): where its
-- fan-out has got to, so a retried cycle resumes instead of enqueueing a batch
-- twice, and what its batches did, so the next cycle reports the previous
-- one's figures without counting the whole table.

-- +goose Up
CREATE TABLE IF NOT EXISTS lighthouse526_polling_cycles (
    id                varchar PRIMARY KEY,
    scheduled_at      timestamp(6) without time zone NOT NULL,
    due_before        timestamp(6) without time zone NOT NULL,
    cursor_upload_id  bigint NOT NULL DEFAULT 0,
    batches_enqueued  integer NOT NULL DEFAULT 0,
    batches_done      integer NOT NULL DEFAULT 0,
    documents_due     integer NOT NULL DEFAULT 0,
    documents_polled  integer NOT NULL DEFAULT 0,
    completed_count   integer NOT NULL DEFAULT 0,
    failed_count      integer NOT NULL DEFAULT 0,
    unknown_count     integer NOT NULL DEFAULT 0,
    fan_out_done_at   timestamp(6) without time zone,
    skipped           boolean NOT NULL DEFAULT false,
    created_at        timestamp(6) without time zone NOT NULL,
    updated_at        timestamp(6) without time zone NOT NULL
);
CREATE INDEX IF NOT EXISTS index_lighthouse526_polling_cycles_on_scheduled_at
    ON lighthouse526_polling_cycles (scheduled_at);

-- +goose Down
DROP TABLE IF EXISTS lighthouse526_polling_cycles;
