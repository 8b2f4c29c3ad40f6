package models

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/lighthouse/answer"
)

var _ = Describe("sendsSource", func() {
	body := answer.Body(`{"data":{"statuses":[{"requestId":1,"status":"SUCCESS"},{"requestId":2,"status":"SUCCESS"}]}}`)
	first, second := body[21:55], body[56:90]
	saving := func(statuses ...[]byte) []PollResult {
		out := make([]PollResult, len(statuses))
		for i, st := range statuses {
			out[i] = PollResult{ID: int64(i + 1), SaveStatus: true, LastStatusResponse: st}
		}
		return out
	}

	It("sends the body when the statuses are slices of it, and most of it", func() {
		Expect(string(first)).To(Equal(`{"requestId":1,"status":"SUCCESS"}`))
		Expect(string(second)).To(Equal(`{"requestId":2,"status":"SUCCESS"}`))
		Expect(sendsSource(body, saving(first, second), len(first)+len(second))).To(BeTrue())
	})

	It("copies them when one is a copy, or they are little of the body", func() {
		Expect(sendsSource(body, saving(first, []byte(string(second))), len(first)+len(second))).To(BeFalse())
		Expect(sendsSource(body, saving(first), len(first))).To(BeFalse())
		Expect(sendsSource(nil, saving(first, second), len(first)+len(second))).To(BeFalse())
	})
})
