package dbtest

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/db"
)

// VAGovTablesSQL makes VA.gov's three tables as its Rails application has
// them (../shared/reference/original-system.md): the columns, the foreign
// keys and the indexes Rails made, and columns the worker does not know, as
// a real application database has. Nothing of the worker's.
const VAGovTablesSQL = `
CREATE TABLE form526_submissions (
    id bigserial PRIMARY KEY,
    user_uuid varchar,
    saved_claim_id integer,
    submitted_claim_id varchar,
    form_json text,
    created_at timestamp(6) without time zone NOT NULL,
    updated_at timestamp(6) without time zone NOT NULL
);
CREATE TABLE form_attachments (
    id bigserial PRIMARY KEY,
    guid uuid NOT NULL,
    type varchar NOT NULL,
    file_data text,
    created_at timestamp(6) without time zone NOT NULL,
    updated_at timestamp(6) without time zone NOT NULL
);
CREATE UNIQUE INDEX index_form_attachments_on_guid_and_type ON form_attachments (guid, type);
CREATE TABLE lighthouse526_document_uploads (
    id bigserial PRIMARY KEY,
    form526_submission_id bigint NOT NULL,
    form_attachment_id bigint,
    lighthouse_document_request_id varchar NOT NULL,
    aasm_state varchar,
    document_type varchar,
    lighthouse_processing_started_at timestamp(6) without time zone,
    lighthouse_processing_ended_at timestamp(6) without time zone,
    status_last_polled_at timestamp(6) without time zone,
    error_message jsonb,
    last_status_response jsonb,
    created_at timestamp(6) without time zone NOT NULL,
    updated_at timestamp(6) without time zone NOT NULL
);
ALTER TABLE lighthouse526_document_uploads
    ADD CONSTRAINT fk_rails_9c8c5c3a1f FOREIGN KEY (form526_submission_id) REFERENCES form526_submissions (id),
    ADD CONSTRAINT fk_rails_2e6bd1c0a4 FOREIGN KEY (form_attachment_id) REFERENCES form_attachments (id);
CREATE INDEX index_lighthouse526_document_uploads_on_form526_submission_id ON lighthouse526_document_uploads (form526_submission_id);
CREATE INDEX index_lighthouse526_document_uploads_on_form_attachment_id ON lighthouse526_document_uploads (form_attachment_id);
CREATE INDEX index_lighthouse526_document_uploads_on_aasm_state ON lighthouse526_document_uploads (aasm_state);
CREATE INDEX index_lighthouse526_document_uploads_on_status_last_polled_at ON lighthouse526_document_uploads (status_last_polled_at);
`

// VAGovDatabase creates a fresh database holding only VA.gov's tables
// (VAGovTablesSQL) and returns it open, unmigrated.
func VAGovDatabase(ctx context.Context, name string) (*gorm.DB, string, error) {
	dbURL, err := CreateDatabase(ctx, name)
	if err != nil {
		return nil, "", err
	}
	gdb, err := db.Open(ctx, db.Options{URL: dbURL, MaxOpenConns: 5, MaxIdleConns: 5, StatementTimeout: time.Minute})
	if err != nil {
		return nil, "", err
	}
	if err := gdb.WithContext(ctx).Exec(VAGovTablesSQL).Error; err != nil {
		_ = db.Close(gdb)
		return nil, "", fmt.Errorf("dbtest: VA.gov's tables: %w", err)
	}
	return gdb, dbURL, nil
}

// VAGovTables is everything of VA.gov's three tables that the catalogue
// says (columns with type, nullability, default and precision; indexes;
// constraints, including those of other tables that reference them), as
// lines that compare equal when nothing of them changed.
func VAGovTables(ctx context.Context, gdb *gorm.DB) ([]string, error) {
	var out []string
	err := gdb.WithContext(ctx).Raw(`
SELECT 'column ' || concat_ws(' ', table_schema, table_name, column_name, data_type, is_nullable, coalesce(column_default, '-'),
                 coalesce(character_maximum_length::text, '-'), coalesce(datetime_precision::text, '-'), ordinal_position::text)
  FROM information_schema.columns
 WHERE table_name IN ('form526_submissions', 'form_attachments', 'lighthouse526_document_uploads')
UNION ALL
SELECT 'index ' || schemaname || ' ' || indexname || ' ' || indexdef
  FROM pg_indexes
 WHERE tablename IN ('form526_submissions', 'form_attachments', 'lighthouse526_document_uploads')
UNION ALL
SELECT 'constraint ' || c.conrelid::regclass::text || ' ' || c.conname || ' ' || pg_get_constraintdef(c.oid)
  FROM pg_constraint c
 WHERE c.conrelid IN (SELECT oid FROM pg_class WHERE relname IN ('form526_submissions', 'form_attachments', 'lighthouse526_document_uploads'))
    OR c.confrelid IN (SELECT oid FROM pg_class WHERE relname IN ('form526_submissions', 'form_attachments', 'lighthouse526_document_uploads'))
UNION ALL
SELECT 'trigger ' || tgrelid::regclass::text || ' ' || tgname
  FROM pg_trigger
 WHERE NOT tgisinternal
   AND tgrelid IN (SELECT oid FROM pg_class WHERE relname IN ('form526_submissions', 'form_attachments', 'lighthouse526_document_uploads'))
 ORDER BY 1`).Scan(&out).Error
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("dbtest: no VA.gov table found")
	}
	return out, nil
}
