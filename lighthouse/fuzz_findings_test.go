package lighthouse_test

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/lighthouse"
)

// What the whole-path fuzz target (tasks.FuzzStatusBatchPath, its corpus in
// tasks/testdata/fuzz) found one entry could do to its whole answer.
var _ = Describe("DecodeStatusResponse with what fuzzing found", func() {
	invalidIDs := func(resp *lighthouse.StatusResponse) []string {
		ids := []string{}
		for _, bad := range resp.Invalid {
			ids = append(ids, bad.RequestID)
		}
		return ids
	}

	DescribeTable("leaves out the entry with a member name repeated at any depth, and keeps the others",
		func(extra string) {
			resp, err := lighthouse.DecodeStatusResponse(answerOf(entry(22, "SUCCESS", extra), entry(23, "SUCCESS", "")))
			Expect(err).NotTo(HaveOccurred())
			Expect(requestIDs(resp)).To(Equal([]string{"23"}))
			Expect(invalidIDs(resp)).To(Equal([]string{"22"}))
		},
		// The find: jsontext: duplicate object member name "startTime" within "/data/statuses/0/time".
		Entry("in its time", `,"time":{"startTime":1767225600000,"startTime":1767225600000}`),
		Entry("in itself", `,"status":"FAILED"`),
		Entry("in its error", `,"error":{"detail":"x","detail":"y","step":"CLAIMS_EVIDENCE"}`),
		Entry("in a step", `,"steps":[{"name":"CLAIMS_EVIDENCE","name":"BENEFITS_GATEWAY_SERVICE"}]`),
	)

	DescribeTable("still refuses the whole answer for a member name repeated in its envelope",
		func(body string) {
			_, err := lighthouse.DecodeStatusResponse([]byte(body))
			Expect(err).To(MatchError(lighthouse.ErrMalformedResponse))
			Expect(err.Error()).To(ContainSubstring("repeated"))
		},
		Entry("data twice", `{"data":{"statuses":[`+entry(22, "SUCCESS", "")+`]},"data":{"statuses":[]}}`),
		Entry("statuses twice", `{"data":{"statuses":[`+entry(22, "SUCCESS", "")+`],"statuses":[]}}`),
	)

	// Postgres's numeric (jsonb's numbers) and what it reads, tried with
	// psql on Postgres 15: beyond them, one entry failed the batch's write
	// with "value overflows numeric format" (SQLSTATE 22003).
	DescribeTable("leaves out the entry with a number jsonb cannot store, and keeps the others",
		func(number string, storable bool) {
			resp, err := lighthouse.DecodeStatusResponse(answerOf(entry(22, "SUCCESS", `,"n":`+number), entry(23, "SUCCESS", "")))
			Expect(err).NotTo(HaveOccurred())
			if storable {
				Expect(requestIDs(resp)).To(Equal([]string{"22", "23"}))
				return
			}
			Expect(requestIDs(resp)).To(Equal([]string{"23"}))
			Expect(invalidIDs(resp)).To(Equal([]string{"22"}))
			Expect(resp.Invalid[0].Err).To(MatchError(ContainSubstring("jsonb cannot store")))
		},
		Entry(nil, "1e999999", false),
		Entry(nil, "-1e-999999", false),
		Entry(nil, "1e131071", true),
		Entry(nil, "1e131072", false),
		Entry(nil, "10e131071", false),
		Entry(nil, "0.1e131072", true),
		Entry(nil, "1e-16383", true),
		Entry(nil, "1e-16384", false),
		Entry(nil, "1.000e-16380", true),
		Entry(nil, "1.0000e-16380", false),
		Entry(nil, "0e9999999", true),
		Entry(nil, "0e-16384", false),
		Entry(nil, "0.0e1073741822", true),
		Entry(nil, "1e1073741822", false),
		Entry("a fraction of 7001 digits with a four-digit exponent", "0."+strings.Repeat("0", 7000)+"1e-9999", false),
		Entry("a fraction of 6384 digits with a four-digit exponent", "0."+strings.Repeat("0", 6383)+"1e-9999", true),
		Entry(nil, "1718902851802", true),
		Entry(nil, "-0.0", true),
	)
})
