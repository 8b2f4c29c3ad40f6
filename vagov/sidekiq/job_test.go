package sidekiq_test

import (
	"encoding/json"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/vagov/sidekiq"
)

var _ = Describe("Timestamp", func() {
	DescribeTable("writes seconds since the epoch with a fraction, as Sidekiq 6 and 7 do and 8 reads as seconds",
		func(t time.Time, want string) {
			b, err := json.Marshal(sidekiq.Timestamp(t))
			Expect(err).NotTo(HaveOccurred())
			Expect(string(b)).To(Equal(want))
		},
		Entry("microseconds", time.Unix(1795844192, 186378000), "1795844192.186378"),
		Entry("nanoseconds are cut to microseconds", time.Unix(1795844192, 186378999), "1795844192.186378"),
		Entry("a whole second keeps its fraction (Ruby writes 1795844192.0)", time.Unix(1795844192, 0), "1795844192.0"),
		Entry("tenths", time.Unix(1795844192, 500000000), "1795844192.5"),
	)
})

var _ = Describe("VA.gov's failure email jobs", func() {
	It("name the original's classes, with its args and retry: 16", func() {
		Expect(sidekiq.Form526DocumentUploadFailureEmail(42, "guid-1")).To(Equal(sidekiq.Job{
			Class: "EVSS::DisabilityCompensationForm::Form526DocumentUploadFailureEmail",
			Args:  []any{int64(42), "guid-1"},
			Retry: 16,
		}))
		Expect(sidekiq.Form0781DocumentUploadFailureEmail(42)).To(Equal(sidekiq.Job{
			Class: "EVSS::DisabilityCompensationForm::Form0781DocumentUploadFailureEmail",
			Args:  []any{int64(42)},
			Retry: 16,
		}))
	})
})
