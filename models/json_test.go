package models_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/models"
)

var _ = Describe("JSONEqual", func() {
	DescribeTable("when the documents are the same value",
		func(a, b string) {
			Expect(models.JSONEqual([]byte(a), []byte(b))).To(BeTrue())
		},
		Entry("with keys in another order", `{"a": 1, "b": {"c": 2, "d": 3}}`, `{"b": {"d": 3, "c": 2}, "a": 1}`),
		Entry("with other white space", `{"a":[1,2,{"b":null}]}`, "{\n  \"a\" : [ 1, 2, { \"b\" : null } ]\n}"),
		Entry("with the same large integer", `{"requestId": 12345678901234567890}`, `{"requestId":12345678901234567890}`),
		Entry("with the same number written two ways", `{"a": 1.0, "b": 1e2}`, `{"b": 100, "a": 1}`),
		Entry("with the same string escaped two ways", `{"a": "\u0041"}`, `{"a":"A"}`),
	)

	DescribeTable("when the documents differ",
		func(a, b string) {
			Expect(models.JSONEqual([]byte(a), []byte(b))).To(BeFalse())
		},
		Entry("in a value", `{"status": "IN_PROGRESS"}`, `{"status": "SUCCESS"}`),
		Entry("in integers float64 cannot tell apart", `{"endTime": 12345678901234567890}`, `{"endTime": 12345678901234567891}`),
		Entry("in decimals float64 cannot tell apart", `{"x": 123456789.123456781}`, `{"x":123456789.123456782}`),
		Entry("in array order", `[1, 2]`, `[2, 1]`),
		Entry("by a missing key", `{"a": 1, "b": null}`, `{"a": 1}`),
		Entry("when the first is empty", ``, `{}`),
		Entry("when the second is empty", `{}`, ``),
		Entry("when one is invalid", `{"a":`, `{"a": 1}`),
	)

	Context("when a document went through a jsonb column", func() {
		It("equals the document as Lighthouse sent it", func() {
			sent := statusJSON("22", "IN_PROGRESS", ptr(now.Add(-time.Hour)), nil, "")
			u := createUpload(func(u *models.Lighthouse526DocumentUpload) { u.LastStatusResponse = sent })

			stored := reload(u.ID).LastStatusResponse

			Expect(string(stored)).NotTo(Equal(string(sent)), "jsonb rewrites the text")
			Expect(models.JSONEqual(stored, sent)).To(BeTrue())
		})
	})
})

var _ = Describe("JSON", func() {
	Context("when empty", func() {
		It("is stored as NULL and read back empty", func() {
			u := createUpload()

			var isNull bool
			Expect(gdb.Raw(`SELECT last_status_response IS NULL FROM lighthouse526_document_uploads WHERE id = ?`, u.ID).
				Scan(&isNull).Error).To(Succeed())
			Expect(isNull).To(BeTrue())
			Expect(reload(u.ID).LastStatusResponse).To(BeEmpty())
		})

		It("marshals as null", func() {
			b, err := models.JSON(nil).MarshalJSON()

			Expect(err).NotTo(HaveOccurred())
			Expect(string(b)).To(Equal("null"))
		})
	})
})
