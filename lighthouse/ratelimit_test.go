package lighthouse_test

import (
	"context"
	"errors"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/lighthouse"
	"github.com/vagov/lighthouse526/lighthouse/fake"
)

var _ = Describe("Rate limiting", func() {
	var (
		e   *env
		ctx context.Context
		ids []string
	)

	BeforeEach(func() {
		ctx = context.Background()
	})

	Context("when two clients share a budget of 30 a minute", func() {
		BeforeEach(func() {
			e = newEnv(fake.Options{})
			e.cfg.RateLimitPerMinute = 30
			e.cfg.RateLimitBurst = 30
			ids = []string{e.fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess})}
		})

		It("lets about 30 of 60 calls through and refuses the rest locally", func() {
			clients := []*lighthouse.Client{e.client(), e.secondClient()}
			start := time.Now()
			var wg sync.WaitGroup
			errs := make(chan error, 60)
			for i := range 60 {
				wg.Go(func() {
					_, err := clients[i%2].GetUploadStatuses(ctx, ids)
					errs <- err
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			close(errs)

			passed := 0
			for err := range errs {
				if err == nil {
					passed++
					continue
				}
				var rl *lighthouse.RateLimitError
				Expect(errors.As(err, &rl)).To(BeTrue(), "got %v", err)
				Expect(rl.Remote).To(BeFalse())
				Expect(rl.Wait).To(BeNumerically(">", 0))
				Expect(lighthouse.IsRetryable(err)).To(BeTrue())
				Expect(lighthouse.Reason(err)).To(Equal("rate_limited"))
			}
			// GCRA: a burst of 30, then one more per 2s of the run (not a timing
			// assertion: the allowance grows with however long the run took).
			allowance := 30 + int(elapsed/(2*time.Second))
			Expect(passed).To(BeNumerically(">=", 30))
			Expect(passed).To(BeNumerically("<=", allowance))
			Expect(e.apiCalls("/uploads/status", 200)).To(Equal(passed))
			Expect(metricValue(e.reg, "lighthouse_rate_limited_total", map[string]string{"source": "local"})).To(BeNumerically(">", 0))
		})

		It("keeps its state under the configured prefix", func() {
			_, err := e.client().GetUploadStatuses(ctx, ids)
			Expect(err).NotTo(HaveOccurred())
			Expect(rdb.Exists(ctx, e.cfg.RedisPrefix+"ratelimit").Val()).To(Equal(int64(1)))
			Expect(rdb.Exists(ctx, "rate:"+e.cfg.RedisPrefix+"ratelimit").Val()).To(BeZero())
		})
	})

	Context("when the burst is the default of one", func() {
		BeforeEach(func() {
			e = newEnv(fake.Options{})
			e.cfg.RateLimitPerMinute = 60
			e.cfg.RateLimitBurst = 0
			ids = []string{e.fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess})}
		})

		It("spaces calls a period apart, so no gateway minute sees more than the budget", func() {
			client := e.client()
			_, err := client.GetUploadStatuses(ctx, ids)
			Expect(err).NotTo(HaveOccurred())
			_, err = client.GetUploadStatuses(ctx, ids)
			var rl *lighthouse.RateLimitError
			Expect(errors.As(err, &rl)).To(BeTrue(), "got %v", err)
			Expect(rl.Wait).To(And(BeNumerically(">", 0), BeNumerically("<=", time.Second)))
			Expect(e.apiCalls("/uploads/status", 200)).To(Equal(1))
		})
	})

	Context("when Lighthouse answers 429", func() {
		BeforeEach(func() {
			// The clock stands at hh:mm:15: the fake's minute resets in 45s.
			e = newEnv(fake.Options{RateLimitPerMinute: 2})
			ids = []string{e.fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess})}
		})

		It("honours RateLimit-Reset and pauses every client sharing Redis", func() {
			a, b := e.client(), e.secondClient()
			for range 2 {
				_, err := a.GetUploadStatuses(ctx, ids)
				Expect(err).NotTo(HaveOccurred())
			}
			_, err := a.GetUploadStatuses(ctx, ids)
			var rl *lighthouse.RateLimitError
			Expect(errors.As(err, &rl)).To(BeTrue(), "got %v", err)
			Expect(rl.Remote).To(BeTrue())
			Expect(rl.Wait).To(Equal(45 * time.Second))
			Expect(e.apiCalls("/uploads/status", 429)).To(Equal(1))

			_, err = b.GetUploadStatuses(ctx, ids)
			Expect(errors.As(err, &rl)).To(BeTrue(), "got %v", err)
			Expect(rl.Remote).To(BeTrue())
			Expect(rl.Wait).To(And(BeNumerically(">", 30*time.Second), BeNumerically("<=", 45*time.Second)))
			Expect(e.apiCalls("/uploads/status", 429)).To(Equal(1), "the paused client made no call")
			Expect(metricValue(e.reg, "lighthouse_rate_limited_total", map[string]string{"source": "remote"})).To(Equal(1.0))
		})

		It("prefers Retry-After in seconds", func() {
			e.fake.SetFaults(fake.Faults{Next: []fake.Fault{{Status: 429, Shape: fake.ShapeGateway, Headers: map[string]string{"Retry-After": "7", "RateLimit-Reset": "45"}}}})
			_, err := e.client().GetUploadStatuses(ctx, ids)
			var rl *lighthouse.RateLimitError
			Expect(errors.As(err, &rl)).To(BeTrue())
			Expect(rl.Wait).To(Equal(7 * time.Second))
		})

		It("reads Retry-After as an HTTP date", func() {
			at := e.clock.Now().Add(90 * time.Second).Format(http1123)
			e.fake.SetFaults(fake.Faults{Next: []fake.Fault{{Status: 429, Shape: fake.ShapeGateway, Headers: map[string]string{"Retry-After": at}}}})
			_, err := e.client().GetUploadStatuses(ctx, ids)
			var rl *lighthouse.RateLimitError
			Expect(errors.As(err, &rl)).To(BeTrue())
			Expect(rl.Wait).To(Equal(90 * time.Second))
		})

		It("waits 60s when the 429 says nothing", func() {
			e.fake.SetFaults(fake.Faults{Next: []fake.Fault{{Status: 429, Shape: fake.ShapeGateway}}})
			_, err := e.client().GetUploadStatuses(ctx, ids)
			var rl *lighthouse.RateLimitError
			Expect(errors.As(err, &rl)).To(BeTrue())
			Expect(rl.Wait).To(Equal(60 * time.Second))
		})

		Context("when the pause is within MaxRateLimitWait", func() {
			It("waits in-process and then calls", func() {
				e.cfg.MaxRateLimitWait = 5 * time.Second
				c := e.client()
				e.fake.SetFaults(fake.Faults{Next: []fake.Fault{{Status: 429, Shape: fake.ShapeGateway, Headers: map[string]string{"Retry-After": "1"}}}})
				_, err := c.GetUploadStatuses(ctx, ids)
				Expect(err).To(BeAssignableToTypeOf(&lighthouse.RateLimitError{}))

				resp, err := c.GetUploadStatuses(ctx, ids)
				Expect(err).NotTo(HaveOccurred())
				Expect(resp.Statuses).To(HaveLen(1))
			})
		})
	})

	Context("when Lighthouse answers every call with 429", func() {
		It("returns remote rate-limit errors and makes no call during the pause", func() {
			e = newEnv(fake.Options{})
			ids = []string{e.fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess})}
			e.fake.SetFaults(fake.Faults{RateLimitStorm: true})
			c := e.client()
			for range 3 {
				_, err := c.GetUploadStatuses(ctx, ids)
				Expect(err).To(BeAssignableToTypeOf(&lighthouse.RateLimitError{}))
			}
			Expect(e.apiCalls("/uploads/status", 429)).To(Equal(1))
		})
	})
})

const http1123 = "Mon, 02 Jan 2006 15:04:05 GMT"
