package pgraw_test

import (
	"context"
	"database/sql"
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/db/pgraw"
)

var _ = Describe("ExecPrepared", func() {
	st := pgraw.Statement{Name: "pgraw_spec", Query: `
SELECT CAST($1 AS bigint) + 1, coalesce(CAST($2 AS text), 'null'),
       array_to_string(CAST($3 AS text[]), ',', 'null'), convert_from(CAST($4 AS bytea), 'UTF8')`}

	It("sends the arguments, NULLs and arrays among them, then the blob last, and returns text rows", func(ctx context.Context) {
		b := "b"
		rows, err := pgraw.ExecPrepared(ctx, gdb, st, 16, []byte(`{"blob":1}`),
			int64(41), nil, pgraw.ArrayOf([]*string{&b, nil}))
		Expect(err).NotTo(HaveOccurred())
		Expect(rows).To(HaveLen(1))
		Expect(rows[0]).To(Equal([][]byte{[]byte("42"), []byte("null"), []byte("b,null"), []byte(`{"blob":1}`)}))
	})

	It("refuses arguments that do not match the statement's parameters", func(ctx context.Context) {
		_, err := pgraw.ExecPrepared(ctx, gdb, st, 0, nil, int64(1))
		Expect(err).To(MatchError(ContainSubstring("pgraw_spec takes 4 parameters, given 2")))
	})

	It("prepares the statement again on the connection's next run once the server has forgotten it", func(ctx context.Context) {
		args := []any{int64(1), "a", pgraw.ArrayOf([]string{"x"})}
		_, err := pgraw.ExecPrepared(ctx, gdb, st, 0, []byte("z"), args...)
		Expect(err).NotTo(HaveOccurred())
		// What a pooler's DISCARD ALL does, on the pool's one connection.
		Expect(gdb.WithContext(ctx).Exec("DEALLOCATE pgraw_spec").Error).To(Succeed())

		_, err = pgraw.ExecPrepared(ctx, gdb, st, 0, []byte("z"), args...)
		var pgErr *pgconn.PgError
		Expect(errors.As(err, &pgErr)).To(BeTrue(), "%v", err)
		Expect(pgErr.Code).To(Equal("26000"))

		rows, err := pgraw.ExecPrepared(ctx, gdb, st, 0, []byte("z"), args...)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(rows[0][0])).To(Equal("2"))
	})
})

var _ = Describe("Rows", func() {
	type pair struct {
		n    int64
		name string
	}
	scanPair := func(rows *sql.Rows, p *pair) error { return rows.Scan(&p.n, &p.name) }

	It("scans every row, in order, with the query's scan function", func(ctx context.Context) {
		out, err := pgraw.Rows(ctx, gdb, 2, `SELECT n, 'n' || n FROM generate_series(1, ?) AS n ORDER BY n`, scanPair, 3)
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(Equal([]pair{{1, "n1"}, {2, "n2"}, {3, "n3"}}))
	})

	It("returns the scan function's error", func(ctx context.Context) {
		failing := func(*sql.Rows, *pair) error { return errors.New("no such column") }
		_, err := pgraw.Rows(ctx, gdb, 1, `SELECT 1, 'a'`, failing)
		Expect(err).To(MatchError("no such column"))
	})
})

var _ = Describe("ArrayOf", func() {
	It("binds a slice as one array parameter, whatever its length", func(ctx context.Context) {
		var n, nulls int
		row := gdb.WithContext(ctx).Raw(`SELECT cardinality(CAST(? AS bigint[])), 0`, pgraw.ArrayOf([]int64{7, 8, 9})).Row()
		Expect(row.Scan(&n, &nulls)).To(Succeed())
		Expect(n).To(Equal(3))

		x := "x"
		row = gdb.WithContext(ctx).Raw(`SELECT cardinality(a), cardinality(a) - count(e)
  FROM (SELECT CAST(? AS text[]) AS a) s, unnest(s.a) AS e GROUP BY a`, pgraw.ArrayOf([]*string{&x, nil, &x, nil})).Row()
		Expect(row.Scan(&n, &nulls)).To(Succeed())
		Expect(n).To(Equal(4))
		Expect(nulls).To(Equal(2), "a nil element is NULL")
	})
})
