-- The unknown-poll count (how many consecutive polls found an upload unknown
-- to Lighthouse) moves to the worker's own lighthouse526_upload_poll_states.
-- An earlier build of 00003 kept it in a column it added to VA.gov's
-- lighthouse526_document_uploads: where that column exists (only the worker
-- ever added it), its nonzero counts are copied over and the column dropped,
-- leaving VA.gov's table as its application has it. Likewise the earlier
-- outbox's foreign key onto that table.

-- +goose Up
ALTER TABLE lighthouse526_upload_poll_states
    ADD COLUMN IF NOT EXISTS unknown_poll_count integer NOT NULL DEFAULT 0;

-- +goose StatementBegin
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_attribute
              WHERE attrelid = to_regclass('lighthouse526_document_uploads')
                AND attname = 'lighthouse_unknown_poll_count' AND NOT attisdropped) THEN
    INSERT INTO lighthouse526_upload_poll_states AS s (upload_id, unknown_poll_count, created_at, updated_at)
    SELECT u.id, u.lighthouse_unknown_poll_count, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'
      FROM lighthouse526_document_uploads u
     WHERE u.lighthouse_unknown_poll_count > 0
    ON CONFLICT (upload_id) DO UPDATE SET unknown_poll_count = EXCLUDED.unknown_poll_count;
    ALTER TABLE lighthouse526_document_uploads DROP COLUMN lighthouse_unknown_poll_count;
  END IF;
END
$$;
-- +goose StatementEnd

ALTER TABLE lighthouse526_notification_outbox
    DROP CONSTRAINT IF EXISTS lighthouse526_notification_outbox_upload_id_fkey;

-- +goose Down
-- The count is never put back into VA.gov's table.
ALTER TABLE lighthouse526_upload_poll_states DROP COLUMN IF EXISTS unknown_poll_count;
