-- Formerly added lighthouse_unknown_poll_count to lighthouse526_document_uploads,
-- VA.gov's table. The count now lives in the worker's own
-- lighthouse526_upload_poll_states (00008, which also moves it out of any
-- database where an earlier build of this migration had added it), so this
-- migration changes nothing: it stays only so the versions applied to those
-- databases keep their meaning.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
