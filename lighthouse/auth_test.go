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

var _ = Describe("Authentication", func() {
	var (
		e   *env
		ctx context.Context
		id  string
	)

	BeforeEach(func() {
		ctx = context.Background()
		e = newEnv(fake.Options{})
		id = e.fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess})
	})

	Context("when two clients share Redis", func() {
		It("fetches one token for both", func() {
			a, b := e.client(), e.secondClient()
			_, err := a.GetUploadStatus(ctx, id)
			Expect(err).NotTo(HaveOccurred())
			_, err = b.GetUploadStatus(ctx, id)
			Expect(err).NotTo(HaveOccurred())
			Expect(e.fake.IssuedTokens()).To(Equal(1))
			Expect(metricValue(e.reg, "lighthouse_token_fetches_total", nil)).To(Equal(1.0))
		})

		It("fetches one token when many calls start at once", func() {
			clients := []*lighthouse.Client{e.client(), e.secondClient()}
			var wg sync.WaitGroup
			errs := make(chan error, 20)
			for i := range 20 {
				wg.Go(func() {
					_, err := clients[i%2].GetUploadStatus(ctx, id)
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				Expect(err).NotTo(HaveOccurred())
			}
			Expect(e.fake.IssuedTokens()).To(Equal(1))
		})
	})

	Context("when the token nears its expires_in", func() {
		It("keeps it until the safety margin, then fetches a new one", func() {
			c := e.client()
			_, err := c.GetUploadStatus(ctx, id)
			Expect(err).NotTo(HaveOccurred())

			e.clock.Advance(560 * time.Second) // 600s token, 30s margin
			_, err = c.GetUploadStatus(ctx, id)
			Expect(err).NotTo(HaveOccurred())
			Expect(e.fake.IssuedTokens()).To(Equal(1))

			e.clock.Advance(15 * time.Second)
			_, err = c.GetUploadStatus(ctx, id)
			Expect(err).NotTo(HaveOccurred())
			Expect(e.fake.IssuedTokens()).To(Equal(2))
			Expect(e.apiCalls("/uploads/"+id+"/status", 401)).To(BeZero())
		})
	})

	Context("when the API refuses a cached token", func() {
		It("drops it and retries once with a fresh one", func() {
			c := e.client()
			_, err := c.GetUploadStatus(ctx, id)
			Expect(err).NotTo(HaveOccurred())
			e.fake.ExpireTokens()

			st, err := c.GetUploadStatus(ctx, id)
			Expect(err).NotTo(HaveOccurred())
			Expect(st.Status).To(Equal("SUCCESS"))
			Expect(e.fake.IssuedTokens()).To(Equal(2))
			Expect(e.apiCalls("/uploads/"+id+"/status", 401)).To(Equal(1))
		})

		It("gives up after the one retry with a permanent 401", func() {
			e.fake.SetFaults(fake.Faults{Next: []fake.Fault{
				{Status: 401, Shape: fake.ShapeGateway}, {Status: 401, Shape: fake.ShapeGateway},
			}})
			_, err := e.client().GetUploadStatus(ctx, id)
			var apiErr *lighthouse.APIError
			Expect(errors.As(err, &apiErr)).To(BeTrue())
			Expect(apiErr.StatusCode).To(Equal(401))
			Expect(apiErr.Message).To(Equal("Invalid authentication credentials"))
			Expect(lighthouse.IsRetryable(err)).To(BeFalse())
			Expect(lighthouse.Reason(err)).To(Equal("http_401"))
		})
	})

	DescribeTable("token endpoint errors become a *TokenError with a hint",
		func(change func(*env), status int, code, hint string, retryable bool) {
			change(e)
			_, err := e.client().GetUploadStatus(ctx, id)
			var te *lighthouse.TokenError
			Expect(errors.As(err, &te)).To(BeTrue(), "got %v", err)
			Expect(te.StatusCode).To(Equal(status))
			Expect(te.Code).To(Equal(code))
			Expect(te.Hint).To(ContainSubstring(hint))
			Expect(lighthouse.IsRetryable(err)).To(Equal(retryable))
			Expect(lighthouse.Reason(err)).To(Equal("token"))
			Expect(e.apiCalls("/uploads/"+id+"/status", 200)).To(BeZero())
			if code != "" {
				Expect(metricValue(e.reg, "lighthouse_token_errors_total", map[string]string{"code": code})).To(Equal(1.0))
			}
		},
		Entry("when the aud claim is not the Okta URL", func(e *env) {
			e.cfg.AudClaimURL = "https://sandbox-api.va.gov/oauth2/benefits-documents/system/v1/token"
		}, 401, "invalid_client", "LIGHTHOUSE_AUD_CLAIM_URL", false),
		Entry("when the assertion is signed with another key", func(e *env) {
			e.cfg.PrivateKey = otherKey
		}, 401, "invalid_client", "LIGHTHOUSE_RSA_KEY", false),
		Entry("when the client id is wrong", func(e *env) {
			e.cfg.ClientID = "someone-else"
		}, 401, "invalid_client", "LIGHTHOUSE_CLIENT_ID", false),
		Entry("when the client lacks the scopes", func(e *env) {
			e.fake = fake.New(fake.Options{PublicKey: &rsaKey.PublicKey, ClientID: clientID, AudClaimURL: audClaim,
				Clock: e.clock.Now, Scopes: []string{"claims.read"}})
			host, err := e.fake.Start()
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(e.fake.Close)
			e.cfg.BaseURL, e.cfg.TokenURL = host+fake.APIPrefix, host+fake.TokenPath
		}, 400, "invalid_scope", "not granted", false),
		Entry("when the token endpoint refuses the client", func(e *env) {
			e.fake.SetFaults(fake.Faults{TokenFailure: true})
		}, 401, "invalid_client", "LIGHTHOUSE_CLIENT_ID", false),
		Entry("when the token endpoint is down behind a proxy", func(e *env) {
			e.fake.SetFaults(fake.Faults{Next: []fake.Fault{{Endpoint: "token", Status: 503, Shape: fake.ShapeHTML}}})
		}, 503, "", "retry", true),
		Entry("when the token URL has no route", func(e *env) {
			e.cfg.TokenURL = e.host + "/oauth2/benefits-documents/token"
		}, 404, "", "LIGHTHOUSE_TOKEN_URL", false),
	)

	Context("when a token error is reported", func() {
		It("never carries the assertion or the key", func() {
			e.cfg.AudClaimURL = "https://wrong.example/token"
			_, err := e.client().GetUploadStatus(ctx, id)
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).NotTo(ContainSubstring("eyJ")) // a JWT's start
			Expect(err.Error()).NotTo(ContainSubstring("PRIVATE KEY"))
		})
	})
})

var _ = Describe("NewClient", func() {
	Context("when the config is empty", func() {
		It("names every missing setting", func() {
			_, err := lighthouse.NewClient(lighthouse.Config{}, nil)
			Expect(err).To(MatchError(And(
				ContainSubstring("BaseURL"), ContainSubstring("TokenURL"), ContainSubstring("AudClaimURL"),
				ContainSubstring("ClientID"), ContainSubstring("PrivateKey"), ContainSubstring("Redis"),
			)))
		})
	})

	Context("when a URL is relative", func() {
		It("refuses it", func() {
			_, err := lighthouse.NewClient(lighthouse.Config{
				BaseURL: "/services/benefits-documents/v1", TokenURL: "https://x.test/t", AudClaimURL: audClaim,
				ClientID: clientID, PrivateKey: rsaKey,
			}, rdb)
			Expect(err).To(MatchError(ContainSubstring("BaseURL")))
		})
	})
})
