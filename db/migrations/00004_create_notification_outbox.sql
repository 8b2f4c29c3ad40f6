-- Failure follow-up tasks, written in the same transaction as the transition
-- to failed and relayed to Redis afterwards, so none is lost when Redis is down.
-- One row per upload: a notification is never queued twice. No foreign key
-- onto lighthouse526_document_uploads: that table is VA.gov's, and a key would
-- stop its application deleting a failed upload (an earlier build had one:
-- 00008 drops it).

-- +goose Up
CREATE TABLE IF NOT EXISTS lighthouse526_notification_outbox (
    id           bigserial PRIMARY KEY,
    upload_id    bigint NOT NULL,
    task_type    varchar NOT NULL,
    payload      jsonb NOT NULL,
    attempts     integer NOT NULL DEFAULT 0,
    last_error   varchar,
    created_at   timestamp(6) without time zone NOT NULL,
    enqueued_at  timestamp(6) without time zone
);
CREATE UNIQUE INDEX IF NOT EXISTS index_lighthouse526_notification_outbox_on_upload_id
    ON lighthouse526_notification_outbox (upload_id);
CREATE INDEX IF NOT EXISTS index_lighthouse526_notification_outbox_unsent
    ON lighthouse526_notification_outbox (id) WHERE enqueued_at IS NULL;

-- +goose Down
DROP TABLE IF EXISTS lighthouse526_notification_outbox;
