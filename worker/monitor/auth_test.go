package monitor_test

import (
	"net/http"
	"net/http/httptest"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/worker/monitor"
)

var _ = Describe("Auth", func() {
	var inner http.Handler

	BeforeEach(func() {
		inner = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("monitor")) })
	})

	call := func(h http.Handler, set func(*http.Request)) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/monitor/", nil)
		if set != nil {
			set(req)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}

	Context("when nothing is configured", func() {
		It("refuses to build the handler", func() {
			_, err := monitor.Auth{}.Wrap(inner)
			Expect(err).To(HaveOccurred())
		})
	})

	Context("when basic auth is configured", func() {
		var h http.Handler
		BeforeEach(func() {
			var err error
			h, err = monitor.Auth{Username: "ops", Password: "s3cret-pass"}.Wrap(inner)
			Expect(err).NotTo(HaveOccurred())
		})

		It("lets the right credentials in", func() {
			rec := call(h, func(r *http.Request) { r.SetBasicAuth("ops", "s3cret-pass") })
			Expect(rec.Code).To(Equal(http.StatusOK))
			Expect(rec.Body.String()).To(Equal("monitor"))
		})

		DescribeTable("challenges anything else with Basic",
			func(set func(*http.Request)) {
				rec := call(h, set)
				Expect(rec.Code).To(Equal(http.StatusUnauthorized))
				Expect(rec.Header().Get("WWW-Authenticate")).To(HavePrefix("Basic "))
			},
			Entry("no credentials", nil),
			Entry("a wrong password", func(r *http.Request) { r.SetBasicAuth("ops", "guess") }),
			Entry("a wrong user", func(r *http.Request) { r.SetBasicAuth("admin", "s3cret-pass") }),
			Entry("a bearer token", func(r *http.Request) { r.Header.Set("Authorization", "Bearer s3cret-pass") }),
		)
	})

	Context("when a token is configured", func() {
		var h http.Handler
		BeforeEach(func() {
			var err error
			h, err = monitor.Auth{Token: "tok-123456"}.Wrap(inner)
			Expect(err).NotTo(HaveOccurred())
		})

		It("lets the token in and refuses another", func() {
			Expect(call(h, func(r *http.Request) { r.Header.Set("Authorization", "Bearer tok-123456") }).Code).To(Equal(http.StatusOK))
			rec := call(h, func(r *http.Request) { r.Header.Set("Authorization", "Bearer tok-1234567") })
			Expect(rec.Code).To(Equal(http.StatusUnauthorized))
			Expect(rec.Header().Get("WWW-Authenticate")).To(HavePrefix("Bearer "))
		})
	})

	Context("when authentication is explicitly off", func() {
		It("serves everyone", func() {
			h, err := monitor.Auth{None: true}.Wrap(inner)
			Expect(err).NotTo(HaveOccurred())
			Expect(call(h, nil).Code).To(Equal(http.StatusOK))
		})
	})
})
