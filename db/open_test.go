package db_test

import (
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/db"
	"github.com/vagov/lighthouse526/db/dbtest"
)

var _ = Describe("Open", func() {
	Context("when the database answers", func() {
		It("pins the session to UTC and applies the statement timeout", func(ctx SpecContext) {
			_, url := emptyDatabase(ctx)
			pool, err := db.Open(ctx, db.Options{URL: url, StatementTimeout: 1500 * time.Millisecond, ApplicationName: "lh526-spec"})
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(db.Close, pool)

			var settings struct {
				TimeZone         string
				StatementTimeout string
				ApplicationName  string
			}
			Expect(pool.Raw(`SELECT current_setting('TimeZone') AS time_zone,
				current_setting('statement_timeout') AS statement_timeout,
				current_setting('application_name') AS application_name`).Scan(&settings).Error).To(Succeed())
			Expect(settings.TimeZone).To(Equal("UTC"))
			Expect(settings.StatementTimeout).To(Equal("1500ms"))
			Expect(settings.ApplicationName).To(Equal("lh526-spec"))
		})
	})

	Context("with a statement counter wrapping its connections", func() {
		It("counts each statement run, whichever protocol sends it, and no ping", func(ctx SpecContext) {
			_, url := emptyDatabase(ctx)
			var statements dbtest.StatementCounter
			pool, err := db.Open(ctx, db.Options{URL: url, MaxOpenConns: 1, WrapConn: statements.Wrap})
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(db.Close, pool)
			sqlDB, err := pool.DB()
			Expect(err).NotTo(HaveOccurred())
			statements.Reset()

			var n int
			Expect(pool.Raw(`SELECT ?::int + 1`, 41).Scan(&n).Error).To(Succeed()) // extended protocol
			Expect(n).To(Equal(42))
			Expect(pool.Exec(`SELECT 1`).Error).To(Succeed()) // pgx sends it as a simple query
			Expect(sqlDB.PingContext(ctx)).To(Succeed())
			Expect(pool.Raw(`SELECT length(?::text)`, strings.Repeat("x", 100_000)).Scan(&n).Error).To(Succeed()) // a long Bind
			Expect(n).To(Equal(100_000))

			Expect(statements.Load()).To(Equal(int64(3)))
		})
	})

	Context("when nothing listens at the address", func() {
		It("fails without the password in the error", func(ctx SpecContext) {
			_, err := db.Open(ctx, db.Options{URL: "postgres://app:Sup3r-Secret-pw@127.0.0.1:1/lighthouse_uploads?sslmode=disable"})

			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring("127.0.0.1:1/lighthouse_uploads"))
			Expect(err.Error()).NotTo(ContainSubstring("Sup3r-Secret-pw"))
		})
	})

	Context("when the URL does not parse", func() {
		It("fails without echoing the URL", func(ctx SpecContext) {
			_, err := db.Open(ctx, db.Options{URL: "postgres://app:Sup3r-Secret-pw@127.0.0.1:notaport/x"})

			Expect(err).To(MatchError(ContainSubstring("invalid connection string")))
			Expect(err.Error()).NotTo(ContainSubstring("Sup3r-Secret-pw"))
		})
	})
})
