package lighthouse_test

import (
	"context"
	"errors"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/lighthouse"
	"github.com/vagov/lighthouse526/lighthouse/fake"
)

var _ = Describe("API errors", func() {
	var (
		e   *env
		c   *lighthouse.Client
		ctx context.Context
		ids []string
	)

	BeforeEach(func() {
		ctx = context.Background()
		e = newEnv(fake.Options{})
		c = e.client()
		ids = []string{e.fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess})}
	})

	// call scripts one response and returns the *APIError it becomes.
	call := func(status int, shape string) (*lighthouse.APIError, error) {
		e.fake.SetFaults(fake.Faults{Next: []fake.Fault{{Status: status, Shape: shape}}})
		_, err := c.GetUploadStatuses(ctx, ids)
		var apiErr *lighthouse.APIError
		Expect(errors.As(err, &apiErr)).To(BeTrue(), "got %v", err)
		Expect(apiErr.StatusCode).To(Equal(status))
		Expect(apiErr.Endpoint).To(Equal("uploads_status"))
		return apiErr, err
	}

	Context("when the body is the API's errors[] shape", func() {
		It("keeps every field, instance and diagnostics included", func() {
			apiErr, err := call(500, fake.ShapeAPI)
			Expect(apiErr.Errors).To(HaveLen(1))
			Expect(apiErr.Errors[0]).To(And(
				HaveField("Detail", "Internal Server Error"), HaveField("Status", 500),
				HaveField("Title", "Internal Server Error"),
				HaveField("Instance", Not(BeEmpty())), HaveField("Diagnostics", Not(BeEmpty())),
			))
			Expect(err.Error()).To(ContainSubstring(apiErr.Errors[0].Instance))
			Expect(apiErr.Retryable).To(BeTrue())
		})
	})

	Context("when the body is the gateway's {message}", func() {
		It("keeps the message", func() {
			apiErr, _ := call(504, fake.ShapeGateway)
			Expect(apiErr.Message).To(Equal("The server took too long to respond"))
			Expect(apiErr.Retryable).To(BeTrue())
		})
	})

	Context("when the body is the framework's {status, error}", func() {
		It("keeps the error as the message", func() {
			apiErr, _ := call(500, fake.ShapeFramework)
			Expect(apiErr.Message).To(Equal("Failed to verify payload."))
		})
	})

	Context("when the body is an HTML page", func() {
		It("keeps a short excerpt without control characters", func() {
			apiErr, _ := call(502, fake.ShapeHTML)
			Expect(apiErr.BodyExcerpt).To(ContainSubstring("502 Bad Gateway"))
			Expect(len(apiErr.BodyExcerpt)).To(BeNumerically("<=", 200))
			Expect(apiErr.BodyExcerpt).NotTo(ContainSubstring("\n"))
			Expect(apiErr.Errors).To(BeEmpty())
			Expect(apiErr.Message).To(BeEmpty())
		})
	})

	Context("when the body is empty", func() {
		It("has nothing but the status", func() {
			apiErr, err := call(503, fake.ShapeEmpty)
			Expect(apiErr.BodyExcerpt).To(BeEmpty())
			Expect(lighthouse.IsRetryable(err)).To(BeTrue())
			Expect(lighthouse.Reason(err)).To(Equal("http_503"))
		})
	})

	DescribeTable("retryable or permanent by status",
		func(status int, shape string, retryable bool) {
			_, err := call(status, shape)
			Expect(lighthouse.IsRetryable(err)).To(Equal(retryable))
		},
		Entry("500 is retryable", 500, fake.ShapeAPI, true),
		Entry("502 is retryable", 502, fake.ShapeHTML, true),
		Entry("400 is permanent", 400, fake.ShapeAPI, false),
		Entry("403 is permanent", 403, fake.ShapeGateway, false),
		Entry("413 is permanent", 413, fake.ShapeGateway, false),
		Entry("422 is permanent", 422, fake.ShapeAPI, false),
	)

	Context("when the base URL misses /v1 (gateway 404)", func() {
		It("is a permanent error that says to check the base URL", func() {
			e.cfg.BaseURL = e.host + "/services/benefits-documents"
			_, err := e.secondClient().GetUploadStatuses(ctx, ids)
			var apiErr *lighthouse.APIError
			Expect(errors.As(err, &apiErr)).To(BeTrue())
			Expect(apiErr.StatusCode).To(Equal(404))
			Expect(apiErr.Message).To(Equal("no Route matched with those values"))
			Expect(apiErr.Hint).To(ContainSubstring("base URL"))
			Expect(err).NotTo(MatchError(lighthouse.ErrNotFound))
			Expect(lighthouse.IsRetryable(err)).To(BeFalse())
		})
	})

	Context("when an error is reported", func() {
		It("names the count of ids, not the ids, and no token", func() {
			e.fake.SetFaults(fake.Faults{Next: []fake.Fault{{Status: 200, Shape: fake.ShapeMalformed}}})
			_, err := c.GetUploadStatuses(ctx, ids)
			Expect(err.Error()).To(ContainSubstring("1 ids"))
			Expect(err.Error()).NotTo(ContainSubstring("Bearer"))
		})
	})

	Context("when Lighthouse is slower than the client's timeout", func() {
		It("gives up with a retryable timeout", func() {
			e.cfg.Timeout = 200 * time.Millisecond
			slow := e.secondClient()
			e.fake.SetFaults(fake.Faults{SlowRate: 1, SlowDelay: time.Minute})
			_, err := slow.GetUploadStatuses(ctx, ids)
			Expect(err).To(HaveOccurred())
			Expect(lighthouse.Reason(err)).To(Equal("timeout"))
			Expect(lighthouse.IsRetryable(err)).To(BeTrue())
		})
	})

	Context("when the caller's context is canceled", func() {
		It("stops with a permanent canceled error", func() {
			canceled, cancel := context.WithCancel(ctx)
			cancel()
			_, err := c.GetUploadStatuses(canceled, ids)
			Expect(err).To(MatchError(context.Canceled))
			Expect(lighthouse.Reason(err)).To(Equal("canceled"))
			Expect(lighthouse.IsRetryable(err)).To(BeFalse())
		})

		It("stops a call in flight", func() {
			e.fake.SetFaults(fake.Faults{SlowRate: 1, SlowDelay: time.Minute})
			inFlight, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() {
				_, err := c.GetUploadStatuses(inFlight, ids)
				done <- err
			}()
			// the token is fetched before the API call; the slow fault holds both
			cancel()
			Eventually(done).Should(Receive(MatchError(context.Canceled)))
		})
	})

	Context("when Lighthouse cannot be reached", func() {
		It("is a retryable connection error", func() {
			e.fake.Close()
			_, err := c.GetUploadStatuses(ctx, ids)
			Expect(err).To(HaveOccurred())
			Expect(lighthouse.Reason(err)).To(Equal("connection"))
			Expect(lighthouse.IsRetryable(err)).To(BeTrue())
		})
	})
})
