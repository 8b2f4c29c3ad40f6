package spec_test

import (
	"encoding/json"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/db/dbtest"
	"github.com/vagov/lighthouse526/lighthouse/fake"
	"github.com/vagov/lighthouse526/models"
)

// The cutover's database: VA.gov's application database, where Rails made its
// three tables (and owns them), and nothing of the worker yet. Here
// ActiveRecord itself makes them, from vets-api's schema
// (vagov/rails/schema.rb: integer keys on form526_submissions and
// form_attachments, timestamp(6), its indexes, Flipper's tables).
// `worker migrate` must leave them exactly as they were, the worker must
// poll them, and Rails must read back every row the worker wrote.
var _ = Describe("A database where only VA.gov's tables exist, made by ActiveRecord", func() {
	var (
		w          *world
		vagov      *gorm.DB
		vagovURL   string
		before     []string
		done       []string // request ids the fake completes
		failed     string
		inProgress string
	)

	BeforeEach(func(ctx SpecContext) {
		w = newWorld()
		vagov, vagovURL = vagovDatabase(ctx, "spec_vagov")
		w.env["DATABASE_URL"] = vagovURL

		// Lighthouse's times carry milliseconds, which the original cut to
		// the second; the statuses carry fields the worker does not know.
		started := time.Date(2024, 6, 20, 17, 0, 51, 802_000_000, time.UTC)
		done = []string{
			w.fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess, Started: started, Ended: started.Add(90*time.Minute + 415*time.Millisecond)}),
			w.fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess, Extra: map[string]any{"trackedItemIds": []int{7, 9}, "note": nil}}),
		}
		failed = w.fake.AddDocument(fake.Document{Outcome: fake.StatusFailed, FailedStep: fake.StepBGS,
			ErrorDetail: `BGS refused: "claim 600453005" — retry exhausted <&>`, Started: started, Ended: started.Add(26 * time.Hour)})
		inProgress = w.fake.AddDocument(fake.Document{Outcome: fake.StatusInProgress, CurrentStep: fake.StepBGS, Started: started})
		// As the Rails application writes them: one submission, one
		// attachment, pending uploads, and one Lighthouse does not know.
		Expect(vagov.Exec(`
INSERT INTO form526_submissions (id, user_uuid, saved_claim_id, form_json_ciphertext, created_at, updated_at)
     VALUES (1, 'e6b5f0a8-1b6a-4c53-9c3b-5d5a1c2f8f11', 42, 'x', now(), now());
INSERT INTO form_attachments (id, guid, type, file_data_ciphertext, created_at, updated_at)
     VALUES (1, '2c3e7f0e-0c5a-4d41-9f1e-8d0a7a3b9c21', 'SupportingEvidenceAttachment', 'x', now(), now());
`).Error).To(Succeed())
		Expect(vagov.Exec(`
INSERT INTO lighthouse526_document_uploads (form526_submission_id, form_attachment_id, lighthouse_document_request_id,
            aasm_state, document_type, created_at, updated_at)
     VALUES (1, NULL, ?, 'pending', 'BDD Instructions', now(), now()),
            (1, 1, ?, 'pending', 'Veteran Upload', now(), now()),
            (1, NULL, ?, 'pending', 'Form 0781', now(), now()),
            (1, NULL, ?, 'pending', 'Form 0781a', now(), now()),
            (1, NULL, '987654', 'pending', 'Form 0781a', now(), now())
`, done[0], done[1], failed, inProgress).Error).To(Succeed())
		var err error
		before, err = dbtest.VAGovTables(ctx, vagov)
		Expect(err).NotTo(HaveOccurred())
	})

	stateOf := func(requestID string) string {
		GinkgoHelper()
		var s string
		Expect(vagov.Raw(`SELECT aasm_state FROM lighthouse526_document_uploads WHERE lighthouse_document_request_id = ?`, requestID).
			Scan(&s).Error).To(Succeed())
		return s
	}

	DescribeTable("migrate leaves VA.gov's tables as they were, the worker polls them, and Rails reads back every row it wrote",
		func(ctx SpecContext, schema string, workerTablesIn string) {
			w.env["DATABASE_SCHEMA"] = schema

			migrate := w.run([]string{"migrate"})
			Expect(migrate.ExitCode()).To(Equal(0), string(migrate.Err.Contents()))
			Expect(dbtest.VAGovTables(ctx, vagov)).To(Equal(before))
			var own []string
			Expect(vagov.Raw(`SELECT table_name FROM information_schema.tables WHERE table_schema = ? AND table_name LIKE 'lighthouse526\_%'
				AND table_name <> 'lighthouse526_document_uploads' ORDER BY 1`, workerTablesIn).Scan(&own).Error).To(Succeed())
			Expect(own).To(ConsistOf("lighthouse526_database_setup", "lighthouse526_notification_outbox", "lighthouse526_polling_cycles",
				"lighthouse526_schema_migrations", "lighthouse526_upload_poll_states"))

			polledFrom := time.Now()
			poll := w.run([]string{"poll", "--now", "--json"})
			polledTo := time.Now()
			Expect(poll.ExitCode()).To(Equal(0), string(poll.Err.Contents()))
			var sum map[string]any
			Expect(json.Unmarshal(poll.Out.Contents(), &sum)).To(Succeed())
			Expect(sum).To(HaveKeyWithValue("completed", BeNumerically("==", 2)))
			Expect(sum).To(HaveKeyWithValue("failed", BeNumerically("==", 1)))

			Expect(stateOf(done[0])).To(Equal(models.StateCompleted))
			Expect(stateOf(done[1])).To(Equal(models.StateCompleted))
			Expect(stateOf(failed)).To(Equal(models.StateFailed))
			Expect(stateOf(inProgress)).To(Equal(models.StatePending))
			Expect(stateOf("987654")).To(Equal(models.StatePending))
			var unknown int
			Expect(vagov.Raw(`SELECT s.unknown_poll_count FROM ` + workerTablesIn + `.lighthouse526_upload_poll_states s
				JOIN lighthouse526_document_uploads u ON u.id = s.upload_id WHERE u.lighthouse_document_request_id = '987654'`).
				Scan(&unknown).Error).To(Succeed())
			Expect(unknown).To(Equal(1))
			Expect(dbtest.VAGovTables(ctx, vagov)).To(Equal(before))

			byRails := readByRails(ctx, vagovURL)
			Expect(byRails).To(HaveLen(5))
			expectRailsReads(byRails[done[0]], models.StateCompleted, servedStatus(w.fake, done[0]), polledFrom, polledTo)
			expectRailsReads(byRails[done[1]], models.StateCompleted, servedStatus(w.fake, done[1]), polledFrom, polledTo)
			expectRailsReads(byRails[failed], models.StateFailed, servedStatus(w.fake, failed), polledFrom, polledTo)
			expectRailsReads(byRails[inProgress], models.StatePending, servedStatus(w.fake, inProgress), polledFrom, polledTo)
			expectRailsReads(byRails["987654"], models.StatePending, nil, polledFrom, polledTo)
			// What the fixtures gave, read through the associations.
			Expect(byRails[done[1]].FormAttachmentGUID).To(HaveValue(Equal("2c3e7f0e-0c5a-4d41-9f1e-8d0a7a3b9c21")))
			Expect(byRails[done[1]].FormAttachmentClass).To(HaveValue(Equal("SupportingEvidenceAttachment")))
			Expect(byRails[failed].SubmissionUserUUID).To(HaveValue(Equal("e6b5f0a8-1b6a-4c53-9c3b-5d5a1c2f8f11")))
			// The times the fake served, as the original stored them.
			Expect(byRails[done[0]].StartedAt.ISO8601).To(Equal("2024-06-20T17:00:51.000000Z"))
			Expect(byRails[done[0]].EndedAt.ISO8601).To(Equal("2024-06-20T18:30:52.000000Z"))
			Expect(byRails[failed].ErrorMessage.Value).To(MatchJSON(`{"detail":"BGS refused: \"claim 600453005\" — retry exhausted <&>","step":"BENEFITS_GATEWAY_SERVICE"}`))
		},
		Entry("in public, beside them", "", "public"),
		Entry("in the worker's own schema (DATABASE_SCHEMA)", "lighthouse526_worker", "lighthouse526_worker"),
	)

	It("leaves them as they were when the owners have applied the printed indexes, and uses them", func(ctx SpecContext) {
		printed := w.run([]string{"migrate", "--print-recommended-indexes"})
		Expect(printed.ExitCode()).To(Equal(0))
		sqlPart, railsPart, ok := strings.Cut(string(printed.Out.Contents()), "-- As a Rails migration")
		Expect(ok).To(BeTrue())
		Expect(railsPart).To(ContainSubstring("disable_ddl_transaction!"))
		Expect(railsPart).To(ContainSubstring("add_index :lighthouse526_document_uploads, :lighthouse_document_request_id,"))
		Expect(railsPart).To(ContainSubstring("algorithm: :concurrently"))
		// The SQL is what the owners run: each statement on its own.
		for _, stmt := range strings.Split(sqlPart, ";\n") {
			if strings.Contains(stmt, "CREATE INDEX CONCURRENTLY") {
				Expect(vagov.Exec(stmt).Error).To(Succeed())
			}
		}
		withIndexes, err := dbtest.VAGovTables(ctx, vagov)
		Expect(err).NotTo(HaveOccurred())
		Expect(withIndexes).To(ContainElements(
			ContainSubstring("index_lighthouse526_document_uploads_due"),
			ContainSubstring("index_lighthouse526_document_uploads_on_request_id")))

		Expect(w.run([]string{"migrate"}).ExitCode()).To(Equal(0))
		Expect(dbtest.VAGovTables(ctx, vagov)).To(Equal(withIndexes))
		Expect(w.run([]string{"poll", "--now"}).ExitCode()).To(Equal(0))
		Expect(stateOf(done[0])).To(Equal(models.StateCompleted))
	})

	Context("when a column the worker needs is missing or of another type", func() {
		It("migrate stops before changing anything, and poll stops, each with one message naming both", func(ctx SpecContext) {
			Expect(w.run([]string{"migrate"}).ExitCode()).To(Equal(0))
			Expect(vagov.Exec(`ALTER TABLE lighthouse526_document_uploads DROP COLUMN document_type`).Error).To(Succeed())
			Expect(vagov.Exec(`ALTER TABLE form_attachments ALTER COLUMN guid TYPE varchar`).Error).To(Succeed())
			const problems = "column form_attachments.guid is character varying, want uuid; " +
				"column lighthouse526_document_uploads.document_type is missing (want character varying)"

			for _, args := range [][]string{{"poll", "--now"}, {"run"}, {"migrate"}} {
				session := w.run(args)
				Expect(session).To(gexec.Exit(1), "worker %s", args[0])
				Expect(string(session.Err.Contents())).To(ContainSubstring(
					"db: the database lacks what the worker reads and writes (searched \"$user\", public): "+problems+". "),
					"worker %s", args[0])
			}
			Expect(stateOf(done[0])).To(Equal(models.StatePending))
		})
	})
})
