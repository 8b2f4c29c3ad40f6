package answer_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/lighthouse/answer"
)

var _ = Describe("Body", func() {
	body := answer.Body(`{"data":{"statuses":[{"requestId":1,"status":"SUCCESS"},{"requestId":2,"status":"SUCCESS"}]}}`)

	It("finds where a part of it starts", func() {
		second := body.Part(56, 90)
		Expect(string(second)).To(Equal(`{"requestId":2,"status":"SUCCESS"}`))
		at, ok := body.Offset(second)
		Expect(ok).To(BeTrue())
		Expect(at).To(Equal(56))
		at, ok = body.Offset(body)
		Expect(ok).To(BeTrue())
		Expect(at).To(Equal(0))
	})

	It("gives parts that an append copies rather than writes over the body", func() {
		first := body.Part(21, 55)
		grown := append(first, '!')
		Expect(string(body[55:56])).To(Equal(","))
		_, ok := body.Offset(grown)
		Expect(ok).To(BeFalse())
	})

	It("finds no offset for a copy, an empty slice, bytes next to the body or longer than it", func() {
		_, ok := body.Offset([]byte(string(body[21:55])))
		Expect(ok).To(BeFalse())
		_, ok = body.Offset(body[3:3])
		Expect(ok).To(BeFalse())

		both := []byte(string(body) + string(body))
		left := answer.Body(both[:len(body):len(body)])
		_, ok = left.Offset(both[len(body) : len(body)+10])
		Expect(ok).To(BeFalse())
		_, ok = left.Offset(both[len(body)-5 : len(body)+5])
		Expect(ok).To(BeFalse())
		_, ok = left[:10].Offset(left[:11])
		Expect(ok).To(BeFalse())
	})
})
