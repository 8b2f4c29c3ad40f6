-- VA.gov's tables, as its Rails application has them: created by migration
-- 00001 only in a database that has none of them (a local, test or bench
-- database). Where VA.gov's application runs, they exist already and the
-- worker never changes them.
--
-- This is what ActiveRecord makes of vagov/rails/schema.rb (vets-api's
-- schema as the reference describes it), statement for statement: integer
-- (serial) keys on the two Rails 4.2-era tables, bigint on the uploads and
-- their foreign-key columns, timestamp(6), Rails' index and foreign-key
-- names, the same column order. db/vagov_tables_test.go compares the two
-- catalogues, so the copies cannot drift. Flipper's tables are not made
-- here: without them the failure emails' flag reads as off.

CREATE TABLE IF NOT EXISTS form526_submissions (
    id                   serial PRIMARY KEY,
    user_uuid            varchar,
    saved_claim_id       integer,
    submitted_claim_id   integer,
    form_json_ciphertext text,
    workflow_complete    boolean NOT NULL DEFAULT false,
    created_at           timestamp(6) without time zone NOT NULL,
    updated_at           timestamp(6) without time zone NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS index_form526_submissions_on_saved_claim_id ON form526_submissions (saved_claim_id);
CREATE INDEX IF NOT EXISTS index_form526_submissions_on_user_uuid ON form526_submissions (user_uuid);

CREATE TABLE IF NOT EXISTS form_attachments (
    id                   serial PRIMARY KEY,
    created_at           timestamp(6) without time zone NOT NULL,
    updated_at           timestamp(6) without time zone NOT NULL,
    guid                 uuid NOT NULL,
    type                 varchar NOT NULL,
    file_data_ciphertext text
);
CREATE UNIQUE INDEX IF NOT EXISTS index_form_attachments_on_guid_and_type ON form_attachments (guid, type);

CREATE TABLE IF NOT EXISTS lighthouse526_document_uploads (
    id                               bigserial PRIMARY KEY,
    form526_submission_id            bigint NOT NULL,
    form_attachment_id               bigint,
    lighthouse_document_request_id   varchar NOT NULL,
    aasm_state                       varchar,
    document_type                    varchar,
    lighthouse_processing_started_at timestamp(6) without time zone,
    lighthouse_processing_ended_at   timestamp(6) without time zone,
    status_last_polled_at            timestamp(6) without time zone,
    error_message                    jsonb,
    last_status_response             jsonb,
    created_at                       timestamp(6) without time zone NOT NULL,
    updated_at                       timestamp(6) without time zone NOT NULL,
    -- Rails names a foreign key fk_rails_ and the first 10 hex digits of
    -- the SHA-256 of "<table>_<column>_fk".
    CONSTRAINT fk_rails_63d4f6a512 FOREIGN KEY (form526_submission_id) REFERENCES form526_submissions (id),
    CONSTRAINT fk_rails_3b76afe89a FOREIGN KEY (form_attachment_id) REFERENCES form_attachments (id)
);
CREATE INDEX IF NOT EXISTS index_lighthouse526_document_uploads_on_aasm_state
    ON lighthouse526_document_uploads (aasm_state);
CREATE INDEX IF NOT EXISTS index_lighthouse526_document_uploads_on_form526_submission_id
    ON lighthouse526_document_uploads (form526_submission_id);
CREATE INDEX IF NOT EXISTS index_lighthouse526_document_uploads_on_form_attachment_id
    ON lighthouse526_document_uploads (form_attachment_id);
CREATE INDEX IF NOT EXISTS index_lighthouse526_document_uploads_on_status_last_polled_at
    ON lighthouse526_document_uploads (status_last_polled_at);
