package spec_test

import (
	"context"
	"fmt"
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/lighthouse/fake"
	"github.com/vagov/lighthouse526/models"
	"github.com/vagov/lighthouse526/vagov/flipper"
	"github.com/vagov/lighthouse526/vagov/rails"
)

// The veteran emails follow VA.gov's Flipper flag at run time, as the
// original's Flipper.enabled? at each failure did: operators turn them on
// and off with Flipper (here Debian's ruby-flipper and its ActiveRecord
// adapter, as vets-api's Flipper UI does), and one `worker run`, never
// restarted, starts and stops emailing within a minute. The flag's age is
// shortened to a second (FAILURE_NOTIFICATIONS_FLAG_MAX_AGE) so the spec
// takes seconds.
var _ = Describe("Failure emails under Flipper's flag", func() {
	var (
		w        *world
		side     *sidekiqSide
		vagov    *gorm.DB
		vagovURL string
		proc     *workerProc
	)

	BeforeEach(func(ctx SpecContext) {
		w = newWorld()
		vagov, vagovURL = vagovDatabase(ctx, "spec_flipper")
		w.env["DATABASE_URL"] = vagovURL
		side = newSidekiqSide(w, "", true)
		side.start()
		// Unset: Flipper's flag decides.
		delete(w.env, "FAILURE_NOTIFICATIONS_ENABLED")
		w.env["FAILURE_NOTIFICATIONS_FLAG_MAX_AGE"] = "1s"

		migrate := w.run([]string{"migrate"})
		Expect(migrate.ExitCode()).To(Equal(0), string(migrate.Err.Contents()))
		proc = w.startWorker()
	})

	// flipper turns the flag as an operator does.
	flipperSays := func(ctx context.Context, args ...string) {
		GinkgoHelper()
		_, err := rails.Ruby(ctx, vagovURL, "flipper.rb", append([]string{flipper.FailureEmailsFeature}, args...)...)
		Expect(err).NotTo(HaveOccurred())
	}

	// failure is one Form 0781 upload the fake fails, of a submission of its
	// own, polled by an ad hoc cycle of the running worker.
	type failure struct {
		uploadID, submissionID int64
		requestID              string
	}
	fail := func(ctx context.Context) failure {
		GinkgoHelper()
		var f failure
		Expect(vagov.Raw(`INSERT INTO form526_submissions (user_uuid, created_at, updated_at)
			VALUES ('e6b5f0a8-1b6a-4c53-9c3b-5d5a1c2f8f11', now(), now()) RETURNING id`).Scan(&f.submissionID).Error).To(Succeed())
		f.requestID = w.fake.AddDocument(fake.Document{Outcome: fake.StatusFailed})
		Expect(vagov.Raw(`INSERT INTO lighthouse526_document_uploads (form526_submission_id, lighthouse_document_request_id,
			aasm_state, document_type, created_at, updated_at) VALUES (?, ?, 'pending', 'Form 0781', now(), now()) RETURNING id`,
			f.submissionID, f.requestID).Scan(&f.uploadID).Error).To(Succeed())
		w.enqueueAdHocCycle(ctx)
		return f
	}
	stateOf := func(f failure) string {
		GinkgoHelper()
		var s string
		Expect(vagov.Raw(`SELECT aasm_state FROM lighthouse526_document_uploads WHERE id = ?`, f.uploadID).Scan(&s).Error).To(Succeed())
		return s
	}
	emailed := func(f failure) bool {
		GinkgoHelper()
		var n int64
		Expect(vagov.Raw(`SELECT count(*) FROM lighthouse526_notification_outbox WHERE upload_id = ?`, f.uploadID).Scan(&n).Error).To(Succeed())
		return n > 0
	}
	// untilEmailed makes failures one after another, each once the one
	// before it has failed, until one's email decision is want, and
	// returns them all: how the flag's change reaches a running worker.
	untilEmailed := func(ctx context.Context, want bool) []failure {
		GinkgoHelper()
		var made []failure
		Eventually(func() bool {
			if n := len(made); n > 0 {
				last := made[n-1]
				if stateOf(last) != models.StateFailed {
					return false
				}
				if emailed(last) == want {
					return true
				}
			}
			made = append(made, fail(ctx))
			return false
		}).WithTimeout(time.Minute).WithPolling(200*time.Millisecond).Should(BeTrue(),
			"no failure emailed=%v within a minute of the flag's change", want)
		return made
	}
	form0781Job := func(f failure) sidekiqJob {
		return sidekiqJob{"EVSS::DisabilityCompensationForm::Form0781DocumentUploadFailureEmail", "[" + strconv.FormatInt(f.submissionID, 10) + "]"}
	}

	It("emails no failure while the flag is absent or off, and starts and stops with it, with no restart", func(ctx SpecContext) {
		By("the flag absent: said once at start, and no email")
		Eventually(proc.logsWithFunc(flipper.LogFlagState)).Should(ContainElement(And(HaveKeyWithValue("level", "warn"),
			havePayload(HaveKeyWithValue("emails", "off"), HaveKeyWithValue("reason", "the flag is not in flipper_features")))))
		before := fail(ctx)
		Eventually(func() string { return stateOf(before) }).WithTimeout(30 * time.Second).Should(Equal(models.StateFailed))
		Expect(emailed(before)).To(BeFalse())

		By("Flipper.enable: emails start within a minute")
		flipperSays(ctx, "enable")
		on := untilEmailed(ctx, true)
		first := on[len(on)-1]
		Eventually(side.performed(ctx)).WithTimeout(30 * time.Second).Should(ContainElement(form0781Job(first)))
		also := fail(ctx)
		Eventually(func() string { return stateOf(also) }).WithTimeout(30 * time.Second).Should(Equal(models.StateFailed))
		Expect(emailed(also)).To(BeTrue(), "every failure while the flag is on")
		Eventually(side.performed(ctx)).WithTimeout(30 * time.Second).Should(ContainElement(form0781Job(also)))

		By("Flipper.disable: emails stop within a minute")
		flipperSays(ctx, "disable")
		off := untilEmailed(ctx, false)
		last := off[len(off)-1]
		Consistently(side.performed(ctx)).WithTimeout(3 * time.Second).ShouldNot(ContainElement(form0781Job(last)))
		Expect(side.performed(ctx)()).NotTo(ContainElement(form0781Job(before)), "the failure before the flag was on")

		By("percentage_of_time 100: on for every failure again")
		flipperSays(ctx, "percentage_of_time", "100")
		untilEmailed(ctx, true)

		Expect(proc.session.ExitCode()).To(Equal(-1), "the worker still runs: no restart")
		states := proc.logsWith(flipper.LogFlagState)
		var said []string
		for _, e := range states {
			said = append(said, fmt.Sprint(e.payload()["emails"]))
		}
		Expect(said).To(Equal([]string{"off", "on", "off", "100% of checks"}), "the state said once, and at each change")
	})
})

// Issue 22, item 5: with the emails possible and the original's target, a
// worker without SIDEKIQ_REDIS_URL would push the email jobs into its own
// Redis, mark them sent, and no Sidekiq would ever run them. It refuses to
// start instead.
var _ = Describe("Failure emails to Sidekiq without SIDEKIQ_REDIS_URL", func() {
	DescribeTable("refused at start, naming the variable, exit 2",
		func(args []string, emails string) {
			w := newWorld()
			delete(w.env, "FAILURE_NOTIFICATIONS_ENABLED")
			if emails != "" {
				w.env["FAILURE_NOTIFICATIONS_ENABLED"] = emails
			}
			session := w.start(args)
			Eventually(session).WithTimeout(30*time.Second).Should(gexec.Exit(2), "worker %v", args)
			Expect(string(session.Err.Contents())).To(ContainSubstring(
				"SIDEKIQ_REDIS_URL: required with NOTIFICATION_TARGET=sidekiq when failure emails can be sent"))
			Expect(w.fake.Requests()).To(BeEmpty(), "nothing polled")
		},
		Entry("worker run, Flipper's flag deciding", []string{"run"}, ""),
		Entry("worker run, the emails forced on", []string{"run"}, "true"),
		Entry("worker poll --now, Flipper's flag deciding", []string{"poll", "--now"}, ""),
	)
})
