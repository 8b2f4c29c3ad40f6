package fake_test

import (
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/lighthouse/fake"
)

var _ = Describe("Token endpoint", func() {
	var w *world

	BeforeEach(func() {
		w = start(fake.Options{TokenLifetime: 600 * time.Second})
	})

	Context("when the assertion is right", func() {
		It("answers the real success body", func() {
			status, body := w.postToken(tokenForm(w.assertion(nil)))
			Expect(status).To(Equal(200))
			Expect(body).To(HaveKeyWithValue("token_type", "Bearer"))
			Expect(body).To(HaveKeyWithValue("scope", "documents.write documents.read"))
			Expect(body).To(HaveKeyWithValue("expires_in", 600.0))
			Expect(body).To(HaveKey("state"))
			Expect(body["access_token"]).NotTo(BeEmpty())
			Expect(w.srv.IssuedTokens()).To(Equal(1))
		})
	})

	DescribeTable("when the request is wrong it answers the Okta error",
		func(form func(*world) map[string][]string, status int, code, description string) {
			got, body := w.postToken(form(w))
			Expect(got).To(Equal(status))
			Expect(body).To(HaveKeyWithValue("error", code))
			Expect(body["error_description"]).To(ContainSubstring(description))
			Expect(w.srv.IssuedTokens()).To(BeZero())
		},
		Entry("no assertion", func(w *world) map[string][]string {
			f := tokenForm("")
			return f
		}, 400, "invalid_client", "A client_id must be provided"),
		Entry("a client_id besides the assertion", func(w *world) map[string][]string {
			f := tokenForm(w.assertion(nil))
			f.Set("client_id", clientID)
			return f
		}, 400, "invalid_request", "multiple client credentials"),
		Entry("the wrong audience", func(w *world) map[string][]string {
			return tokenForm(w.assertion(func(c *jwt.RegisteredClaims) { c.Audience = jwt.ClaimStrings{"https://sandbox-api.va.gov/token"} }))
		}, 401, "invalid_client", "audience claim"),
		Entry("an expired assertion", func(w *world) map[string][]string {
			return tokenForm(w.assertion(func(c *jwt.RegisteredClaims) {
				c.IssuedAt = jwt.NewNumericDate(c.IssuedAt.Add(-time.Hour))
				c.ExpiresAt = jwt.NewNumericDate(c.IssuedAt.Add(time.Minute))
			}))
		}, 401, "invalid_client", "expired"),
		Entry("exp more than 300s after iat", func(w *world) map[string][]string {
			return tokenForm(w.assertion(func(c *jwt.RegisteredClaims) { c.ExpiresAt = jwt.NewNumericDate(c.IssuedAt.Add(301 * time.Second)) }))
		}, 401, "invalid_client", "too far"),
		Entry("another client's iss", func(w *world) map[string][]string {
			return tokenForm(w.assertion(func(c *jwt.RegisteredClaims) { c.Issuer = "other" }))
		}, 401, "invalid_client", "client_id"),
		Entry("a forged signature", func(w *world) map[string][]string {
			a := w.assertion(nil)
			return tokenForm(a[:len(a)-4] + "AAAA")
		}, 401, "invalid_client", "signature"),
		Entry("a scope not granted", func(w *world) map[string][]string {
			f := tokenForm(w.assertion(nil))
			f.Set("scope", "documents.read claims.write")
			return f
		}, 400, "invalid_scope", "One or more scopes"),
		Entry("another grant type", func(w *world) map[string][]string {
			f := tokenForm(w.assertion(nil))
			f.Set("grant_type", "password")
			return f
		}, 400, "unsupported_grant_type", "grant type"),
	)

	Context("when an assertion is replayed", func() {
		It("refuses the second use of its jti", func() {
			a := w.assertion(nil)
			status, _ := w.postToken(tokenForm(a))
			Expect(status).To(Equal(200))
			status, body := w.postToken(tokenForm(a))
			Expect(status).To(Equal(401))
			Expect(body["error_description"]).To(ContainSubstring("already been used"))
		})
	})

	Context("when TokenFailure is set", func() {
		It("answers invalid_client", func() {
			w.srv.SetFaults(fake.Faults{TokenFailure: true})
			status, body := w.postToken(tokenForm(w.assertion(nil)))
			Expect(status).To(Equal(401))
			Expect(body).To(HaveKeyWithValue("error", "invalid_client"))
		})
	})

	Context("when API calls carry tokens", func() {
		It("refuses a missing, unknown, expired or revoked one with the gateway's 401", func() {
			id := w.srv.AddDocument(fake.Document{Outcome: fake.StatusSuccess})
			path := fake.APIPrefix + "/uploads/" + id + "/status"
			for _, tok := range []string{"", "not-a-token"} {
				resp, body := w.call(http.MethodGet, path, tok, "", "")
				Expect(resp.StatusCode).To(Equal(401))
				Expect(resp.Header.Get("Www-Authenticate")).To(Equal("Bearer"))
				Expect(body).To(MatchJSON(`{"message":"Invalid authentication credentials"}`))
			}

			tok := w.token()
			resp, _ := w.call(http.MethodGet, path, tok, "", "")
			Expect(resp.StatusCode).To(Equal(200))
			w.clock.Advance(601 * time.Second)
			resp, _ = w.call(http.MethodGet, path, tok, "", "")
			Expect(resp.StatusCode).To(Equal(401))

			tok = w.token()
			w.srv.ExpireTokens()
			resp, _ = w.call(http.MethodGet, path, tok, "", "")
			Expect(resp.StatusCode).To(Equal(401))
		})
	})
})
