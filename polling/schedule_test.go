package polling_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/config"
	"github.com/vagov/lighthouse526/polling"
)

// specLadder is the ladder the schedule's specs read their figures off.
const specLadder = "0:2m,10m:5m,30m:10m,1h:20m,2h:40m,4h:1h,24h:4h,168h:24h"

var _ = Describe("Schedule", func() {
	var s polling.Schedule

	BeforeEach(func() {
		l, err := config.ParseLadder(specLadder)
		Expect(err).NotTo(HaveOccurred())
		s = polling.Schedule{Ladder: l, Floor: 24 * time.Hour}
	})

	DescribeTable("the interval by age",
		func(age, want time.Duration) { Expect(s.Interval(age)).To(Equal(want)) },
		Entry("new", time.Duration(0), 2*time.Minute),
		Entry("9 minutes", 9*time.Minute, 2*time.Minute),
		Entry("exactly 10 minutes", 10*time.Minute, 5*time.Minute),
		Entry("3 hours", 3*time.Hour, 40*time.Minute),
		Entry("2 days", 48*time.Hour, 4*time.Hour),
		Entry("a month", 30*24*time.Hour, 24*time.Hour),
	)

	It("never waits longer than the floor", func() {
		s.Floor = 6 * time.Hour
		Expect(s.Interval(30 * 24 * time.Hour)).To(Equal(6 * time.Hour))
		Expect(s.Interval(time.Minute)).To(Equal(2 * time.Minute))
	})

	It("puts the next poll on the first multiple of the interval after now", func() {
		created := time.Date(2026, 11, 28, 10, 0, 30, 0, time.UTC)
		now := created.Add(3*time.Minute + 10*time.Second) // 10:03:40, interval 2m
		Expect(s.Next(now, created)).To(Equal(time.Date(2026, 11, 28, 10, 4, 0, 0, time.UTC)))
		now = created.Add(8 * 24 * time.Hour) // daily: the next UTC midnight
		Expect(s.Next(now, created)).To(Equal(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)))
	})

	It("counts the age from since, so a status that just moved is polled often again", func() {
		created := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		now := time.Date(2026, 11, 28, 10, 1, 0, 0, time.UTC)
		Expect(s.Next(now, created)).To(Equal(time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)))
		Expect(s.Next(now, now)).To(Equal(time.Date(2026, 11, 28, 10, 2, 0, 0, time.UTC)))
	})

	It("gives a cycle its share of the budget, at least one call", func() {
		Expect(polling.CallsPerCycle(30, time.Minute)).To(Equal(30))
		Expect(polling.CallsPerCycle(30, 10*time.Second)).To(Equal(5))
		Expect(polling.CallsPerCycle(1, time.Second)).To(Equal(1))
	})

	It("orders the most overdue first, then by id", func() {
		t0 := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
		Expect(polling.Due(t0, 9, t0.Add(time.Second), 1)).To(Equal(-1))
		Expect(polling.Due(t0, 2, t0, 1)).To(Equal(1))
	})

	It("splits into batches in order", func() {
		Expect(polling.Split([]int{1, 2, 3, 4, 5}, 2)).To(Equal([][]int{{1, 2}, {3, 4}, {5}}))
		Expect(polling.Split([]int{}, 2)).To(BeEmpty())
	})
})

var _ = Describe("Schedule.After", func() {
	var (
		s       polling.Schedule
		created time.Time
	)

	BeforeEach(func() {
		l, err := config.ParseLadder(specLadder)
		Expect(err).NotTo(HaveOccurred())
		s = polling.Schedule{Ladder: l, Floor: 24 * time.Hour}
		created = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	})

	It("counts a first poll's age from creation, not as a move", func() {
		now := created.Add(10 * 24 * time.Hour).Add(time.Hour)
		next, seen := s.After(now, created, polling.Seen{}, 7)
		Expect(seen).To(Equal(polling.Seen{Digest: 7, ChangedAt: created}))
		Expect(next).To(Equal(created.Add(11 * 24 * time.Hour)))
	})

	It("makes an upload young again when its status moves", func() {
		now := created.Add(5 * 24 * time.Hour).Add(30 * time.Second)
		next, seen := s.After(now, created, polling.Seen{Digest: 7, ChangedAt: created}, 8)
		Expect(seen).To(Equal(polling.Seen{Digest: 8, ChangedAt: now}))
		Expect(next).To(Equal(created.Add(5 * 24 * time.Hour).Add(2 * time.Minute)))
	})

	It("keeps the age of an upload whose status did not move", func() {
		moved := created.Add(time.Hour)
		now := created.Add(3 * time.Hour).Add(time.Second) // 2h after the move: every 40m
		next, seen := s.After(now, created, polling.Seen{Digest: 8, ChangedAt: moved}, 8)
		Expect(seen.ChangedAt).To(Equal(moved))
		Expect(next.Sub(now)).To(BeNumerically("<=", 40*time.Minute))
		Expect(next.Truncate(40 * time.Minute)).To(Equal(next))
	})
})

var _ = Describe("Schedule.After with a creation time in the future", func() {
	It("counts the upload from its first poll: polled as a new one, then less often, never frozen young", func() {
		s := polling.Schedule{Ladder: config.Ladder{{From: 0, Every: 10 * time.Minute}, {From: time.Hour, Every: time.Hour}}, Floor: 24 * time.Hour}
		now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
		created := now.AddDate(100, 0, 0)
		next, seen := s.After(now, created, polling.Seen{}, 1)
		Expect(next).To(Equal(now.Add(10*time.Minute)), "first poll: a new upload's interval")
		Expect(seen.ChangedAt).To(Equal(now))
		later := now.Add(2 * time.Hour)
		next, _ = s.After(later, created, seen, 1)
		Expect(next).To(Equal(later.Add(time.Hour)), "two hours on: the second rung, as for an upload created at its first poll")
	})
})
