package db

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// UploadsTable is VA.gov's table of uploads: its Rails application owns it.
const UploadsTable = "lighthouse526_document_uploads"

// RecommendedIndex is an index the worker wants on VA.gov's uploads table.
// The worker creates it only in a database where it created that table
// itself (migration 00002); elsewhere its owners apply it (`worker migrate
// --print-recommended-indexes`), and until they do the worker works, slower.
type RecommendedIndex struct {
	Name    string
	Columns []string
	// Include are covering columns (INCLUDE; Rails 7.1's include:).
	Include []string
	// Where makes it partial.
	Where string
	// Why is what it serves, for the owners.
	Why string
}

// RecommendedIndexes are the indexes the worker wants on VA.gov's uploads
// table, besides the ones the application has.
var RecommendedIndexes = []RecommendedIndex{
	{
		Name:    "index_lighthouse526_document_uploads_due",
		Columns: []string{"id"},
		Include: []string{"status_last_polled_at", "lighthouse_document_request_id"},
		Where:   "aasm_state = 'pending'",
		Why: "the due scan of every polling cycle: pending uploads in id order, filtered on status_last_polled_at, " +
			"read from the index alone (small: it holds pending uploads only)",
	},
	{
		Name:    "index_lighthouse526_document_uploads_on_request_id",
		Columns: []string{"lighthouse_document_request_id"},
		Why:     "each batch's read of its uploads by Lighthouse request id, and `worker uploads show`",
	},
}

// SQL is the index's CREATE INDEX CONCURRENTLY statement: it takes no write
// lock, so it can run on the live table (outside a transaction).
func (ix RecommendedIndex) SQL() string {
	s := fmt.Sprintf("CREATE INDEX CONCURRENTLY IF NOT EXISTS %s ON %s (%s)", ix.Name, UploadsTable, strings.Join(ix.Columns, ", "))
	if len(ix.Include) > 0 {
		s += " INCLUDE (" + strings.Join(ix.Include, ", ") + ")"
	}
	if ix.Where != "" {
		s += " WHERE " + ix.Where
	}
	return s
}

// Rails is the index as a Rails migration's add_index.
func (ix RecommendedIndex) Rails() string {
	cols := make([]string, len(ix.Columns))
	for i, c := range ix.Columns {
		cols[i] = ":" + c
	}
	col := cols[0]
	if len(cols) > 1 {
		col = "[" + strings.Join(cols, ", ") + "]"
	}
	s := fmt.Sprintf("add_index :%s, %s,\n          name: %q", UploadsTable, col, ix.Name)
	if len(ix.Include) > 0 {
		inc := make([]string, len(ix.Include))
		for i, c := range ix.Include {
			inc[i] = ":" + c
		}
		s += ",\n          include: [" + strings.Join(inc, ", ") + "]"
	}
	if ix.Where != "" {
		s += fmt.Sprintf(",\n          where: %q", ix.Where)
	}
	return s + ",\n          algorithm: :concurrently, if_not_exists: true"
}

// RecommendedIndexesSQL is every recommended index as SQL, each with what it
// serves.
func RecommendedIndexesSQL() string {
	var b strings.Builder
	b.WriteString("-- Indexes the Lighthouse 526 status worker wants on " + UploadsTable + ".\n")
	b.WriteString("-- CONCURRENTLY takes no write lock on the live table. Run each statement outside a transaction.\n")
	for _, ix := range RecommendedIndexes {
		fmt.Fprintf(&b, "\n-- %s\n%s;\n", ix.Why, ix.SQL())
	}
	return b.String()
}

// RecommendedIndexesRails is every recommended index as a Rails migration
// (include: needs Rails 7.1 or later).
func RecommendedIndexesRails() string {
	var b strings.Builder
	b.WriteString("class AddLighthouse526PollingIndexes < ActiveRecord::Migration[7.1]\n")
	b.WriteString("  # CONCURRENTLY cannot run inside the migration's transaction.\n")
	b.WriteString("  disable_ddl_transaction!\n\n  def change\n")
	for i, ix := range RecommendedIndexes {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "    # %s\n    %s\n", ix.Why, strings.ReplaceAll(ix.Rails(), "\n", "\n    "))
	}
	b.WriteString("  end\nend\n")
	return b.String()
}

// DropRecommendedIndexes drops the recommended indexes (the bench measures
// the worker without them, as in a database whose owners have not applied
// them).
func DropRecommendedIndexes(ctx context.Context, sqlDB *sql.DB) error {
	for _, ix := range RecommendedIndexes {
		if _, err := sqlDB.ExecContext(ctx, "DROP INDEX CONCURRENTLY IF EXISTS "+ix.Name); err != nil {
			return fmt.Errorf("db: drop %s: %w", ix.Name, err)
		}
	}
	return nil
}
