package pgraw

import (
	"context"
	"database/sql"

	"gorm.io/gorm"
)

// Rows runs a raw statement and scans each row it returns with scan, in
// order: scan names the destination of each selected column, so the SELECT
// list and the scan function are read side by side. capHint is how many rows
// to expect (a batch's size), so the result is not regrown row by row.
//
// The hot paths use it instead of Raw(...).Scan or ScanRows: DB.Scan records
// the statement for its logger with every parameter inlined into the SQL
// text (logger.ExplainSQL: a string copy and regular expressions over the
// whole text) even when the logger discards it, and ScanRows maps every row
// onto the struct by reflection, a large part of a batch's CPU: a batch
// reads and returns up to a thousand rows.
func Rows[T any](ctx context.Context, db *gorm.DB, capHint int, query string, scan func(*sql.Rows, *T) error, values ...any) ([]T, error) {
	rows, err := db.WithContext(ctx).Raw(query, values...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]T, 0, capHint)
	for rows.Next() {
		out = append(out, *new(T))
		if err := scan(rows, &out[len(out)-1]); err != nil {
			return nil, err
		}
	}
	return out, rows.Err()
}
