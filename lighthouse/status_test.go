package lighthouse_test

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/lighthouse"
	"github.com/vagov/lighthouse526/lighthouse/fake"
)

// Bodies recorded from the real API (lighthouse-api.md).
const (
	realSuccessBody = `{"data":{"statuses":[{"requestId":22,"time":{"startTime":1718902851802,"endTime":1720793267285},"status":"SUCCESS","steps":[{"name":"CLAIMS_EVIDENCE","nextStepName":"BENEFITS_GATEWAY_SERVICE","description":"The workflow step that uploads the document to Claims Evidence","status":"SUCCESS"},{"name":"BENEFITS_GATEWAY_SERVICE","description":"The workflow step that uploads the document to Benefits Gateway Service","status":"SUCCESS"}]}]}}`
	realFailedBody  = `{"data":{"statuses":[{"requestId":16819,"time":{"startTime":1704824509436,"endTime":1704856371167},"status":"FAILED","steps":[{"name":"CLAIMS_EVIDENCE","nextStepName":"BENEFITS_GATEWAY_SERVICE","description":"The workflow step that uploads the document to Claims Evidence","status":"FAILED"},{"name":"BENEFITS_GATEWAY_SERVICE","description":"The workflow step that uploads the document to Benefits Gateway Service","status":"NOT_STARTED"}],"error":{"detail":"Workflow maximum step attempts exceeded for the current step","step":"CLAIMS_EVIDENCE"}}],"requestIdsNotFound":[21]}}`
	realNotFound404 = `{"errors":[{"detail":"Upload Request Async Status Not Found","status":404,"title":"Not Found","instance":"062dd917-a229-42d7-ad39-741eb81766a8","diagnostics":"7YODuWbVvC0k+iFgaQC0SrlARmYKPKz4"}]}`
)

var _ = Describe("DecodeStatusResponse", func() {
	Context("when the body is the real SUCCESS answer", func() {
		It("decodes every field", func() {
			resp, err := lighthouse.DecodeStatusResponse([]byte(realSuccessBody))
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.NotFound).To(BeEmpty())
			Expect(resp.Statuses).To(HaveLen(1))
			s := resp.Statuses[0]
			Expect(s.RequestID).To(Equal("22"))
			Expect(s.Status).To(Equal("SUCCESS"))
			Expect(*s.StartTime).To(Equal(int64(1718902851802)))
			Expect(*s.EndTime).To(Equal(int64(1720793267285)))
			Expect(s.Error).To(BeNil())
			Expect(s.DecodeSteps()).To(Equal([]lighthouse.Step{
				{Name: "CLAIMS_EVIDENCE", NextStepName: "BENEFITS_GATEWAY_SERVICE", Description: "The workflow step that uploads the document to Claims Evidence", Status: "SUCCESS"},
				{Name: "BENEFITS_GATEWAY_SERVICE", Description: "The workflow step that uploads the document to Benefits Gateway Service", Status: "SUCCESS"},
			}))
		})
	})

	Context("when the body is the real FAILED answer with an unknown id", func() {
		It("keeps the error object and the unknown id", func() {
			resp, err := lighthouse.DecodeStatusResponse([]byte(realFailedBody))
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.Statuses[0].Error).To(Equal(&lighthouse.StatusError{
				Detail: "Workflow maximum step attempts exceeded for the current step", Step: "CLAIMS_EVIDENCE",
			}))
			Expect(resp.NotFound).To(Equal([]string{"21"}))
		})
	})

	DescribeTable("when the body is not the documented shape it wraps ErrMalformedResponse",
		func(body string) {
			_, err := lighthouse.DecodeStatusResponse([]byte(body))
			Expect(err).To(MatchError(lighthouse.ErrMalformedResponse))
		},
		Entry("not JSON", `<html>bad gateway</html>`),
		Entry("empty", ``),
		Entry("no data", `{}`),
		Entry("data is an array", `{"data":[]}`),
		Entry("statuses is an object", `{"data":{"statuses":{}}}`),
		Entry("statuses is a string", `{"data":{"statuses":"[]"}}`),
		Entry("statuses is not closed", `{"data":{"statuses":[{"requestId":22,"status":"SUCCESS"}`),
		Entry("requestId is not a number", `{"data":{"statuses":[{"requestId":"abc","status":"SUCCESS"}]}}`),
		Entry("requestId is fractional", `{"data":{"statuses":[{"requestId":22.5,"status":"SUCCESS"}]}}`),
		Entry("status missing", `{"data":{"statuses":[{"requestId":22}]}}`),
		Entry("startTime a string", `{"data":{"statuses":[{"requestId":22,"status":"SUCCESS","time":{"startTime":"yesterday"}}]}}`),
		Entry("error a string", `{"data":{"statuses":[{"requestId":22,"status":"FAILED","error":"boom"}]}}`),
		Entry("truncated", realSuccessBody[:len(realSuccessBody)/2]),
		Entry("a member named twice", `{"data":{"statuses":[{"requestId":22,"status":"FAILED","status":"SUCCESS"}]}}`),
	)

	Context("when some entries cannot be used and others can", func() {
		It("keeps the good ones and lists the bad ones with their request ids where readable", func() {
			body := `{"data":{"statuses":[` +
				`{"requestId":22,"status":"SUCCESS"},` +
				`{"requestId":"abc","status":"SUCCESS"},` +
				`{"requestId":24,"time":{"startTime":1}},` +
				`{"requestId":25,"status":"FAILED","error":{"detail":"a\u0000b","step":"BENEFITS_GATEWAY_SERVICE"}},` +
				`{"requestId":26,"status":"IN_PROGRESS","note":"C:\\u0000"}]}}`
			resp, err := lighthouse.DecodeStatusResponse([]byte(body))
			Expect(err).NotTo(HaveOccurred())
			ids := []string{}
			for _, s := range resp.Statuses {
				ids = append(ids, s.RequestID)
			}
			Expect(ids).To(Equal([]string{"22", "26"}), `an escaped backslash before "u0000" is text`)
			Expect(resp.Invalid).To(HaveLen(3))
			Expect(resp.Invalid[0].Index).To(Equal(1))
			Expect(resp.Invalid[0].RequestID).To(BeEmpty())
			Expect(resp.Invalid[1].RequestID).To(Equal("24"))
			Expect(resp.Invalid[1].Err.Error()).To(ContainSubstring("statuses[2]: no status"))
			Expect(resp.Invalid[2].RequestID).To(Equal("25"))
			Expect(resp.Invalid[2].Err.Error()).To(ContainSubstring(`\u0000`))
			for _, bad := range resp.Invalid {
				Expect(bad.Err).To(MatchError(lighthouse.ErrMalformedResponse))
			}
		})
	})

	Context("when statuses is not an array", func() {
		It("says what it is instead", func() {
			_, err := lighthouse.DecodeStatusResponse([]byte(`{"data":{"statuses":{"requestId":22}}}`))
			Expect(err).To(MatchError(ContainSubstring("statuses is not an array but an object")))
		})

		It("reads null as no statuses", func() {
			resp, err := lighthouse.DecodeStatusResponse([]byte(`{"data":{"statuses":null,"requestIdsNotFound":[22]}}`))
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.Statuses).To(BeEmpty())
			Expect(resp.NotFound).To(Equal([]string{"22"}))
		})
	})

	Context("when the answer is pretty-printed", func() {
		It("gives each status's Raw as the exact bytes of its object", func() {
			first := `{ "requestId": 22, "status": "SUCCESS" }`
			second := `{"requestId":"23",` + "\n\t" + `"status":"IN_PROGRESS","steps":[]}`
			body := "{\n  \"data\": {\n    \"statuses\": [\n      " + first + " ,\n\t" + second + "\n    ]\n  }\n}\n"
			resp, err := lighthouse.DecodeStatusResponse([]byte(body))
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.Statuses).To(HaveLen(2))
			Expect(string(resp.Statuses[0].Raw)).To(Equal(first))
			Expect(string(resp.Statuses[1].Raw)).To(Equal(second))
			Expect(resp.Statuses[1].RequestID).To(Equal("23"))
			Expect(string(resp.Body)).To(Equal(body), "the body the Raw are slices of")
		})
	})

	Context("when a status's steps are wanted", func() {
		It("decodes them from Raw, and says so when they are not a list of steps", func() {
			resp, err := lighthouse.DecodeStatusResponse([]byte(`{"data":{"statuses":[{"requestId":22,"status":"SUCCESS","steps":{"name":"x"}}]}}`))
			Expect(err).NotTo(HaveOccurred(), "steps are not read while polling")
			_, err = resp.Statuses[0].DecodeSteps()
			Expect(err).To(MatchError(lighthouse.ErrMalformedResponse))
			Expect(err.Error()).To(ContainSubstring("status 22: steps"))
		})
	})
})

var _ = Describe("GetUploadStatuses", func() {
	var (
		e   *env
		c   *lighthouse.Client
		ctx context.Context
	)

	BeforeEach(func() {
		ctx = context.Background()
		e = newEnv(fake.Options{})
		c = e.client()
	})

	Context("when every id is known", func() {
		It("returns each document's status as the API sends it", func() {
			started := e.clock.Now().Add(-2 * time.Hour)
			ok := e.fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess, Started: started, Ended: started.Add(time.Hour)})
			failed := e.fake.AddDocument(fake.Document{Outcome: fake.StatusFailed, FailedStep: fake.StepBGS, Started: started})
			pending := e.fake.AddDocument(fake.Document{Outcome: fake.StatusInProgress, Started: started})

			resp, err := c.GetUploadStatuses(ctx, []string{ok, failed, pending})
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.NotFound).To(BeEmpty())
			Expect(resp.Statuses).To(HaveLen(3))

			s := resp.Statuses[0]
			Expect(s.RequestID).To(Equal(ok))
			Expect(s.Status).To(Equal(lighthouse.StatusSuccess))
			Expect(*s.StartTime).To(Equal(started.UnixMilli()))
			Expect(*s.EndTime).To(Equal(started.Add(time.Hour).UnixMilli()))
			Expect(s.Error).To(BeNil())

			f := resp.Statuses[1]
			Expect(f.Status).To(Equal(lighthouse.StatusFailed))
			Expect(f.Error).To(Equal(&lighthouse.StatusError{Detail: fake.DefaultErrorDetail, Step: fake.StepBGS}))
			steps, err := f.DecodeSteps()
			Expect(err).NotTo(HaveOccurred())
			Expect(steps[0].Status).To(Equal("SUCCESS"))
			Expect(steps[1].Status).To(Equal("FAILED"))

			p := resp.Statuses[2]
			Expect(p.Status).To(Equal(lighthouse.StatusInProgress))
			Expect(p.EndTime).To(BeNil())
			Expect(p.Error).To(BeNil())
			steps, err = p.DecodeSteps()
			Expect(err).NotTo(HaveOccurred())
			Expect(steps[0].Status).To(Equal("IN_PROGRESS"))
		})

		It("sends the ids as the documented JSON strings", func() {
			id := e.fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess})
			_, err := c.GetUploadStatuses(ctx, []string{id})
			Expect(err).NotTo(HaveOccurred())
			Expect(e.fake.Requests()).To(ContainElement(HaveField("RequestIDs", Equal([]string{id}))))
		})

		It("keeps a status it does not model verbatim", func() {
			id := e.fake.AddDocument(fake.Document{Outcome: "QUEUED"})
			resp, err := c.GetUploadStatuses(ctx, []string{id})
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.Statuses[0].Status).To(Equal("QUEUED"))
		})
	})

	Context("when some ids are unknown", func() {
		It("lists them in NotFound", func() {
			id := e.fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess})
			resp, err := c.GetUploadStatuses(ctx, []string{id, "999"})
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.Statuses).To(HaveLen(1))
			Expect(resp.NotFound).To(Equal([]string{"999"}))
		})
	})

	Context("when every id is unknown (the API's 404)", func() {
		It("answers normally with every id in NotFound", func() {
			resp, err := c.GetUploadStatuses(ctx, []string{"998", "999"})
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.Statuses).To(BeEmpty())
			Expect(resp.NotFound).To(Equal([]string{"998", "999"}))
			Expect(e.apiCalls("/uploads/status", 404)).To(Equal(1))
		})
	})

	Context("when the status object has fields the client does not know", func() {
		It("keeps its exact bytes in Raw", func() {
			id := e.fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess,
				Extra: map[string]any{"futureField": map[string]any{"a": 1}}})
			resp, err := c.GetUploadStatuses(ctx, []string{id})
			Expect(err).NotTo(HaveOccurred())
			Expect(string(resp.Statuses[0].Raw)).To(ContainSubstring(`"futureField":{"a":1}`))
			Expect(json.Valid(resp.Statuses[0].Raw)).To(BeTrue())
		})

		It("keeps spacing and key order byte for byte", func() {
			status := `{ "requestId" : 22, "status":"SUCCESS", "zeta":[1, 2], "time":{"startTime":1718902851802,"endTime":1720793267285} }`
			e.fake.SetFaults(fake.Faults{Next: []fake.Fault{{Status: 200, Body: `{"data":{"statuses":[` + status + `]}}`}}})
			id := e.fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess})
			resp, err := c.GetUploadStatuses(ctx, []string{id})
			Expect(err).NotTo(HaveOccurred())
			Expect(string(resp.Statuses[0].Raw)).To(Equal(status))
		})
	})

	Context("when the 200 body is broken", func() {
		DescribeTable("returns a retryable malformed_response error",
			func(shape string) {
				id := e.fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess})
				e.fake.SetFaults(fake.Faults{Next: []fake.Fault{{Status: 200, Shape: shape}}})
				_, err := c.GetUploadStatuses(ctx, []string{id})
				Expect(err).To(MatchError(lighthouse.ErrMalformedResponse))
				Expect(lighthouse.IsRetryable(err)).To(BeTrue())
				Expect(lighthouse.Reason(err)).To(Equal("malformed_response"))
			},
			Entry("truncated", fake.ShapeTruncated),
			Entry("wrong shape", fake.ShapeMalformed),
		)
	})

	Context("when no ids are given", func() {
		It("makes no call", func() {
			_, err := c.GetUploadStatuses(ctx, nil)
			Expect(err).To(MatchError(lighthouse.ErrInvalidRequest))
			Expect(lighthouse.IsRetryable(err)).To(BeFalse())
			Expect(e.fake.Requests()).To(BeEmpty())
		})
	})

	Context("when an id is not a request id", func() {
		It("makes no call, which Lighthouse would refuse whole", func() {
			id := e.fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess})
			_, err := c.GetUploadStatuses(ctx, []string{id, "99999999999999999999"})
			Expect(err).To(MatchError(lighthouse.ErrInvalidRequest))
			Expect(err).To(MatchError(ContainSubstring("requestIds[1]")))
			Expect(lighthouse.IsRetryable(err)).To(BeFalse())
			Expect(e.fake.Requests()).To(BeEmpty())
		})
	})
})

var _ = Describe("ValidRequestID", func() {
	DescribeTable("accepts a positive integer of int64 as its decimal string",
		func(id string) { Expect(lighthouse.ValidRequestID(id)).To(BeTrue()) },
		Entry("one", "1"),
		Entry("a recorded id", "16819"),
		Entry("int64's largest", "9223372036854775807"),
	)
	DescribeTable("refuses anything else",
		func(id string) { Expect(lighthouse.ValidRequestID(id)).To(BeFalse()) },
		Entry("empty", ""),
		Entry("letters", "abc"),
		Entry("zero", "0"),
		Entry("a leading zero", "007"),
		Entry("a sign", "+7"),
		Entry("negative", "-7"),
		Entry("a space", "7 "),
		Entry("a decimal point", "7.0"),
		Entry("an exponent", "7e3"),
		Entry("past int64", "9223372036854775808"),
		Entry("twenty digits", "99999999999999999999"),
	)
})

var _ = Describe("GetUploadStatus", func() {
	var (
		e   *env
		c   *lighthouse.Client
		ctx context.Context
	)

	BeforeEach(func() {
		ctx = context.Background()
		e = newEnv(fake.Options{})
		c = e.client()
	})

	Context("when the id is known", func() {
		It("returns its status", func() {
			id := e.fake.AddDocument(fake.Document{Outcome: fake.StatusFailed, ErrorDetail: "virus found"})
			s, err := c.GetUploadStatus(ctx, id)
			Expect(err).NotTo(HaveOccurred())
			Expect(s.RequestID).To(Equal(id))
			Expect(s.Error).To(Equal(&lighthouse.StatusError{Detail: "virus found", Step: fake.StepClaimsEvidence}))
		})
	})

	Context("when the id is unknown", func() {
		It("returns an *APIError matching ErrNotFound", func() {
			_, err := c.GetUploadStatus(ctx, "12345")
			Expect(err).To(MatchError(lighthouse.ErrNotFound))
			var apiErr *lighthouse.APIError
			Expect(errors.As(err, &apiErr)).To(BeTrue())
			Expect(apiErr.Errors[0].Instance).NotTo(BeEmpty())
			Expect(apiErr.Errors[0].Diagnostics).NotTo(BeEmpty())
			Expect(lighthouse.IsRetryable(err)).To(BeFalse())
		})
	})
})

var _ = Describe("GetUploadStatus", func() {
	It("returns one document's status with its exact bytes in Raw", func() {
		ctx := context.Background()
		e := newEnv(fake.Options{})
		c := e.client()
		id := e.fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess})
		many, err := c.GetUploadStatuses(ctx, []string{id})
		Expect(err).NotTo(HaveOccurred())

		st, err := c.GetUploadStatus(ctx, id)
		Expect(err).NotTo(HaveOccurred())
		Expect(st.RequestID).To(Equal(id))
		Expect(st.Raw).To(MatchJSON(many.Statuses[0].Raw))
	})
})
