package config_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/config"
)

// specLadder is a ladder of every kind of rung.
const specLadder = "0:2m,10m:5m,30m:10m,1h:20m,2h:40m,4h:1h,24h:4h,168h:24h"

var _ = Describe("POLL_LADDER and POLL_STRATEGY", func() {
	DescribeTable("ladders it refuses",
		func(text, want string) {
			_, err := config.ParseLadder(text)
			Expect(err).To(MatchError(ContainSubstring(want)))
		},
		Entry("empty rung", "0:2m,", "rung 2"),
		Entry("no colon", "0:2m,5m", "want from:every"),
		Entry("not from 0", "1m:2m", "must start at 0"),
		Entry("out of order", "0:2m,1h:5m,30m:10m", "not after 1h0m0s"),
		Entry("shrinking interval", "0:5m,1h:2m", "shorter than"),
		Entry("zero interval", "0:0s", "under the minimum of 1s"),
		Entry("an interval under a microsecond (failed every adaptive cycle)", "0:999ns", "under the minimum of 1s"),
		Entry("an interval under a second", "0:1s,1m:999ms", "rung 2: interval 999ms is under the minimum of 1s"),
		Entry("bad duration", "0:soon", "invalid duration"),
	)

	It("writes a ladder as it reads it", func() {
		l, err := config.ParseLadder(specLadder)
		Expect(err).NotTo(HaveOccurred())
		Expect(l.String()).To(Equal("0:2m0s,10m0s:5m0s,30m0s:10m0s,1h0m0s:20m0s,2h0m0s:40m0s,4h0m0s:1h0m0s,24h0m0s:4h0m0s,168h0m0s:24h0m0s"))
		again, err := config.ParseLadder(l.String())
		Expect(err).NotTo(HaveOccurred())
		Expect(again).To(Equal(l))
	})

	It("reads both strategies and refuses others", func() {
		Expect(config.ParseStrategy("adaptive")).To(Equal(config.StrategyAdaptive))
		Expect(config.ParseStrategy(" fixed ")).To(Equal(config.StrategyFixed))
		_, err := config.ParseStrategy("hourly")
		Expect(err).To(MatchError(ContainSubstring(`"hourly"`)))
	})
})
