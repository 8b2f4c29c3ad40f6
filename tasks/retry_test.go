package tasks_test

import (
	"context"
	"errors"
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
		handler = &tasks.StatusBatchHandler{Poller: &polling.BatchPoller{Lighthouse: lh.Client, Updater: newUpdater(o)}, Metrics: o.Types, Logger: o.Logger}
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
