package db_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/db"
	"github.com/vagov/lighthouse526/db/dbtest"
)

// railsTables are the tables ActiveRecord makes of vagov/rails/schema.rb:
// VA.gov's three, Flipper's two and Rails' own two.
var railsTables = []string{"form526_submissions", "form_attachments", "lighthouse526_document_uploads",
	"flipper_features", "flipper_gates", "ar_internal_metadata", "schema_migrations"}

// tablesIn lists the tables of a schema.
func tablesIn(gdb *gorm.DB, schema string) []string {
	GinkgoHelper()
	var names []string
	Expect(gdb.Raw(`SELECT table_name FROM information_schema.tables WHERE table_schema = ? ORDER BY 1`, schema).
		Scan(&names).Error).To(Succeed())
	return names
}

var _ = Describe("Migrating a database where VA.gov's tables exist", func() {
	var (
		ctx context.Context
		gdb *gorm.DB
		url string
	)

	BeforeEach(func() {
		ctx = context.Background()
		gdb, url = emptyDatabase(ctx)
		Expect(dbtest.MakeVAGovTables(ctx, url)).To(Succeed())
	})

	It("leaves their columns, indexes and constraints exactly as they were", func() {
		before, err := dbtest.VAGovTables(ctx, gdb)
		Expect(err).NotTo(HaveOccurred())

		_, err = newMigrator(gdb).Up(ctx)
		Expect(err).NotTo(HaveOccurred())

		Expect(dbtest.VAGovTables(ctx, gdb)).To(Equal(before))
		Expect(tablesIn(gdb, "public")).To(ConsistOf(append(railsTables,
			"lighthouse526_notification_outbox", "lighthouse526_polling_cycles", "lighthouse526_upload_poll_states",
			db.SetupTable, db.MigrationsTable)))
		sqlDB, err := gdb.DB()
		Expect(err).NotTo(HaveOccurred())
		Expect(db.CreatedReferenceTables(ctx, sqlDB)).To(BeFalse())
		Expect(db.CheckSchema(ctx, gdb)).To(Succeed())
	})

	Context("when DATABASE_SCHEMA names the worker's own schema", func() {
		It("creates every table of the worker there, its migration versions too, and nothing in public", func() {
			before, err := dbtest.VAGovTables(ctx, gdb)
			Expect(err).NotTo(HaveOccurred())
			scoped, err := db.Open(ctx, db.Options{URL: url, MaxOpenConns: 5, Schema: "lighthouse526_worker", StatementTimeout: time.Minute})
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(db.Close, scoped)

			Expect(db.EnsureSchema(ctx, scoped, "lighthouse526_worker")).To(Succeed())
			_, err = newMigrator(scoped).Up(ctx)
			Expect(err).NotTo(HaveOccurred())

			Expect(tablesIn(gdb, "public")).To(ConsistOf(railsTables))
			Expect(tablesIn(gdb, "lighthouse526_worker")).To(ConsistOf(
				"lighthouse526_notification_outbox", "lighthouse526_polling_cycles", "lighthouse526_upload_poll_states",
				db.SetupTable, db.MigrationsTable))
			Expect(dbtest.VAGovTables(ctx, gdb)).To(Equal(before))
			Expect(db.CheckSchema(ctx, scoped)).To(Succeed())
		})
	})

	Context("when a column the worker reads is missing or of another type", func() {
		BeforeEach(func() {
			Expect(gdb.Exec(`ALTER TABLE lighthouse526_document_uploads DROP COLUMN status_last_polled_at`).Error).To(Succeed())
			Expect(gdb.Exec(`ALTER TABLE lighthouse526_document_uploads ALTER COLUMN last_status_response TYPE text`).Error).To(Succeed())
		})

		It("refuses to migrate, naming each, before it changes anything", func() {
			err := db.CheckReferenceTables(ctx, gdb)

			Expect(err).To(MatchError(
				"db: the database lacks what the worker reads and writes (searched \"$user\", public): " +
					"column lighthouse526_document_uploads.last_status_response is text, want jsonb; " +
					"column lighthouse526_document_uploads.status_last_polled_at is missing (want timestamp without time zone). " +
					"VA.gov's tables must be as its application has them; the worker's own are made by `worker migrate`"))
			Expect(tablesIn(gdb, "public")).To(ConsistOf(railsTables))
		})
	})
})

var _ = Describe("CheckSchema", func() {
	var (
		ctx context.Context
		gdb *gorm.DB
	)

	BeforeEach(func() {
		ctx = context.Background()
		gdb, _ = emptyDatabase(ctx)
		_, err := newMigrator(gdb).Up(ctx)
		Expect(err).NotTo(HaveOccurred())
	})

	It("passes on a migrated database", func() {
		Expect(db.CheckSchema(ctx, gdb)).To(Succeed())
	})

	It("names in one message every missing table, missing column and mistyped column", func() {
		Expect(gdb.Exec(`DROP TABLE lighthouse526_polling_cycles`).Error).To(Succeed())
		Expect(gdb.Exec(`ALTER TABLE lighthouse526_upload_poll_states DROP COLUMN unknown_poll_count`).Error).To(Succeed())
		Expect(gdb.Exec(`ALTER TABLE lighthouse526_document_uploads ALTER COLUMN lighthouse_document_request_id TYPE bigint
			USING lighthouse_document_request_id::bigint`).Error).To(Succeed())
		Expect(gdb.Exec(`ALTER TABLE form526_submissions DROP COLUMN user_uuid`).Error).To(Succeed())

		err := db.CheckSchema(ctx, gdb)

		var se *db.SchemaError
		Expect(errors.As(err, &se)).To(BeTrue())
		Expect(se.Problems).To(Equal([]string{
			"column form526_submissions.user_uuid is missing (want character varying)",
			"column lighthouse526_document_uploads.lighthouse_document_request_id is bigint, want character varying",
			"table lighthouse526_polling_cycles is missing",
			"column lighthouse526_upload_poll_states.unknown_poll_count is missing (want integer)",
		}))
		Expect(err.Error()).To(HavePrefix("db: the database lacks what the worker reads and writes (searched \"$user\", public): " +
			"column form526_submissions.user_uuid is missing (want character varying); "))
	})
})

var _ = Describe("Migrating a database an earlier build had changed", func() {
	var (
		ctx context.Context
		gdb *gorm.DB
	)

	// As the earlier 00003 and 00004 left it: the count in a column of
	// VA.gov's table, and the outbox with a key onto it.
	BeforeEach(func() {
		ctx = context.Background()
		gdb, _ = emptyDatabase(ctx)
		m := newMigrator(gdb)
		_, err := m.Up(ctx)
		Expect(err).NotTo(HaveOccurred())
		for range 2 { // 00009, 00008
			_, err = m.Down(ctx)
			Expect(err).NotTo(HaveOccurred())
		}
		Expect(gdb.Exec(`
ALTER TABLE lighthouse526_document_uploads ADD COLUMN lighthouse_unknown_poll_count integer NOT NULL DEFAULT 0;
ALTER TABLE lighthouse526_notification_outbox ADD CONSTRAINT lighthouse526_notification_outbox_upload_id_fkey
    FOREIGN KEY (upload_id) REFERENCES lighthouse526_document_uploads (id);
INSERT INTO form526_submissions (id, created_at, updated_at) VALUES (1, now(), now());
INSERT INTO lighthouse526_document_uploads (id, form526_submission_id, lighthouse_document_request_id, aasm_state,
       lighthouse_unknown_poll_count, created_at, updated_at)
VALUES (1, 1, '11', 'pending', 3, now(), now()), (2, 1, '12', 'pending', 0, now(), now()),
       (3, 1, '13', 'pending', 5, now(), now());
INSERT INTO lighthouse526_upload_poll_states (upload_id, quarantined_at, quarantine_reason, created_at, updated_at)
VALUES (3, now(), 'invalid_request_id', now(), now());
`).Error).To(Succeed())
	})

	It("moves the nonzero counts to the worker's table, and drops the column and the key", func() {
		applied, err := newMigrator(gdb).Up(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(versionsOf(applied)).To(Equal([]int64{8, 9}))

		var states []struct {
			UploadID         int64
			UnknownPollCount int
			QuarantineReason *string
		}
		Expect(gdb.Raw(`SELECT upload_id, unknown_poll_count, quarantine_reason FROM lighthouse526_upload_poll_states ORDER BY 1`).
			Scan(&states).Error).To(Succeed())
		Expect(states).To(HaveLen(2))
		Expect(states[0].UploadID).To(BeEquivalentTo(1))
		Expect(states[0].UnknownPollCount).To(Equal(3))
		Expect(states[1].UploadID).To(BeEquivalentTo(3))
		Expect(states[1].UnknownPollCount).To(Equal(5))
		Expect(states[1].QuarantineReason).To(HaveValue(Equal("invalid_request_id")))

		var cols, keys int64
		Expect(gdb.Raw(`SELECT count(*) FROM information_schema.columns
			WHERE table_name = 'lighthouse526_document_uploads' AND column_name = 'lighthouse_unknown_poll_count'`).Scan(&cols).Error).To(Succeed())
		Expect(cols).To(BeZero())
		Expect(gdb.Raw(`SELECT count(*) FROM pg_constraint WHERE confrelid = 'lighthouse526_document_uploads'::regclass
			AND conrelid = 'lighthouse526_notification_outbox'::regclass`).Scan(&keys).Error).To(Succeed())
		Expect(keys).To(BeZero())
		Expect(db.CheckSchema(ctx, gdb)).To(Succeed())
	})
})

// Migration 00001 makes VA.gov's tables in an empty database (a local, test
// or bench one) from its own SQL copy; this keeps that copy what
// ActiveRecord makes of vets-api's schema (vagov/rails/schema.rb), so the
// worker's own specs, which run on 00001's tables, run on Rails' types.
var _ = Describe("Migration 00001's copy of VA.gov's tables", func() {
	It("is what ActiveRecord makes of vets-api's schema: every column, type, default, sequence, index and key", func(ctx SpecContext) {
		gdb, _ := emptyDatabase(ctx)
		_, err := newMigrator(gdb).Up(ctx)
		Expect(err).NotTo(HaveOccurred())
		sqlDB, err := gdb.DB()
		Expect(err).NotTo(HaveOccurred())
		Expect(db.CreatedReferenceTables(ctx, sqlDB)).To(BeTrue())
		// 00002's recommended indexes are the worker's own addition.
		Expect(db.DropRecommendedIndexes(ctx, sqlDB)).To(Succeed())
		made, err := dbtest.VAGovTables(ctx, gdb)
		Expect(err).NotTo(HaveOccurred())

		railsDB, railsURL, err := dbtest.VAGovDatabase(ctx, fmt.Sprintf("db_rails_%d", GinkgoParallelProcess()))
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(dbtest.DropDatabase, context.WithoutCancel(ctx), railsURL)
		DeferCleanup(db.Close, railsDB)
		byRails, err := dbtest.VAGovTables(ctx, railsDB)
		Expect(err).NotTo(HaveOccurred())

		Expect(made).To(Equal(byRails))
		Expect(byRails).To(ContainElements(
			"column public form526_submissions id integer NO nextval('form526_submissions_id_seq'::regclass) 1",
			"column public form_attachments id integer NO nextval('form_attachments_id_seq'::regclass) 1",
			"column public lighthouse526_document_uploads id bigint NO nextval('lighthouse526_document_uploads_id_seq'::regclass) 1",
			"column public lighthouse526_document_uploads status_last_polled_at timestamp(6) without time zone YES - 9",
		))
	}, NodeTimeout(3*time.Minute))
})
