-- VA.gov's tables, as its Rails application has them (columns and indexes):
-- created by migration 00001 only in a database that has none of them (a
-- local, test or bench database). Where VA.gov's application runs, they
-- exist already and the worker never changes them.

CREATE TABLE IF NOT EXISTS form526_submissions (
    id         bigserial PRIMARY KEY,
    user_uuid  varchar,
    created_at timestamp(6) without time zone NOT NULL,
    updated_at timestamp(6) without time zone NOT NULL
);

CREATE TABLE IF NOT EXISTS form_attachments (
    id         bigserial PRIMARY KEY,
    guid       uuid NOT NULL,
    type       varchar NOT NULL DEFAULT 'SupportingEvidenceAttachment',
    file_data  text,
    created_at timestamp(6) without time zone NOT NULL,
    updated_at timestamp(6) without time zone NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS index_form_attachments_on_guid_and_type ON form_attachments (guid, type);

CREATE TABLE IF NOT EXISTS lighthouse526_document_uploads (
    id                               bigserial PRIMARY KEY,
    form526_submission_id            bigint NOT NULL REFERENCES form526_submissions (id),
    form_attachment_id               bigint REFERENCES form_attachments (id),
    lighthouse_document_request_id   varchar NOT NULL,
    aasm_state                       varchar,
    document_type                    varchar,
    lighthouse_processing_started_at timestamp(6) without time zone,
    lighthouse_processing_ended_at   timestamp(6) without time zone,
    status_last_polled_at            timestamp(6) without time zone,
    error_message                    jsonb,
    last_status_response             jsonb,
    created_at                       timestamp(6) without time zone NOT NULL,
    updated_at                       timestamp(6) without time zone NOT NULL
);
CREATE INDEX IF NOT EXISTS index_lighthouse526_document_uploads_on_form526_submission_id
    ON lighthouse526_document_uploads (form526_submission_id);
CREATE INDEX IF NOT EXISTS index_lighthouse526_document_uploads_on_form_attachment_id
    ON lighthouse526_document_uploads (form_attachment_id);
CREATE INDEX IF NOT EXISTS index_lighthouse526_document_uploads_on_aasm_state
    ON lighthouse526_document_uploads (aasm_state);
CREATE INDEX IF NOT EXISTS index_lighthouse526_document_uploads_on_status_last_polled_at
    ON lighthouse526_document_uploads (status_last_polled_at);
