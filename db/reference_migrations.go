package db

import (
	"context"
	"database/sql"
	_ "embed"
	"errors"
	"fmt"

	"github.com/pressly/goose/v3"
)

// Migrations 00001 and 00002 are Go migrations because what they do depends
// on the database: where VA.gov's application runs, its tables exist and
// belong to it, and the worker must not change them; in a fresh local
// database (demo, tests, bench) the worker creates them, and then the
// indexes it wants on them too.
//
// 00001 alone can tell the two apart: once it has run, the tables exist in
// both. So it records what it found in the worker's own SetupTable, and
// every later migration that would touch VA.gov's tables asks that record
// (CreatedReferenceTables), never the catalogue, whose answer would be "they
// exist" either way.

//go:embed ddl/reference_tables.sql
var referenceTablesSQL string

// SetupTable is the worker's own record of what migration 00001 found: one
// row, whose created_reference_tables says whether the worker created VA.gov's
// tables in this database (and so may add indexes to them).
const SetupTable = "lighthouse526_database_setup"

// referenceTables are VA.gov's tables that the worker reads and writes.
var referenceTables = []string{"form526_submissions", "form_attachments", UploadsTable}

func goMigrations() []*goose.Migration {
	create := goose.NewGoMigration(1,
		&goose.GoFunc{RunTx: createReferenceTables},
		// VA.gov's tables are never dropped, even those the worker made, and
		// so the record of having made them stays too: migrating up again
		// must know it (00002 then puts back the indexes it dropped).
		&goose.GoFunc{RunTx: func(context.Context, *sql.Tx) error { return nil }})
	create.Source = "00001_create_reference_tables.go"
	indexes := goose.NewGoMigration(2,
		&goose.GoFunc{RunDB: addRecommendedIndexes},
		&goose.GoFunc{RunDB: dropOwnRecommendedIndexes})
	indexes.Source = "00002_add_polling_indexes.go"
	return []*goose.Migration{create, indexes}
}

// createReferenceTables creates VA.gov's three tables when the database has
// none of them, and records whether it did. A database holding some of them
// gets none created: the schema check names what is missing.
func createReferenceTables(ctx context.Context, tx *sql.Tx) error {
	var found int
	// to_regclass resolves through search_path, as the worker's queries do.
	err := tx.QueryRowContext(ctx, `
SELECT count(*) FROM unnest(CAST($1 AS text[])) AS t(name) WHERE to_regclass(t.name) IS NOT NULL`,
		referenceTables).Scan(&found)
	if err != nil {
		return fmt.Errorf("look for VA.gov's tables: %w", err)
	}
	created := found == 0
	if created {
		if _, err := tx.ExecContext(ctx, referenceTablesSQL); err != nil {
			return fmt.Errorf("create the reference tables: %w", err)
		}
	}
	_, err = tx.ExecContext(ctx, `
CREATE TABLE IF NOT EXISTS `+SetupTable+` (
    id                       boolean PRIMARY KEY DEFAULT true CHECK (id),
    created_reference_tables boolean NOT NULL,
    created_at               timestamp(6) without time zone NOT NULL
)`)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO `+SetupTable+` (created_reference_tables, created_at)
VALUES ($1, now() AT TIME ZONE 'UTC') ON CONFLICT (id) DO NOTHING`, created)
	return err
}

// CreatedReferenceTables reports whether the worker created VA.gov's tables
// in this database (migration 00001's record; false in a database migrated
// before the record existed, or not yet migrated).
func CreatedReferenceTables(ctx context.Context, sqlDB *sql.DB) (bool, error) {
	var recorded bool
	if err := sqlDB.QueryRowContext(ctx, `SELECT to_regclass($1) IS NOT NULL`, SetupTable).Scan(&recorded); err != nil {
		return false, fmt.Errorf("db: look for %s: %w", SetupTable, err)
	}
	if !recorded {
		return false, nil
	}
	var created bool
	err := sqlDB.QueryRowContext(ctx, `SELECT created_reference_tables FROM `+SetupTable).Scan(&created)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("db: read %s: %w", SetupTable, err)
	}
	return created, nil
}

// addRecommendedIndexes creates the worker's indexes on VA.gov's uploads
// table, only where the worker created that table.
func addRecommendedIndexes(ctx context.Context, sqlDB *sql.DB) error {
	created, err := CreatedReferenceTables(ctx, sqlDB)
	if err != nil || !created {
		return err
	}
	for _, ix := range RecommendedIndexes {
		if _, err := sqlDB.ExecContext(ctx, ix.SQL()); err != nil {
			return fmt.Errorf("create %s: %w", ix.Name, err)
		}
	}
	return nil
}

func dropOwnRecommendedIndexes(ctx context.Context, sqlDB *sql.DB) error {
	created, err := CreatedReferenceTables(ctx, sqlDB)
	if err != nil || !created {
		return err
	}
	return DropRecommendedIndexes(ctx, sqlDB)
}
