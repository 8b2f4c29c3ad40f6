package db_test

import (
	"context"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/db"
	"github.com/vagov/lighthouse526/db/dbtest"
)

// schemaSnapshot is every column and index of the public schema, as text
// that compares equal when the schema is the same.
type schemaSnapshot struct {
	Columns []string
	Indexes []string
}

func snapshot(gdb *gorm.DB) schemaSnapshot {
	GinkgoHelper()
	var s schemaSnapshot
	Expect(gdb.Raw(`
SELECT concat_ws(' ', table_name, column_name, data_type, is_nullable, coalesce(column_default, '-'),
                 coalesce(character_maximum_length::text, '-'), coalesce(datetime_precision::text, '-'))
  FROM information_schema.columns
 WHERE table_schema = 'public'
 ORDER BY table_name, ordinal_position`).Scan(&s.Columns).Error).To(Succeed())
	Expect(gdb.Raw(`
SELECT tablename || ' ' || indexname || ' ' || indexdef
  FROM pg_indexes
 WHERE schemaname = 'public'
 ORDER BY tablename, indexname`).Scan(&s.Indexes).Error).To(Succeed())
	return s
}

func tableExists(gdb *gorm.DB, name string) bool {
	GinkgoHelper()
	var n int64
	Expect(gdb.Raw(`SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name = ?`, name).
		Scan(&n).Error).To(Succeed())
	return n == 1
}

var _ = Describe("Migrator", func() {
	var (
		ctx      context.Context
		gdb      *gorm.DB
		url      string
		migrator *db.Migrator
		versions []int64
	)

	BeforeEach(func() {
		ctx = context.Background()
		gdb, url = emptyDatabase(ctx)
		migrator = newMigrator(gdb)
		versions = migrationVersions()
	})

	Context("when the database is empty", func() {
		It("applies every migration in order", func() {
			applied, err := migrator.Up(ctx)
			Expect(err).NotTo(HaveOccurred())

			Expect(versionsOf(applied)).To(Equal(versions))
			for _, r := range applied {
				Expect(r.Direction).To(Equal("up"))
			}
			for _, table := range []string{
				"form526_submissions", "form_attachments", "lighthouse526_document_uploads",
				"lighthouse526_notification_outbox", "lighthouse526_polling_cycles", "lighthouse526_upload_poll_states", db.MigrationsTable,
			} {
				Expect(tableExists(gdb, table)).To(BeTrue(), "table %s", table)
			}
		})

		It("reports every migration pending before, and applied after", func() {
			pending, err := migrator.HasPending(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(pending).To(BeTrue())
			before, err := migrator.Status(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(before).To(HaveLen(len(versions)))
			Expect(before).To(HaveEach(HaveField("Applied", BeFalse())))

			_, err = migrator.Up(ctx)
			Expect(err).NotTo(HaveOccurred())

			after, err := migrator.Status(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(after).To(HaveLen(len(versions)))
			for i, s := range after {
				Expect(s.Version).To(Equal(versions[i]))
				Expect(s.Name).To(Or(HaveSuffix(".sql"), HaveSuffix(".go")))
				Expect(s.Applied).To(BeTrue(), "migration %d", s.Version)
			}
			pending, err = migrator.HasPending(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(pending).To(BeFalse())
		})
	})

	Context("when the schema is already current", func() {
		var before schemaSnapshot

		BeforeEach(func() {
			_, err := migrator.Up(ctx)
			Expect(err).NotTo(HaveOccurred())
			before = snapshot(gdb)
		})

		It("applies nothing and leaves the schema identical", func() {
			applied, err := migrator.Up(ctx)
			Expect(err).NotTo(HaveOccurred())

			Expect(applied).To(BeEmpty())
			after := snapshot(gdb)
			Expect(after.Columns).To(Equal(before.Columns))
			Expect(after.Indexes).To(Equal(before.Indexes))
		})
	})

	Context("when the reference tables already exist with rows", func() {
		// As VA.gov's application database has them: made by ActiveRecord,
		// with columns this worker does not know, and one row each.
		BeforeEach(func() {
			Expect(dbtest.MakeVAGovTables(ctx, url)).To(Succeed())
			Expect(gdb.Exec(`
INSERT INTO form526_submissions (user_uuid, saved_claim_id, form_json_ciphertext, created_at, updated_at)
     VALUES ('e6b5f0a8-1b6a-4c53-9c3b-5d5a1c2f8f11', 42, '{}', now(), now());
INSERT INTO form_attachments (guid, type, file_data_ciphertext, created_at, updated_at)
     VALUES ('2c3e7f0e-0c5a-4d41-9f1e-8d0a7a3b9c21', 'SupportingEvidenceAttachment', '{"filename":"x.pdf"}', now(), now());
INSERT INTO lighthouse526_document_uploads (form526_submission_id, form_attachment_id, lighthouse_document_request_id,
            aasm_state, document_type, error_message, created_at, updated_at)
     VALUES (1, 1, '22', 'pending', 'Veteran Upload', NULL, now(), now());
`).Error).To(Succeed())
		})

		It("applies every migration", func() {
			applied, err := migrator.Up(ctx)
			Expect(err).NotTo(HaveOccurred())

			Expect(versionsOf(applied)).To(Equal(versions))
		})

		It("keeps every row, and their columns", func() {
			_, err := migrator.Up(ctx)
			Expect(err).NotTo(HaveOccurred())

			var row struct {
				SavedClaimID                int
				GUID                        string `gorm:"column:guid"`
				LighthouseDocumentRequestID string
				AasmState                   string
			}
			Expect(gdb.Raw(`
SELECT s.saved_claim_id, fa.guid::text AS guid, u.lighthouse_document_request_id, u.aasm_state
  FROM lighthouse526_document_uploads u
  JOIN form526_submissions s ON s.id = u.form526_submission_id
  JOIN form_attachments fa ON fa.id = u.form_attachment_id`).Scan(&row).Error).To(Succeed())
			Expect(row.SavedClaimID).To(Equal(42))
			Expect(row.GUID).To(Equal("2c3e7f0e-0c5a-4d41-9f1e-8d0a7a3b9c21"))
			Expect(row.LighthouseDocumentRequestID).To(Equal("22"))
			Expect(row.AasmState).To(Equal("pending"))
		})
	})

	Context("when the latest migration is rolled back", func() {
		var latest int64

		BeforeEach(func() {
			_, err := migrator.Up(ctx)
			Expect(err).NotTo(HaveOccurred())
			latest = versions[len(versions)-1]
		})

		It("rolls back exactly that one, and applies it again", func() {
			down, err := migrator.Down(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(versionsOf(down)).To(Equal([]int64{latest}))
			Expect(down[0].Direction).To(Equal("down"))

			status, err := migrator.Status(ctx)
			Expect(err).NotTo(HaveOccurred())
			for _, s := range status {
				Expect(s.Applied).To(Equal(s.Version != latest), "migration %d", s.Version)
			}

			up, err := migrator.Up(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(versionsOf(up)).To(Equal([]int64{latest}))
		})
	})

	Context("when every migration is rolled back", func() {
		var before schemaSnapshot

		BeforeEach(func() {
			_, err := migrator.Up(ctx)
			Expect(err).NotTo(HaveOccurred())
			before = snapshot(gdb)
		})

		It("keeps the reference tables, drops the worker's own, and migrates up to the same schema", func() {
			for range versions {
				_, err := migrator.Down(ctx)
				Expect(err).NotTo(HaveOccurred())
			}
			Expect(tableExists(gdb, "lighthouse526_document_uploads")).To(BeTrue())
			Expect(tableExists(gdb, "lighthouse526_notification_outbox")).To(BeFalse())
			Expect(tableExists(gdb, "lighthouse526_polling_cycles")).To(BeFalse())
			Expect(tableExists(gdb, "lighthouse526_upload_poll_states")).To(BeFalse())

			up, err := migrator.Up(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(versionsOf(up)).To(Equal(versions))
			after := snapshot(gdb)
			Expect(after.Columns).To(Equal(before.Columns))
			Expect(after.Indexes).To(Equal(before.Indexes))
		})
	})

	Context("when several replicas migrate at once", func() {
		It("applies each migration once and fails none", func() {
			const replicas = 4
			var (
				wg      sync.WaitGroup
				mu      sync.Mutex
				applied []int64
				errs    []error
			)
			for range replicas {
				// Each replica has its own pool, as separate processes do.
				pool, err := db.Open(ctx, db.Options{URL: url, MaxOpenConns: 2, MaxIdleConns: 2})
				Expect(err).NotTo(HaveOccurred())
				DeferCleanup(db.Close, pool)
				m := newMigrator(pool)
				wg.Go(func() {
					defer GinkgoRecover()
					rs, err := m.Up(ctx)
					mu.Lock()
					defer mu.Unlock()
					applied = append(applied, versionsOf(rs)...)
					if err != nil {
						errs = append(errs, err)
					}
				})
			}
			wg.Wait()

			Expect(errs).To(BeEmpty())
			Expect(applied).To(ConsistOf(versions))
		})
	})
})
