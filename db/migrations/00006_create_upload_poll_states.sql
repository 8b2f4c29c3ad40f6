-- The worker's own state of each upload it polls, beside the Rails
-- application's lighthouse526_document_uploads, which the worker does not add
-- columns to. One row per upload that has any state; an upload without a row
-- has none. No foreign key: the application deletes its uploads freely, and a
-- row left behind by a deleted upload is never read (every read joins the
-- upload).
--
-- Today the state is quarantine: an upload that cannot be polled (a request
-- id Lighthouse cannot read, a missing or unknown document type) is left out
-- of every poll until an operator fixes the row and releases it
-- (`worker uploads release`). quarantine_reason is one of a small fixed set
-- (the label values of form526_document_upload_quarantined_total);
-- quarantine_detail says what was wrong, never a veteran's identifier.

-- +goose Up
CREATE TABLE IF NOT EXISTS lighthouse526_upload_poll_states (
    upload_id          bigint PRIMARY KEY,
    quarantined_at     timestamp(6) without time zone,
    quarantine_reason  varchar,
    quarantine_detail  text,
    created_at         timestamp(6) without time zone NOT NULL,
    updated_at         timestamp(6) without time zone NOT NULL
);
-- The quarantined uploads: what the due scan leaves out and `worker uploads
-- stuck` lists. Small, however many uploads the table comes to hold.
CREATE INDEX IF NOT EXISTS index_lighthouse526_upload_poll_states_quarantined
    ON lighthouse526_upload_poll_states (upload_id) WHERE quarantined_at IS NOT NULL;

-- +goose Down
DROP TABLE IF EXISTS lighthouse526_upload_poll_states;
