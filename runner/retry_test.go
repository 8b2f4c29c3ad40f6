package runner_test

import (
	"errors"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/lighthouse"
	"github.com/vagov/lighthouse526/polling"
	"github.com/vagov/lighthouse526/runner"
	"github.com/vagov/lighthouse526/tasks"
)

// draws is how many jittered delays a spec samples.
const draws = 500

var _ = Describe("RetryDelay", func() {
	failure := errors.New("poll batch of 100: lighthouse: uploads_status: HTTP 503")

	// delays samples RetryDelay after the n-th failed attempt.
	delays := func(n int, err error) (lo, hi time.Duration) {
		lo = time.Duration(1<<63 - 1)
		for range draws {
			d := runner.RetryDelay(n, err, nil)
			lo, hi = min(lo, d), max(hi, d)
		}
		return lo, hi
	}

	Context("when a task failed", func() {
		It("grows from 20 seconds, doubling, and caps at 5 minutes, each with ±20% jitter", func() {
			for n, base := range []time.Duration{20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second,
				5 * time.Minute, 5 * time.Minute, 5 * time.Minute, 5 * time.Minute, 5 * time.Minute, 5 * time.Minute} {
				lo, hi := delays(n, failure)
				Expect(lo).To(BeNumerically(">=", base*8/10), "retry %d", n)
				Expect(hi).To(BeNumerically("<=", base*12/10), "retry %d", n)
				Expect(hi-lo).To(BeNumerically(">", 0), "retry %d is jittered", n)
			}
			lo, hi := delays(1000, failure)
			Expect(lo).To(BeNumerically(">=", 4*time.Minute))
			Expect(hi).To(BeNumerically("<=", 6*time.Minute))
		})

		It("keeps successive delays apart until the cap, whatever the jitter", func() {
			for n := range 4 {
				_, hi := delays(n, failure)
				lo, _ := delays(n+1, failure)
				Expect(hi).To(BeNumerically("<", lo), "retry %d against %d", n, n+1)
			}
		})

		It("ends a batch's retries well under an hour, before the next hourly cycle", func() {
			insp := newInspector()
			queue := newQueue(insp)
			t, err := tasks.NewStatusBatchTask(queue, "cron:retry-spec", 0, []string{"1"})
			Expect(err).NotTo(HaveOccurred())
			_, err = newAsynqClient().Enqueue(t)
			Expect(err).NotTo(HaveOccurred())
			info, err := insp.GetTaskInfo(queue, polling.BatchTaskID("cron:retry-spec", 0))
			Expect(err).NotTo(HaveOccurred())
			Expect(info.MaxRetry).To(Equal(6))

			for range draws {
				var total time.Duration
				for n := range info.MaxRetry {
					total += runner.RetryDelay(n, failure, t)
				}
				Expect(total).To(BeNumerically("<", 20*time.Minute))
				// Even if every attempt ran to its timeout.
				Expect(total + time.Duration(info.MaxRetry+1)*info.Timeout).To(BeNumerically("<", time.Hour))
			}
		})
	})

	Context("when a task was rate limited", func() {
		It("waits what the limit asks, plus less than a second to spread the waiters", func() {
			err := fmt.Errorf("poll batch: %w", &lighthouse.RateLimitError{Wait: 7 * time.Second})
			lo, hi := delays(4, err)
			Expect(lo).To(BeNumerically(">=", 7*time.Second))
			Expect(hi).To(BeNumerically("<", 8*time.Second))
		})

		It("is not a failure, though any other error is", func() {
			Expect(runner.IsFailure(fmt.Errorf("wrapped: %w", &lighthouse.RateLimitError{Wait: time.Second}))).To(BeFalse())
			Expect(runner.IsFailure(failure)).To(BeTrue())
			Expect(runner.IsFailure(&tasks.PayloadError{TaskType: tasks.TypeStatusBatch, Reason: "invalid"})).To(BeTrue())
		})
	})
})
