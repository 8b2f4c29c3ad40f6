package config_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/config"
	"github.com/vagov/lighthouse526/polling"
)

var _ = Describe("POLL_STRATEGY, the adaptive schedule and the rate budget", func() {
	It("defaults to fixed, hourly at minute 15, the default ladder, a daily floor and 30 of the 60 calls a minute", func() {
		cfg, err := config.Load(nil)
		Expect(err).NotTo(HaveOccurred())

		Expect(cfg.PollStrategy).To(Equal(config.StrategyFixed))
		Expect(cfg.PollCron).To(Equal("15 * * * *"))
		Expect(cfg.PollLadder).To(Equal(config.DefaultLadder))
		want, err := config.ParseLadder(config.DefaultLadder)
		Expect(err).NotTo(HaveOccurred())
		Expect(polling.Schedule{Ladder: cfg.Ladder, Floor: cfg.PollFloor}).To(Equal(polling.Schedule{Ladder: want, Floor: 24 * time.Hour}))
		Expect(cfg.LighthouseRateBudget).To(Equal(30))
		Expect(cfg.LighthouseCallsPerMinute()).To(Equal(30))
	})

	It("runs adaptive cycles every minute unless POLL_CRON says otherwise", func() {
		cfg, err := config.Load([]string{"POLL_STRATEGY=adaptive"})
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.PollStrategy).To(Equal(config.StrategyAdaptive))
		Expect(cfg.PollCron).To(Equal("* * * * *"))
		from := time.Date(2026, 3, 2, 10, 20, 30, 0, time.UTC)
		Expect(cfg.PollSchedule.Next(from)).To(Equal(time.Date(2026, 3, 2, 10, 21, 0, 0, time.UTC)))

		cfg, err = config.Load([]string{"POLL_STRATEGY=adaptive", "POLL_CRON=*/5 * * * *"})
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.PollCron).To(Equal("*/5 * * * *"))
	})

	It("reads a ladder, a floor and a budget, and prints them as `worker config` shows them", func() {
		cfg, err := config.Load([]string{"POLL_STRATEGY=adaptive", "POLL_LADDER=0:2s,10s:4s,30s:8s", "POLL_FLOOR=6h",
			"LIGHTHOUSE_RATE_BUDGET=12", "LIGHTHOUSE_RATE_LIMIT_PER_MINUTE=20",
			"POLL_CRON=@every 1s", "POLL_CRON_ALLOW_SUBMINUTE=true"})
		Expect(err).NotTo(HaveOccurred())
		Expect(polling.Schedule{Ladder: cfg.Ladder, Floor: cfg.PollFloor}.Interval(15 * time.Second)).To(Equal(4 * time.Second))
		Expect(cfg.PollFloor).To(Equal(6 * time.Hour))
		Expect(cfg.LighthouseCallsPerMinute()).To(Equal(12))
		Expect(cfg.String()).To(SatisfyAll(
			ContainSubstring("POLL_STRATEGY=adaptive\n"), ContainSubstring("POLL_LADDER=0:2s,10s:4s,30s:8s\n"),
			ContainSubstring("POLL_FLOOR=6h0m0s\n"), ContainSubstring("LIGHTHOUSE_RATE_BUDGET=12\n"),
			ContainSubstring("POLL_CRON=@every 1s\n")))
		Expect(config.EnvNames()).To(ContainElements("POLL_STRATEGY", "POLL_LADDER", "POLL_FLOOR", "LIGHTHOUSE_RATE_BUDGET"))
	})

	It("keeps an unset budget within a lower key limit", func() {
		cfg, err := config.Load([]string{"LIGHTHOUSE_RATE_LIMIT_PER_MINUTE=20"})
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.LighthouseRateBudget).To(Equal(20))
	})

	DescribeTable("refuses, naming the variable and why",
		func(environ []string, name, why string) {
			_, err := config.Load(environ)
			Expect(problemVars(err)).To(ContainElement(name))
			Expect(err).To(MatchError(ContainSubstring(why)))
		},
		Entry("an unknown strategy", []string{"POLL_STRATEGY=hourly"}, "POLL_STRATEGY", `poll strategy "hourly": want "fixed" or "adaptive"`),
		Entry("a ladder out of order", []string{"POLL_LADDER=0:2m,1h:5m,30m:10m"}, "POLL_LADDER", "not after 1h0m0s"),
		Entry("a ladder not from 0", []string{"POLL_LADDER=1m:2m"}, "POLL_LADDER", "must start at 0"),
		Entry("a floor of nothing", []string{"POLL_FLOOR=0s"}, "POLL_FLOOR", "must be between 1s and 168h0m0s"),
		Entry("a budget above the key's limit", []string{"LIGHTHOUSE_RATE_BUDGET=61"}, "LIGHTHOUSE_RATE_BUDGET", "must be between 1 and 60, got 61"),
		Entry("a budget of none", []string{"LIGHTHOUSE_RATE_BUDGET=0"}, "LIGHTHOUSE_RATE_BUDGET", "must be between 1 and 60, got 0"),
		Entry("a sub-minute adaptive cron not allowed", []string{"POLL_STRATEGY=adaptive", "POLL_CRON=@every 1s"}, "POLL_CRON", "more often than once a minute"),
	)
})
