package db

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"gorm.io/gorm"
)

// Column types as information_schema.columns.data_type names them.
const (
	typeBigint    = "bigint"
	typeInteger   = "integer"
	typeBoolean   = "boolean"
	typeVarchar   = "character varying"
	typeText      = "text"
	typeJSONB     = "jsonb"
	typeUUID      = "uuid"
	typeTimestamp = "timestamp without time zone"
	// typeKey is a key of VA.gov's tables, or a column holding one: vets-api
	// has integer keys on its Rails 4.2-era tables (form526_submissions,
	// form_attachments, `id: :serial`) and bigint elsewhere. The worker
	// holds every key as an int64 and compares across the two types, so it
	// takes either.
	typeKey = "integer or bigint"
)

// typeMatches reports whether a column of data type got is what the worker
// expects of it (want).
func typeMatches(want, got string) bool {
	if want == typeKey {
		return got == typeInteger || got == typeBigint
	}
	return got == want
}

// expectedColumns are the columns the worker reads or writes, by table, with
// the type its statements rely on: VA.gov's tables (only the columns the
// worker touches; the application may have more) and the worker's own.
var expectedColumns = map[string]map[string]string{
	"form526_submissions": {"id": typeKey, "user_uuid": typeVarchar},
	"form_attachments":    {"id": typeKey, "guid": typeUUID},
	UploadsTable: {
		"id": typeKey, "form526_submission_id": typeKey, "form_attachment_id": typeKey,
		"lighthouse_document_request_id": typeVarchar, "aasm_state": typeVarchar, "document_type": typeVarchar,
		"lighthouse_processing_started_at": typeTimestamp, "lighthouse_processing_ended_at": typeTimestamp,
		"status_last_polled_at": typeTimestamp, "error_message": typeJSONB, "last_status_response": typeJSONB,
		"created_at": typeTimestamp, "updated_at": typeTimestamp,
	},
	"lighthouse526_notification_outbox": {
		"id": typeBigint, "upload_id": typeBigint, "task_type": typeVarchar, "payload": typeJSONB,
		"attempts": typeInteger, "last_error": typeVarchar, "created_at": typeTimestamp, "enqueued_at": typeTimestamp,
	},
	"lighthouse526_polling_cycles": {
		"id": typeVarchar, "scheduled_at": typeTimestamp, "due_before": typeTimestamp, "cursor_upload_id": typeBigint,
		"batches_enqueued": typeInteger, "batches_done": typeInteger, "documents_due": typeInteger,
		"documents_polled": typeInteger, "completed_count": typeInteger, "failed_count": typeInteger,
		"unknown_count": typeInteger, "fan_out_done_at": typeTimestamp, "skipped": typeBoolean,
		"gauges_sent_at": typeTimestamp, "created_at": typeTimestamp, "updated_at": typeTimestamp,
	},
	"lighthouse526_upload_poll_states": {
		"upload_id": typeBigint, "quarantined_at": typeTimestamp, "quarantine_reason": typeVarchar,
		"quarantine_detail": typeText, "unknown_poll_count": typeInteger,
		"next_poll_at": typeTimestamp, "status_changed_at": typeTimestamp, "status_digest": typeBigint,
		"created_at": typeTimestamp, "updated_at": typeTimestamp,
	},
}

// SchemaError names every table and column the worker needs that the
// database lacks or types otherwise.
type SchemaError struct {
	// SearchPath is where the tables were looked for.
	SearchPath string
	Problems   []string
}

func (e *SchemaError) Error() string {
	return fmt.Sprintf("db: the database lacks what the worker reads and writes (searched %s): %s. "+
		"VA.gov's tables must be as its application has them; the worker's own are made by `worker migrate`",
		e.SearchPath, strings.Join(e.Problems, "; "))
}

// CheckSchema checks, in one query of information_schema (and one more for
// the message when something is wrong), that every table
// and column the worker reads and writes exists, where its queries will find
// it (the first schema of search_path that has the table), with the type the
// worker expects. It returns a *SchemaError naming each problem.
func CheckSchema(ctx context.Context, gdb *gorm.DB) error {
	return checkTables(ctx, gdb, sortedKeys(expectedColumns), false)
}

// CheckReferenceTables is CheckSchema of VA.gov's tables alone, run by
// `worker migrate` before it changes anything. A database with none of them
// passes: migration 00001 creates them.
func CheckReferenceTables(ctx context.Context, gdb *gorm.DB) error {
	return checkTables(ctx, gdb, referenceTables, true)
}

func checkTables(ctx context.Context, gdb *gorm.DB, tables []string, noneIsFine bool) error {
	sqlDB, err := gdb.DB()
	if err != nil {
		return err
	}
	// database/sql, not GORM: GORM would expand the slice into a list.
	rs, err := sqlDB.QueryContext(ctx, `
SELECT c.table_schema, c.table_name, c.column_name, c.data_type
  FROM information_schema.columns c
 WHERE c.table_name = ANY($1)
   AND c.table_schema = ANY(CAST(current_schemas(false) AS text[]))
 ORDER BY array_position(CAST(current_schemas(false) AS text[]), CAST(c.table_schema AS text))`, tables)
	if err != nil {
		return fmt.Errorf("db: check the schema: %w", err)
	}
	defer rs.Close()
	type column struct{ TableSchema, TableName, ColumnName, DataType string }
	var rows []column
	for rs.Next() {
		var c column
		if err := rs.Scan(&c.TableSchema, &c.TableName, &c.ColumnName, &c.DataType); err != nil {
			return fmt.Errorf("db: check the schema: %w", err)
		}
		rows = append(rows, c)
	}
	if err := rs.Err(); err != nil {
		return fmt.Errorf("db: check the schema: %w", err)
	}
	// A table's columns are those of the first schema that has it, as an
	// unqualified name resolves.
	schemaOf := map[string]string{}
	found := map[string]map[string]string{}
	for _, r := range rows {
		if s, ok := schemaOf[r.TableName]; ok && s != r.TableSchema {
			continue
		}
		schemaOf[r.TableName] = r.TableSchema
		if found[r.TableName] == nil {
			found[r.TableName] = map[string]string{}
		}
		found[r.TableName][r.ColumnName] = r.DataType
	}
	if noneIsFine && len(found) == 0 {
		return nil
	}
	var problems []string
	for _, table := range tables {
		cols, ok := found[table]
		if !ok {
			problems = append(problems, "table "+table+" is missing")
			continue
		}
		for _, col := range sortedKeys(expectedColumns[table]) {
			want := expectedColumns[table][col]
			got, ok := cols[col]
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("column %s.%s is missing (want %s)", table, col, want))
			case !typeMatches(want, got):
				problems = append(problems, fmt.Sprintf("column %s.%s is %s, want %s", table, col, got, want))
			}
		}
	}
	if len(problems) == 0 {
		return nil
	}
	var searchPath string
	if err := sqlDB.QueryRowContext(ctx, `SELECT current_setting('search_path')`).Scan(&searchPath); err != nil {
		return fmt.Errorf("db: check the schema: %w", err)
	}
	return &SchemaError{SearchPath: searchPath, Problems: problems}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
