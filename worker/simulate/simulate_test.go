package simulate_test

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/config"
	"github.com/vagov/lighthouse526/polling"
	"github.com/vagov/lighthouse526/worker/simulate"
)

// small is a workload that runs in a fraction of a second: 400 uploads a
// day for a day's warm-up and two measured days, a tenth of them never
// finishing.
func small() simulate.Options {
	GinkgoHelper()
	mixture, err := simulate.ParseMixture("0.55:1h:15m,0.25:24h:4h,0.1:168h:48h", 0.1, 0.05)
	Expect(err).NotTo(HaveOccurred())
	ladder, err := config.ParseLadder(config.DefaultLadder)
	Expect(err).NotTo(HaveOccurred())
	return simulate.Options{
		Seed: 7, PerDay: 400, Warmup: 24 * time.Hour, Days: 2,
		Processing: mixture,
		Budget:     30, BatchSize: 100,
		Schedule:    polling.Schedule{Ladder: ladder, Floor: 24 * time.Hour},
		FixedPeriod: time.Hour,
		FirstPoll:   simulate.FirstPollAtCreation,
	}
}

func run(o simulate.Options) *simulate.Result {
	GinkgoHelper()
	res, err := simulate.Run(context.Background(), o)
	Expect(err).NotTo(HaveOccurred())
	return res
}

func jsonOf(r *simulate.Result) string {
	GinkgoHelper()
	var b bytes.Buffer
	Expect(simulate.WriteJSON(&b, r)).To(Succeed())
	return b.String()
}

var _ = Describe("Run", func() {
	var o simulate.Options

	BeforeEach(func() {
		o = small()
	})

	It("gives the same figures for the same seed, and others for another", func() {
		first := jsonOf(run(o))
		Expect(jsonOf(run(o))).To(Equal(first))
		o.Seed = 8
		Expect(jsonOf(run(o))).NotTo(Equal(first))
	})

	It("draws about --per-day uploads a day over a week", func() {
		o.PerDay, o.Days, o.Warmup = 2000, 7, 0
		res := run(o)
		Expect(float64(res.Uploads)).To(BeNumerically("~", 2000*7, 2000*7*0.03))
	})

	It("detects every upload Lighthouse ended, under both strategies", func() {
		res := run(o)
		for _, s := range res.Strategies {
			Expect(s.Finished).To(BeNumerically(">", 500), string(s.Strategy))
			Expect(s.Undetected).To(BeZero(), string(s.Strategy))
			Expect(s.Latencies()).To(HaveLen(s.Finished), string(s.Strategy))
			Expect(s.Latencies()[0]).To(BeNumerically(">=", 0), string(s.Strategy))
		}
	})

	Context("when the budget is tight", func() {
		BeforeEach(func() {
			o.Budget, o.BatchSize = 2, 5
		})

		It("keeps the adaptive strategy's calls a minute within it, and still detects everything", func() {
			res := run(o)
			Expect(res.Adaptive().PeakCallsPerMinute).To(BeNumerically(">", 0))
			Expect(res.Adaptive().PeakCallsPerMinute).To(BeNumerically("<=", 2))
			Expect(res.Adaptive().Undetected).To(BeZero())
		})

		It("spills the fixed strategy's calls into later minutes, its latency at most a period and the spill", func() {
			res := run(o)
			fixed := res.Fixed()
			Expect(fixed.PeakCallsPerMinute).To(Equal(2))
			// A cycle's calls take at most all uploads' batches over the
			// budget minutes.
			spill := math.Ceil(float64(res.Uploads) / 5 / 2)
			Expect(fixed.LatencyMax).To(BeNumerically("<=", 60+spill))
			Expect(fixed.LatencyMax).To(BeNumerically(">", 60), "the spill delays some")
		})
	})

	It("detects within a fixed period when nothing spills", func() {
		o.FixedPeriod = 30 * time.Minute
		res := run(o)
		Expect(res.Fixed().LatencyMax).To(BeNumerically("<=", 30))
		Expect(res.Fixed().LatencyP50).To(BeNumerically("~", 15, 3))
	})

	// neverOrQuick: a tenth of the uploads never finish and the rest within
	// the hour, so that the oldest upload pending is one that never
	// finishes, its status never moved.
	neverOrQuick := func() {
		mixture, err := simulate.ParseMixture("0.9:1h:15m", 0.1, 0.05)
		Expect(err).NotTo(HaveOccurred())
		o.Processing = mixture
	}

	It("polls the never-finishing uploads at least every floor", func() {
		neverOrQuick()
		ladder, err := config.ParseLadder("0:10m,1h:1h,24h:24h")
		Expect(err).NotTo(HaveOccurred())
		o.Schedule = polling.Schedule{Ladder: ladder, Floor: 3 * time.Hour}
		res := run(o)
		adaptive := res.Adaptive()
		Expect(adaptive.NeverFinishing).To(BeNumerically(">", 50))
		Expect(adaptive.NeverLongestGap).To(BeNumerically("<=", 180))
		Expect(adaptive.NeverLongestGap).To(BeNumerically(">", 60), "the floor, not the hourly rung, spaces them")
		Expect(adaptive.OldestPendingInterval).To(Equal(180.0))
		Expect(adaptive.NeverPolledDaily).To(Equal(1.0))
	})

	It("polls an old upload by the ladder's rung of its age under adaptive, every period under fixed", func() {
		neverOrQuick()
		res := run(o)
		Expect(res.Fixed().OldestPendingInterval).To(Equal(60.0))
		Expect(res.Adaptive().OldestPendingInterval).To(Equal(4 * 60.0)) // three days old: the 24h:4h rung
		Expect(res.Adaptive().OldestPendingAge).To(BeNumerically(">", 2*24*60))
	})

	It("polls a new upload at the ladder's first grid point with --first-poll grid", func() {
		created := run(o).Adaptive()
		o.FirstPoll = simulate.FirstPollOnGrid
		grid := run(o).Adaptive()
		Expect(grid.Calls).To(BeNumerically("<", created.Calls))
		Expect(grid.PollsPerUploadMean).To(BeNumerically("<", created.PollsPerUploadMean))
	})

	It("judges the goals from the figures: an hourly first rung misses the median", func() {
		ladder, err := config.ParseLadder("0:1h,24h:4h")
		Expect(err).NotTo(HaveOccurred())
		o.Schedule.Ladder = ladder
		res := run(o)
		Expect(res.Goals).To(HaveLen(5))
		median := res.Goals[0]
		Expect(median.Name).To(ContainSubstring("median detection latency"))
		Expect(res.Adaptive().LatencyP50).To(BeNumerically(">", simulate.GoalMedianMinutes))
		Expect(median.Met).To(BeFalse())
		Expect(res.Met()).To(BeFalse())
	})

	DescribeTable("refuses options it cannot run",
		func(change func(*simulate.Options), message string) {
			change(&o)
			_, err := simulate.Run(context.Background(), o)
			Expect(err).To(MatchError(ContainSubstring(message)))
		},
		Entry("no arrivals", func(o *simulate.Options) { o.PerDay = 0 }, "arrivals a day must be positive"),
		Entry("NaN arrivals (ran for ever, to 21 GB)", func(o *simulate.Options) { o.PerDay = math.NaN() }, "arrivals a day must be positive and at most 100000"),
		Entry("infinite arrivals", func(o *simulate.Options) { o.PerDay = math.Inf(1) }, "at most 100000"),
		Entry("1e12 arrivals", func(o *simulate.Options) { o.PerDay = 1e12 }, "at most 100000"),
		Entry("100,000 days", func(o *simulate.Options) { o.Days = 100000 }, "at most 92"),
		Entry("more uploads than the bound", func(o *simulate.Options) { o.PerDay, o.Days = 100000, 30 }, "at most 1000000 uploads"),
		Entry("a floor under a second", func(o *simulate.Options) { o.Schedule.Floor = time.Nanosecond }, "floor must be between 1s"),
		Entry("no days", func(o *simulate.Options) { o.Days = 0 }, "measured days must be positive"),
		Entry("no budget", func(o *simulate.Options) { o.Budget = 0 }, "budget must be positive"),
		Entry("a fixed period of seconds", func(o *simulate.Options) { o.FixedPeriod = 90 * time.Second }, "whole number of minutes"),
		Entry("no ladder", func(o *simulate.Options) { o.Schedule.Ladder = nil }, "no rungs"),
	)
})

var _ = Describe("Run's context", func() {
	It("stops the run when the context ends, with its error", func() {
		o := small()
		o.PerDay, o.Days = 20000, 30 // seconds of work, were it run
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		res, err := simulate.Run(ctx, o)
		Expect(err).To(MatchError(context.Canceled))
		Expect(res).To(BeNil())
	})
})

var _ = Describe("Mixture", func() {
	It("draws each component's share within its window, around its median", func() {
		m, err := simulate.ParseMixture(simulate.DefaultMixture, simulate.DefaultNever, simulate.DefaultFailed)
		Expect(err).NotTo(HaveOccurred())
		r := rand.New(rand.NewPCG(1, 2))
		const n = 200_000
		var never, failed, finished int
		var hour, day, week []time.Duration
		for range n {
			d, finishes, f := m.Draw(r)
			switch {
			case !finishes:
				never++
				continue
			case d <= time.Hour:
				hour = append(hour, d)
			case d <= 24*time.Hour:
				day = append(day, d)
			default:
				Expect(d).To(BeNumerically("<=", 168*time.Hour))
				week = append(week, d)
			}
			finished++
			if f {
				failed++
			}
		}
		share := func(k int) float64 { return float64(k) / n }
		Expect(share(never)).To(BeNumerically("~", 0.02, 0.002))
		Expect(share(len(hour))).To(BeNumerically("~", 0.60, 0.005))
		Expect(share(len(day))).To(BeNumerically("~", 0.30, 0.005))
		Expect(share(len(week))).To(BeNumerically("~", 0.08, 0.003))
		Expect(float64(failed) / float64(finished)).To(BeNumerically("~", 0.05, 0.003))
		median := func(ds []time.Duration) time.Duration {
			slices.Sort(ds)
			return ds[len(ds)/2]
		}
		Expect(median(hour)).To(BeNumerically("~", 15*time.Minute, 30*time.Second))
		Expect(median(day)).To(BeNumerically("~", 4*time.Hour, 10*time.Minute))
		Expect(median(week)).To(BeNumerically("~", 48*time.Hour, 2*time.Hour))
	})

	DescribeTable("refuses a mixture that does not add up",
		func(s string, never float64, message string) {
			_, err := simulate.ParseMixture(s, never, 0.05)
			Expect(err).To(MatchError(ContainSubstring(message)))
		},
		Entry("shares short of 1", "0.5:1h:15m", 0.02, "add up to 0.52, not 1"),
		Entry("a median outside its window", "0.98:1h:2h", 0.02, "median 2h0m0s is not inside its window"),
		Entry("windows out of order", "0.5:2h:15m,0.48:1h:30m", 0.02, "is not after the previous one's"),
		Entry("a component without a median", "0.98:1h", 0.02, "want share:within:median"),
	)
})
