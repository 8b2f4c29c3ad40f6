package models

import (
	"context"

	"gorm.io/gorm"
)

// rawRows runs a raw statement and scans every row it returns into a T.
//
// The hot paths use it instead of Raw(...).Scan: DB.Scan records the
// statement for its logger with every parameter inlined into the SQL text
// (logger.ExplainSQL: a string copy and regular expressions over the whole
// text) even when the logger discards it, and a batch's parameter is a
// thousand statuses. Rows and ScanRows skip that recording.
func rawRows[T any](ctx context.Context, db *gorm.DB, sql string, values ...any) ([]T, error) {
	rows, err := db.WithContext(ctx).Raw(sql, values...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	// ScanRows into a slice scans the row Next just read and every row after.
	if rows.Next() {
		if err := db.ScanRows(rows, &out); err != nil {
			return nil, err
		}
	}
	return out, rows.Err()
}
