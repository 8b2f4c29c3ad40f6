package config_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/config"
)

var _ = Describe("POLL_CRON", func() {
	now := time.Date(2026, 3, 2, 10, 20, 0, 0, time.UTC)

	DescribeTable("accepts a schedule that fires at most once a minute, and gives its next tick",
		func(spec string, next time.Time) {
			s, err := config.ParseSchedule(spec, false, now)
			Expect(err).NotTo(HaveOccurred())
			Expect(s.Next(now)).To(BeTemporally("==", next))
		},
		Entry("the default, in UTC", "15 * * * *", time.Date(2026, 3, 2, 11, 15, 0, 0, time.UTC)),
		Entry("every minute", "* * * * *", time.Date(2026, 3, 2, 10, 21, 0, 0, time.UTC)),
		Entry("a descriptor", "@hourly", time.Date(2026, 3, 2, 11, 0, 0, 0, time.UTC)),
		Entry("@every a minute", "@every 1m", time.Date(2026, 3, 2, 10, 21, 0, 0, time.UTC)),
		// 9:00 in New York is 14:00 UTC in winter (EST, UTC-5).
		Entry("a CRON_TZ= prefix", "CRON_TZ=America/New_York 0 9 * * *", time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)),
		Entry("a TZ= prefix", "TZ=America/New_York 0 9 * * *", time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)),
	)

	DescribeTable("refuses a schedule that cannot run cycles, saying why",
		func(spec, why string) {
			_, err := config.ParseSchedule(spec, false, now)
			Expect(err).To(MatchError(ContainSubstring(why)))
		},
		Entry("the 30th of February", "0 0 30 2 *", "never fires: no time in the next 5 years matches"),
		Entry("the 31st of April", "0 0 31 4 *", "never fires"),
		Entry("every 30 seconds", "@every 30s", "fires every 30s, more often than once a minute (POLL_CRON_ALLOW_SUBMINUTE=true allows it)"),
		Entry("six fields", "0 15 * * * *", "not a cron schedule"),
		Entry("an unknown time zone", "CRON_TZ=Mars/Olympus 15 * * * *", "not a cron schedule"),
		Entry("two time zones", "CRON_TZ=UTC CRON_TZ=UTC 15 * * * *", "not a cron schedule"),
		Entry("words", "every hour", "not a cron schedule"),
	)

	It("accepts a schedule firing more often than once a minute when allowed", func() {
		s, err := config.ParseSchedule("@every 30s", true, now)
		Expect(err).NotTo(HaveOccurred())
		Expect(s.Next(now)).To(BeTemporally("==", now.Add(30*time.Second)))
	})

	Describe("through Load", func() {
		It("refuses a schedule that never fires, naming POLL_CRON", func() {
			_, err := config.Load([]string{"POLL_CRON=0 0 30 2 *"})
			Expect(problemVars(err)).To(ConsistOf("POLL_CRON"))
			Expect(err).To(MatchError(ContainSubstring("POLL_CRON: never fires")))
		})

		It("allows a sub-minute schedule with POLL_CRON_ALLOW_SUBMINUTE=true only", func() {
			_, err := config.Load([]string{"POLL_CRON=@every 10s"})
			Expect(problemVars(err)).To(ConsistOf("POLL_CRON"))

			cfg, err := config.Load([]string{"POLL_CRON=@every 10s", "POLL_CRON_ALLOW_SUBMINUTE=true"})
			Expect(err).NotTo(HaveOccurred())
			Expect(cfg.PollCronAllowSubMinute).To(BeTrue())
		})

		It("gives the parsed schedule, with its time zone, to `worker run`", func() {
			cfg, err := config.Load([]string{"POLL_CRON=CRON_TZ=America/New_York 0 9 * * *"})
			Expect(err).NotTo(HaveOccurred())
			Expect(cfg.PollSchedule.Next(now)).To(BeTemporally("==", time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)))
		})
	})
})
