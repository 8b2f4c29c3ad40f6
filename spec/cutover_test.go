package spec_test

import (
	"context"
	"encoding/json"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
	"github.com/redis/go-redis/v9"
)

// pollingJobClass is the Ruby job the worker replaces.
const pollingJobClass = "Lighthouse::Form526DocumentUploadPollingJob"

// cutoverCensus is what `worker cutover check --json` prints.
type cutoverCensus struct {
	Clear     bool             `json:"clear"`
	Redis     string           `json:"redis"`
	Class     string           `json:"class"`
	Processes int              `json:"processes"`
	Running   []censusSighting `json:"running"`
	Queued    []censusSighting `json:"queued"`
	Retrying  []censusSighting `json:"retrying"`
	Scheduled []censusSighting `json:"scheduled"`
}

type censusSighting struct {
	JID          string `json:"jid"`
	Queue        string `json:"queue"`
	Process      string `json:"process"`
	RetryCount   *int   `json:"retry_count"`
	Retry        any    `json:"retry"`
	ErrorClass   string `json:"error_class"`
	ErrorMessage string `json:"error_message"`
}

func jidsOf(s []censusSighting) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = x.JID
	}
	return out
}

// The switch-over's wait (docs/cutover.md): the worker is switched on only
// once no run of the Ruby job is left, read from a real Sidekiq (Debian's
// ruby-sidekiq) running a job of the original's class and retry count that
// really fails and is retried.
var _ = Describe("`worker cutover check` against VA.gov's Sidekiq", func() {
	var (
		w    *world
		side *sidekiqSide
	)

	BeforeEach(func() {
		w = newWorld()
		side = newSidekiqSide(w, "", true)
		DeferCleanup(func(ctx context.Context) { removePollingRuns(ctx, side.rdb) })
	})

	// check runs `worker cutover check --json` with args and returns its
	// census and exit status.
	check := func(args ...string) (cutoverCensus, int) {
		session := w.run(append([]string{"cutover", "check", "--json", "--settle", "1s"}, args...))
		var c cutoverCensus
		Expect(json.Unmarshal(session.Out.Contents(), &c)).To(Succeed(), "stdout %q, stderr %q", session.Out.Contents(), session.Err.Contents())
		Expect(c.Class).To(Equal(pollingJobClass))
		Expect(c.Redis).To(Equal("SIDEKIQ_REDIS_URL"))
		return c, session.ExitCode()
	}
	checkFunc := func() cutoverCensus { c, _ := check(); return c }

	It("says nothing can be told when no Sidekiq process is alive on that Redis", func() {
		session := w.run([]string{"cutover", "check", "--settle", "0s"})

		Expect(session.ExitCode()).To(Equal(3))
		Expect(string(session.Err.Contents())).To(ContainSubstring("no live Sidekiq process on SIDEKIQ_REDIS_URL"))
		Expect(string(session.Out.Contents())).To(ContainSubstring("0 live processes"))
	})

	It("finds a run queued, scheduled, retrying and running, waits for it, and says clear once none is left", func(ctx SpecContext) {
		side.startWith("polling_job.rb")
		Eventually(func() int { return checkFunc().Processes }).WithTimeout(30 * time.Second).Should(BeNumerically(">=", 1))
		c, code := check()
		Expect(code).To(Equal(0))
		Expect(c.Clear).To(BeTrue())

		By("a run waiting on a queue no process serves")
		jid := string(side.ruby("polling_push.rb", side.queue+"_other"))
		c, code = check()
		Expect(code).To(Equal(3))
		Expect(c.Clear).To(BeFalse())
		Expect(c.Queued).To(ConsistOf(And(HaveField("JID", jid), HaveField("Queue", side.queue+"_other"))))
		Expect(side.rdb.Del(ctx, "queue:"+side.queue+"_other").Err()).To(Succeed())

		By("a run scheduled for later")
		jid = string(side.ruby("polling_push.rb", side.queue, "3600"))
		c, code = check()
		Expect(code).To(Equal(3))
		Expect(jidsOf(c.Scheduled)).To(Equal([]string{jid}))
		removePollingRuns(ctx, side.rdb)
		Expect(check()).To(HaveField("Clear", BeTrue()))

		By("a run that failed and waits for its retry")
		Expect(side.rdb.Set(ctx, side.modeKey(), "fail", time.Hour).Err()).To(Succeed())
		jid = string(side.ruby("polling_push.rb", side.queue))
		Eventually(func() []censusSighting { return checkFunc().Retrying }).WithTimeout(30 * time.Second).Should(ConsistOf(And(
			HaveField("JID", jid),
			HaveField("RetryCount", HaveValue(Equal(0))),
			HaveField("Retry", BeNumerically("==", 7)),
			HaveField("ErrorClass", "RuntimeError"),
			HaveField("ErrorMessage", ContainSubstring("503")),
		)))

		By("the same run retried and running")
		Expect(side.rdb.Set(ctx, side.modeKey(), "hold", time.Hour).Err()).To(Succeed())
		side.ruby("retry_now.rb")
		Eventually(func() []censusSighting { return checkFunc().Running }).WithTimeout(30 * time.Second).Should(ConsistOf(And(
			HaveField("JID", jid), HaveField("Queue", side.queue), HaveField("Process", Not(BeEmpty())),
		)))

		By("a wait that ends while it still runs")
		short := w.run([]string{"cutover", "check", "--wait", "3s", "--interval", "1s", "--settle", "1s"})
		Expect(short.ExitCode()).To(Equal(3))
		Expect(string(short.Out.Contents())).To(ContainSubstring("jid " + jid))
		Expect(string(short.Err.Contents())).To(ContainSubstring("could poll and email a failure twice"))

		By("a wait that ends when the run finishes")
		waiting := w.start([]string{"cutover", "check", "--json", "--wait", "2m", "--interval", "1s", "--settle", "1s"})
		Consistently(waiting).WithTimeout(3 * time.Second).ShouldNot(gexec.Exit())
		Expect(side.rdb.Set(ctx, side.modeKey(), "done", time.Hour).Err()).To(Succeed())
		Eventually(waiting).WithTimeout(90 * time.Second).Should(gexec.Exit(0))
		var done cutoverCensus
		Expect(json.Unmarshal(waiting.Out.Contents(), &done)).To(Succeed())
		Expect(done.Clear).To(BeTrue())
		Expect(done.Processes).To(BeNumerically(">=", 1))
		_, performed := side.performedJobs(ctx)
		Expect(performed).To(ContainElement(jid))
	})

	It("refuses a wait past its bound, naming the flag", func() {
		session := w.run([]string{"cutover", "check", "--wait", "3h"})

		Expect(session.ExitCode()).To(Equal(2))
		Expect(string(session.Err.Contents())).To(ContainSubstring("--wait must be at most 2h0m0s"))
	})
})

// removePollingRuns removes the stand-in polling job's runs from the retry
// and schedule sets of a spec's Sidekiq database.
func removePollingRuns(ctx context.Context, rdb *redis.Client) {
	for _, key := range []string{"retry", "schedule"} {
		members, _, err := rdb.ZScan(ctx, key, 0, "*"+pollingJobClass+"*", 1000).Result()
		Expect(err).NotTo(HaveOccurred())
		for i := 0; i < len(members); i += 2 {
			Expect(rdb.ZRem(ctx, key, members[i]).Err()).To(Succeed())
		}
	}
}

// A rollback's first step (docs/cutover.md): the failure emails the worker
// wrote and has not handed to Sidekiq yet are pushed before the Ruby job,
// which knows nothing of the outbox, takes over again.
var _ = Describe("`worker outbox`", func() {
	var (
		w    *world
		side *sidekiqSide
		want []sidekiqJob
	)

	// unreachable is a Sidekiq Redis nobody listens on.
	const unreachable = "SIDEKIQ_REDIS_URL=redis://127.0.0.1:1/0"

	BeforeEach(func(ctx SpecContext) {
		w = newWorld()
		side = newSidekiqSide(w, "", true)
		_, want = side.failedUploads(ctx, 1)
		// The poll fails them while VA.gov's Sidekiq Redis is unreachable:
		// their emails stay in the outbox.
		poll := w.run([]string{"poll", "--now", "--json"}, unreachable)
		Expect(poll.ExitCode()).To(Equal(0), string(poll.Err.Contents()))
		Expect(outbox(ctx)()).To(Equal(outboxCounts{Sent: 0, Unsent: int64(len(want))}))
	})

	type outboxOut struct {
		Sent, Unsent, Failing, Pushed int64
		WorkersRunning                int `json:"workers_running"`
		Entries                       []struct {
			TaskType  string  `json:"task_type"`
			Attempts  int     `json:"attempts"`
			LastError *string `json:"last_error"`
		}
	}
	run := func(args []string, extra ...string) (outboxOut, *gexec.Session) {
		session := w.run(append(args, "--json"), extra...)
		var out outboxOut
		Expect(json.Unmarshal(session.Out.Contents(), &out)).To(Succeed(), "stdout %q, stderr %q", session.Out.Contents(), session.Err.Contents())
		return out, session
	}

	It("shows the unsent emails, drains them onto Sidekiq, and Sidekiq performs them", func(ctx SpecContext) {
		shown, session := run([]string{"outbox", "show"})
		Expect(session.ExitCode()).To(Equal(0))
		Expect(shown.Unsent).To(BeNumerically("==", len(want)))
		Expect(shown.Failing).To(BeNumerically("==", len(want)))
		Expect(shown.Entries).To(HaveLen(len(want)))
		Expect(shown.Entries).To(HaveEach(And(HaveField("Attempts", 1), HaveField("LastError", HaveValue(Not(BeEmpty()))))))

		drained, session := run([]string{"outbox", "drain", "--timeout", "30s"})
		Expect(session.ExitCode()).To(Equal(0), string(session.Err.Contents()))
		Expect(drained.Pushed).To(BeNumerically("==", len(want)))
		Expect(drained.Unsent).To(BeZero())
		Expect(drained.Sent).To(BeNumerically("==", len(want)))
		Expect(side.waiting(ctx)).To(HaveLen(len(want)))

		side.start()
		Eventually(side.performed(ctx)).WithTimeout(30 * time.Second).Should(ConsistOf(want))
	})

	It("reports what it could not push once its timeout is over, and exits 3", func(ctx SpecContext) {
		drained, session := run([]string{"outbox", "drain", "--timeout", "3s"}, unreachable)

		Expect(session.ExitCode()).To(Equal(3))
		Expect(drained.Pushed).To(BeZero())
		Expect(drained.Unsent).To(BeNumerically("==", len(want)))
		Expect(string(session.Err.Contents())).To(ContainSubstring("left in the outbox"))
		Expect(outbox(ctx)()).To(Equal(outboxCounts{Sent: 0, Unsent: int64(len(want))}))
	})

	It("says when `worker run` still runs, whose later failures it cannot drain", func() {
		w.startWorker("--no-scheduler")

		drained, session := run([]string{"outbox", "drain", "--timeout", "30s"})

		Expect(session.ExitCode()).To(Equal(0), string(session.Err.Contents()))
		Expect(drained.WorkersRunning).To(Equal(1))
	})
})
