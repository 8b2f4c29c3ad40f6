package models

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("sendsSource", func() {
	body := []byte(`{"data":{"statuses":[{"requestId":1,"status":"SUCCESS"},{"requestId":2,"status":"SUCCESS"}]}}`)
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
		at, ok := offsetIn(body, second)
		Expect(ok).To(BeTrue())
		Expect(at).To(Equal(56))
	})

	It("copies them when one is a copy, or they are little of the body", func() {
		Expect(sendsSource(body, saving(first, []byte(string(second))), len(first)+len(second))).To(BeFalse())
		Expect(sendsSource(body, saving(first), len(first))).To(BeFalse())
		Expect(sendsSource(nil, saving(first, second), len(first)+len(second))).To(BeFalse())
	})

	It("finds no offset for bytes next to the body or longer than it", func() {
		both := []byte(string(body) + string(body))
		left := both[:len(body):len(body)]
		_, ok := offsetIn(left, both[len(body):len(body)+10])
		Expect(ok).To(BeFalse())
		_, ok = offsetIn(left, both[len(body)-5:len(body)+5])
		Expect(ok).To(BeFalse())
		_, ok = offsetIn(left[:10], left[:11])
		Expect(ok).To(BeFalse())
	})
})
