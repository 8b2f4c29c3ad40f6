package dbtest

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/db"
	"github.com/vagov/lighthouse526/vagov/rails"
)

// VAGovDatabase creates a fresh database holding only VA.gov's tables, made
// by Debian's ActiveRecord from vets-api's schema as the reference describes
// it (vagov/rails/schema.rb: integer keys on form526_submissions and
// form_attachments, timestamp(6), the indexes and foreign keys, Flipper's
// tables), and returns it open, unmigrated.
func VAGovDatabase(ctx context.Context, name string) (*gorm.DB, string, error) {
	dbURL, err := CreateDatabase(ctx, name)
	if err != nil {
		return nil, "", err
	}
	if err := MakeVAGovTables(ctx, dbURL); err != nil {
		return nil, "", err
	}
	gdb, err := db.Open(ctx, db.Options{URL: dbURL, MaxOpenConns: 5, MaxIdleConns: 5, StatementTimeout: time.Minute})
	if err != nil {
		return nil, "", err
	}
	return gdb, dbURL, nil
}

// MakeVAGovTables has ActiveRecord make VA.gov's tables (vagov/rails) in the
// existing database of dbURL, as `rails db:schema:load` would.
func MakeVAGovTables(ctx context.Context, dbURL string) error {
	if err := rails.LoadSchema(ctx, dbURL); err != nil {
		return fmt.Errorf("dbtest: VA.gov's tables: %w", err)
	}
	return nil
}

// VAGovTables is everything of VA.gov's three tables that the catalogue
// says (columns with their exact type, timestamp(6) told from timestamp,
// nullability, default and position; the key sequences and their type;
// indexes; constraints, including those of other tables that reference
// them), as lines that compare equal when nothing of them changed.
func VAGovTables(ctx context.Context, gdb *gorm.DB) ([]string, error) {
	var out []string
	err := gdb.WithContext(ctx).Raw(`
SELECT 'column ' || concat_ws(' ', c.table_schema, c.table_name, c.column_name, format_type(a.atttypid, a.atttypmod),
                 c.is_nullable, coalesce(c.column_default, '-'), c.ordinal_position::text)
  FROM information_schema.columns c
  JOIN pg_attribute a ON a.attrelid = format('%I.%I', c.table_schema, c.table_name)::regclass AND a.attname = c.column_name
 WHERE c.table_name IN ('form526_submissions', 'form_attachments', 'lighthouse526_document_uploads')
UNION ALL
SELECT 'sequence ' || concat_ws(' ', schemaname, sequencename, data_type::text, start_value::text, increment_by::text)
  FROM pg_sequences
 WHERE sequencename IN ('form526_submissions_id_seq', 'form_attachments_id_seq', 'lighthouse526_document_uploads_id_seq')
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
