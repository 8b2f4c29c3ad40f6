package db_test

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"gorm.io/gorm"
)

type column struct {
	Name     string
	DataType string
	Nullable bool
}

type foreignKey struct {
	Table, Column, RefTable, RefColumn string
}

var _ = Describe("The migrated schema", func() {
	var gdb *gorm.DB

	BeforeEach(func(ctx SpecContext) {
		gdb, _ = emptyDatabase(ctx)
		_, err := newMigrator(gdb).Up(context.WithoutCancel(ctx))
		Expect(err).NotTo(HaveOccurred())
	})

	columnsOf := func(table string) map[string]column {
		GinkgoHelper()
		var cols []struct {
			ColumnName string
			DataType   string
			IsNullable string
		}
		Expect(gdb.Raw(`
SELECT column_name, data_type, is_nullable
  FROM information_schema.columns
 WHERE table_schema = 'public' AND table_name = ?`, table).Scan(&cols).Error).To(Succeed())
		out := make(map[string]column, len(cols))
		for _, c := range cols {
			out[c.ColumnName] = column{Name: c.ColumnName, DataType: c.DataType, Nullable: c.IsNullable == "YES"}
		}
		return out
	}

	Describe("lighthouse526_document_uploads", func() {
		It("has every column of the original table with its type and nullability", func() {
			cols := columnsOf("lighthouse526_document_uploads")

			for _, want := range []column{
				{"id", "bigint", false},
				{"form526_submission_id", "bigint", false},
				{"form_attachment_id", "bigint", true},
				{"lighthouse_document_request_id", "character varying", false},
				{"aasm_state", "character varying", true},
				{"document_type", "character varying", true},
				{"lighthouse_processing_started_at", "timestamp without time zone", true},
				{"lighthouse_processing_ended_at", "timestamp without time zone", true},
				{"status_last_polled_at", "timestamp without time zone", true},
				{"error_message", "jsonb", true},
				{"last_status_response", "jsonb", true},
				{"created_at", "timestamp without time zone", false},
				{"updated_at", "timestamp without time zone", false},
			} {
				Expect(cols).To(HaveKeyWithValue(want.Name, want))
			}
		})

		It("has no column but the original's", func() {
			Expect(columnsOf("lighthouse526_document_uploads")).To(HaveLen(13))
		})

		It("has the original's indexes and, since the worker created it, the recommended ones", func() {
			var names []string
			Expect(gdb.Raw(`SELECT indexname FROM pg_indexes WHERE tablename = 'lighthouse526_document_uploads'`).
				Scan(&names).Error).To(Succeed())

			Expect(names).To(ContainElements(
				"lighthouse526_document_uploads_pkey",
				"index_lighthouse526_document_uploads_on_form526_submission_id",
				"index_lighthouse526_document_uploads_on_form_attachment_id",
				"index_lighthouse526_document_uploads_on_aasm_state",
				"index_lighthouse526_document_uploads_on_status_last_polled_at",
				"index_lighthouse526_document_uploads_due",
				"index_lighthouse526_document_uploads_on_request_id",
			))
		})

		It("has a partial due index over pending uploads only", func() {
			var def string
			Expect(gdb.Raw(`SELECT indexdef FROM pg_indexes WHERE indexname = 'index_lighthouse526_document_uploads_due'`).
				Scan(&def).Error).To(Succeed())

			Expect(def).To(ContainSubstring("(id) INCLUDE (status_last_polled_at, lighthouse_document_request_id)"))
			Expect(def).To(ContainSubstring("WHERE ((aasm_state)::text = 'pending'::text)"))
		})
	})

	Describe("lighthouse526_upload_poll_states", func() {
		It("is the worker's own state of an upload, keyed by the upload's id", func() {
			Expect(columnsOf("lighthouse526_upload_poll_states")).To(Equal(map[string]column{
				"upload_id":          {"upload_id", "bigint", false},
				"quarantined_at":     {"quarantined_at", "timestamp without time zone", true},
				"quarantine_reason":  {"quarantine_reason", "character varying", true},
				"quarantine_detail":  {"quarantine_detail", "text", true},
				"unknown_poll_count": {"unknown_poll_count", "integer", false},
				"next_poll_at":       {"next_poll_at", "timestamp without time zone", true},
				"status_changed_at":  {"status_changed_at", "timestamp without time zone", true},
				"status_digest":      {"status_digest", "bigint", true},
				"created_at":         {"created_at", "timestamp without time zone", false},
				"updated_at":         {"updated_at", "timestamp without time zone", false},
			}))
			var defs []string
			Expect(gdb.Raw(`SELECT indexdef FROM pg_indexes WHERE tablename = 'lighthouse526_upload_poll_states' ORDER BY indexname`).
				Scan(&defs).Error).To(Succeed())
			Expect(defs).To(ConsistOf(
				ContainSubstring("UNIQUE INDEX lighthouse526_upload_poll_states_pkey"),
				SatisfyAll(ContainSubstring("(upload_id)"), ContainSubstring("WHERE (quarantined_at IS NOT NULL)")),
				SatisfyAll(ContainSubstring("(next_poll_at, upload_id)"), ContainSubstring("WHERE ((quarantined_at IS NULL) AND (next_poll_at IS NOT NULL))")),
			))
		})

		It("lets the application delete an upload that has a state", func() {
			Expect(gdb.Exec(`INSERT INTO form526_submissions (id, created_at, updated_at) VALUES (7, now(), now())`).Error).To(Succeed())
			Expect(gdb.Exec(`INSERT INTO lighthouse526_document_uploads
				(id, form526_submission_id, lighthouse_document_request_id, created_at, updated_at) VALUES (8, 7, '22', now(), now())`).Error).To(Succeed())
			Expect(gdb.Exec(`INSERT INTO lighthouse526_upload_poll_states (upload_id, quarantined_at, created_at, updated_at)
				VALUES (8, now(), now(), now())`).Error).To(Succeed())

			Expect(gdb.Exec(`DELETE FROM lighthouse526_document_uploads WHERE id = 8`).Error).To(Succeed())
		})
	})

	It("has the foreign keys of the original, and none from the worker's tables onto VA.gov's", func() {
		var fks []foreignKey
		Expect(gdb.Raw(`
SELECT cl.relname AS "table", a.attname AS "column", rcl.relname AS ref_table, ra.attname AS ref_column
  FROM pg_constraint c
  JOIN pg_class cl ON cl.oid = c.conrelid
  JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
  JOIN pg_class rcl ON rcl.oid = c.confrelid
  JOIN pg_attribute ra ON ra.attrelid = c.confrelid AND ra.attnum = c.confkey[1]
 WHERE c.contype = 'f'`).Scan(&fks).Error).To(Succeed())

		Expect(fks).To(ConsistOf(
			foreignKey{"lighthouse526_document_uploads", "form526_submission_id", "form526_submissions", "id"},
			foreignKey{"lighthouse526_document_uploads", "form_attachment_id", "form_attachments", "id"},
		))
	})

	It("enforces the foreign key to the submission", func() {
		err := gdb.Exec(`INSERT INTO lighthouse526_document_uploads
			(form526_submission_id, lighthouse_document_request_id, created_at, updated_at) VALUES (999, '22', now(), now())`).Error

		Expect(err).To(MatchError(ContainSubstring("violates foreign key constraint")))
	})

	It("allows one outbox row per upload", func() {
		var def string
		Expect(gdb.Raw(`SELECT indexdef FROM pg_indexes WHERE indexname = 'index_lighthouse526_notification_outbox_on_upload_id'`).
			Scan(&def).Error).To(Succeed())

		Expect(def).To(HavePrefix("CREATE UNIQUE INDEX"))
	})
})
