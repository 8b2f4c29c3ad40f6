package pgraw

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"
)

// Statement is a statement that ExecPrepared runs below GORM and
// database/sql, on pgx's protocol layer (pgconn): Name is what it is
// prepared as, once per connection.
type Statement struct {
	Name  string
	Query string
}

// ExecPrepared runs st on a connection of db's pool (db must be the pool,
// not a transaction) with args, encoded into a buffer of argsSize bytes to
// begin with, then blob as its last parameter, a bytea, and returns the rows
// in text format.
//
// It exists for the batch write, whose statuses (the body of a Lighthouse
// answer, half a megabyte for a thousand) are its one big parameter. Through
// GORM, pgx encodes every parameter into a buffer of its own, grown from 256
// bytes and kept until the connection's next statement: one more copy of
// the statuses (after the body they came in and the Bind message that sends
// them), alive while Postgres runs the statement, which is when garbage
// collections see a worker's heap at its largest. Here the other parameters
// are encoded into one buffer by the connection's own type map, exactly as
// pgx would, and blob is sent as it is.
func ExecPrepared(ctx context.Context, db *gorm.DB, st Statement, argsSize int, blob []byte, args ...any) ([][][]byte, error) {
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var rows [][][]byte
	err = conn.Raw(func(driverConn any) error {
		c, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("%s: the pool's driver is %T, not pgx", st.Name, driverConn)
		}
		pc := c.Conn()
		sd, err := pc.Prepare(ctx, st.Name, st.Query)
		if err != nil {
			return err
		}
		if len(sd.ParamOIDs) != len(args)+1 {
			return fmt.Errorf("%s takes %d parameters, given %d", st.Name, len(sd.ParamOIDs), len(args)+1)
		}
		values := make([][]byte, len(sd.ParamOIDs))
		formats := make([]int16, len(sd.ParamOIDs))
		ends := make([]int, len(args)) // where each parameter ends in buf; -1: NULL
		buf := make([]byte, 0, argsSize)
		m := pc.TypeMap()
		for i, arg := range args {
			formats[i], ends[i] = pgtype.BinaryFormatCode, -1
			b, err := m.Encode(sd.ParamOIDs[i], pgtype.BinaryFormatCode, arg, buf)
			if err != nil {
				return fmt.Errorf("%s: parameter $%d: %w", st.Name, i+1, err)
			}
			if b != nil { // nil: NULL, and nothing appended
				buf, ends[i] = b, len(b)
			}
		}
		start := 0
		for i, end := range ends {
			if end >= 0 {
				values[i], start = buf[start:end:end], end
			}
		}
		last := len(args)
		formats[last], values[last] = pgtype.BinaryFormatCode, blob // nil: NULL
		res := pc.PgConn().ExecPrepared(ctx, sd.Name, values, formats, []int16{pgtype.TextFormatCode}).Read()
		if stalePrepared(res.Err) {
			// Prepared again on this connection's next run, as pgx's own
			// statement cache does.
			_ = pc.Deallocate(ctx, st.Name)
		}
		rows = res.Rows
		return res.Err
	})
	return rows, err
}

// stalePrepared reports whether err says a prepared statement is gone (a
// pooler's DISCARD ALL) or no longer fits the schema it was planned for.
func stalePrepared(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	return pgErr.Code == "26000" || // invalid_sql_statement_name
		(pgErr.Code == "0A000" && strings.Contains(pgErr.Message, "cached plan must not change result type"))
}
