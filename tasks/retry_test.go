package tasks_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vagov/lighthouse526/lighthouse"
	"github.com/vagov/lighthouse526/lighthouse/fake"
	"github.com/vagov/lighthouse526/models"
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

var _ = Describe("StatusBatchHandler under rate limits", func() {
	var (
		ctx     context.Context
		o       *observed
		lh      *lighthouseEnv
		handler *tasks.StatusBatchHandler
		upload  models.Lighthouse526DocumentUpload
	)

	setUp := func(tweak ...func(*lighthouse.Config)) {
		lh = startLighthouse(fake.Options{}, tweak...)
		handler = &tasks.StatusBatchHandler{Lighthouse: lh.Client, Updater: newUpdater(o), Metrics: o.Metrics, Logger: o.Logger}
		// In progress: still pending, and so asked about, after a first poll.
		upload = seedUpload(ctx, lh.Fake.AddDocument(fake.Document{Outcome: fake.StatusInProgress}), models.DocumentTypeVeteranUpload)
	}

	process := func() (*asynq.Task, error) {
		GinkgoHelper()
		t, err := tasks.NewStatusBatchTask("tasks-test", "adhoc:limits", 0, []string{upload.LighthouseDocumentRequestID})
		Expect(err).NotTo(HaveOccurred())
		return t, handler.ProcessTask(ctx, t)
	}

	expectRateLimited := func(t *asynq.Task, err error) *lighthouse.RateLimitError {
		GinkgoHelper()
		var rl *lighthouse.RateLimitError
		Expect(errors.As(err, &rl)).To(BeTrue(), "got %v", err)
		Expect(runner.IsFailure(err)).To(BeFalse())
		Expect(errors.Is(err, asynq.SkipRetry)).To(BeFalse())
		d := runner.RetryDelay(0, err, t)
		Expect(d).To(BeNumerically(">=", rl.Wait))
		Expect(d).To(BeNumerically("<", rl.Wait+time.Second))
		return rl
	}

	BeforeEach(func() {
		ctx = context.Background()
		o = newObserved()
	})

	Context("when Lighthouse answers 429", func() {
		BeforeEach(func() {
			setUp()
			lh.Fake.SetFaults(fake.Faults{Next: []fake.Fault{{
				Endpoint: "uploads_status", Status: 429, Shape: fake.ShapeGateway, Headers: map[string]string{"Retry-After": "7"},
			}}})
		})

		It("returns a *lighthouse.RateLimitError that waits what Lighthouse asked, and is no polling error", func() {
			t, err := process()
			Expect(expectRateLimited(t, err).Wait).To(Equal(7 * time.Second))
			Expect(testutil.CollectAndCount(o.Metrics.PollingErrors)).To(BeZero())
			Expect(reloadUpload(ctx, upload.ID).StatusLastPolledAt).To(BeNil())
		})

		It("holds every later call off until the wait is over", func() {
			_, _ = process()
			t, err := process()
			Expect(expectRateLimited(t, err).Wait).To(SatisfyAll(BeNumerically(">", 0), BeNumerically("<=", 7*time.Second)))
			Expect(lh.StatusCalls()).To(Equal(1))
		})
	})

	Context("when the shared budget is spent", func() {
		BeforeEach(func() {
			setUp(func(c *lighthouse.Config) { c.RateLimitPerMinute, c.RateLimitBurst = 1, 1 })
		})

		It("returns a *lighthouse.RateLimitError without calling Lighthouse", func() {
			_, err := process()
			Expect(err).NotTo(HaveOccurred())
			t, err := process()
			Expect(expectRateLimited(t, err).Wait).To(SatisfyAll(BeNumerically(">", 30*time.Second), BeNumerically("<=", time.Minute)))
			Expect(lh.StatusCalls()).To(Equal(1))
		})
	})
})
