-- Indexes this worker needs at production volume. CONCURRENTLY so that adding
-- them to a live table with millions of rows takes no write lock.

-- +goose NO TRANSACTION
-- +goose Up
-- The "due for polling" scan: pending uploads in id order (keyset pagination),
-- filtered on status_last_polled_at and returning the request id without
-- visiting the heap (an index-only scan).
CREATE INDEX CONCURRENTLY IF NOT EXISTS index_lighthouse526_document_uploads_due
    ON lighthouse526_document_uploads (id) INCLUDE (status_last_polled_at, lighthouse_document_request_id)
    WHERE aasm_state = 'pending';

-- Lookups by Lighthouse request id: batch tasks, ad hoc polls and tracking.
CREATE INDEX CONCURRENTLY IF NOT EXISTS index_lighthouse526_document_uploads_on_request_id
    ON lighthouse526_document_uploads (lighthouse_document_request_id);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS index_lighthouse526_document_uploads_on_request_id;
DROP INDEX CONCURRENTLY IF EXISTS index_lighthouse526_document_uploads_due;
