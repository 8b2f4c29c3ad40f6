-- The adaptive schedule (POLL_STRATEGY=adaptive) of each pending upload, in
-- the worker's own lighthouse526_upload_poll_states (never a column of the
-- application's lighthouse526_document_uploads):
--   next_poll_at       when the upload is due next: set by each poll's write
--                      from the schedule (polling.Schedule.After), and, while
--                      a cycle's batch holding it is queued, to the end of
--                      that batch's lease, so the next cycle does not claim
--                      it again; NULL: due at the upload's created_at;
--   status_digest      a digest of the status Lighthouse last gave
--                      (polling.StatusDigest), to tell whether it moved;
--   status_changed_at  when that status last moved (the first poll under the
--                      schedule counts from the upload's created_at).
-- All NULL under POLL_STRATEGY=fixed, which writes none of them.

-- +goose Up
ALTER TABLE lighthouse526_upload_poll_states
    ADD COLUMN IF NOT EXISTS next_poll_at timestamp(6) without time zone,
    ADD COLUMN IF NOT EXISTS status_changed_at timestamp(6) without time zone,
    ADD COLUMN IF NOT EXISTS status_digest bigint;
-- The scheduled uploads in due order, as a cycle claims them (models.ClaimDue):
-- the most overdue first, quarantined ones left out. A batch that completes
-- or fails an upload sets its next_poll_at to NULL, so the index holds the
-- pending uploads only, however many have been settled.
CREATE INDEX IF NOT EXISTS index_lighthouse526_upload_poll_states_due
    ON lighthouse526_upload_poll_states (next_poll_at, upload_id)
    WHERE quarantined_at IS NULL AND next_poll_at IS NOT NULL;

-- +goose Down
DROP INDEX IF EXISTS index_lighthouse526_upload_poll_states_due;
ALTER TABLE lighthouse526_upload_poll_states
    DROP COLUMN IF EXISTS next_poll_at,
    DROP COLUMN IF EXISTS status_changed_at,
    DROP COLUMN IF EXISTS status_digest;
