package spec_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// `worker outbox drain` with the original's target and no SIDEKIQ_REDIS_URL
// would push the outbox's emails into the worker's own Redis, mark them
// sent, and no Sidekiq would run them: it refuses, exit 2, as `worker run`
// and `worker poll --now` do (spec/flipper_test.go), whatever
// FAILURE_NOTIFICATIONS_ENABLED says by then: the entries are emails
// already decided.
var _ = Describe("`worker outbox drain` to Sidekiq without SIDEKIQ_REDIS_URL", func() {
	DescribeTable("refuses, naming the variable, exit 2, and leaves the outbox as it was",
		func(ctx SpecContext, emails string) {
			w := newWorld()
			side := newSidekiqSide(w, "", true)
			// Where a drain without SIDEKIQ_REDIS_URL would push: the
			// worker's own Redis.
			DeferCleanup(func(ctx SpecContext) { rdb.Del(ctx, "queue:"+side.queue) })
			_, want := side.failedUploads(ctx, 1)
			// The poll fails them while VA.gov's Sidekiq Redis is
			// unreachable: their emails stay in the outbox.
			poll := w.run([]string{"poll", "--now", "--json"}, "SIDEKIQ_REDIS_URL=redis://127.0.0.1:1/0")
			Expect(poll.ExitCode()).To(Equal(0), string(poll.Err.Contents()))
			Expect(outbox(ctx)()).To(Equal(outboxCounts{Sent: 0, Unsent: int64(len(want))}))

			delete(w.env, "SIDEKIQ_REDIS_URL")
			delete(w.env, "FAILURE_NOTIFICATIONS_ENABLED")
			if emails != "" {
				w.env["FAILURE_NOTIFICATIONS_ENABLED"] = emails
			}
			session := w.run([]string{"outbox", "drain", "--timeout", "5s"})

			Expect(session.ExitCode()).To(Equal(2), "stdout %q, stderr %q", session.Out.Contents(), session.Err.Contents())
			Expect(string(session.Err.Contents())).To(ContainSubstring("SIDEKIQ_REDIS_URL: required with NOTIFICATION_TARGET=sidekiq to drain the outbox"))
			Expect(outbox(ctx)()).To(Equal(outboxCounts{Sent: 0, Unsent: int64(len(want))}), "nothing marked sent")
			Expect(side.waiting(ctx)).To(BeEmpty(), "nothing pushed to Sidekiq's Redis")
			Expect(rdb.Exists(ctx, "queue:"+side.queue).Val()).To(BeZero(), "nothing pushed to the worker's own Redis")
		},
		Entry("the emails on", "true"),
		Entry("Flipper's flag deciding", ""),
		Entry("the emails turned off since the entries were written", "false"),
	)
})
