-- How many consecutive polls found an upload unknown to Lighthouse, so that
-- operators can find uploads Lighthouse has lost. A new column with a constant
-- default is a catalog-only change (no table rewrite) since PostgreSQL 11.

-- +goose Up
ALTER TABLE lighthouse526_document_uploads
    ADD COLUMN IF NOT EXISTS lighthouse_unknown_poll_count integer NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE lighthouse526_document_uploads DROP COLUMN IF EXISTS lighthouse_unknown_poll_count;
