package lighthouse_test

import (
	"bytes"
	"context"
	"io"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vagov/lighthouse526/lighthouse"
	"github.com/vagov/lighthouse526/lighthouse/fake"
)

var _ = Describe("UploadDocument", func() {
	var (
		e      *env
		c      *lighthouse.Client
		ctx    context.Context
		params lighthouse.UploadParams
		pdf    []byte
	)

	BeforeEach(func() {
		ctx = context.Background()
		e = newEnv(fake.Options{})
		c = e.client()
		params = lighthouse.UploadParams{
			SystemName: "VA.gov", DocType: "L023", FileName: "doctors-note.pdf",
			ClaimID: 600453005, ParticipantID: "600076281",
		}
		pdf = []byte("%PDF-1.4 a small test document")
	})

	Context("when the upload is accepted", func() {
		It("returns the fake's request id, which can then be polled", func() {
			id, err := c.UploadDocument(ctx, params, bytes.NewReader(pdf))
			Expect(err).NotTo(HaveOccurred())
			Expect(id).To(Equal("1"))
			doc, ok := e.fake.Document(id)
			Expect(ok).To(BeTrue())
			Expect(doc.DocType).To(Equal("L023"))
			Expect(doc.FileName).To(Equal("doctors-note.pdf"))
			Expect(doc.ClaimID).To(Equal(int64(600453005)))
			Expect(doc.FileBytes).To(Equal(int64(len(pdf))))

			st, err := c.GetUploadStatus(ctx, id)
			Expect(err).NotTo(HaveOccurred())
			Expect(st.Status).To(Equal(lighthouse.StatusSuccess))
		})
	})

	Context("when the token is refused mid-way", func() {
		It("rewinds a seekable file and sends it again", func() {
			_, err := c.GetUploadStatuses(ctx, []string{e.fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess})})
			Expect(err).NotTo(HaveOccurred())
			e.fake.ExpireTokens()
			id, err := c.UploadDocument(ctx, params, bytes.NewReader(pdf))
			Expect(err).NotTo(HaveOccurred())
			doc, _ := e.fake.Document(id)
			Expect(doc.FileBytes).To(Equal(int64(len(pdf))))
			Expect(e.apiCalls("/documents", 401)).To(Equal(1))
		})

		It("reports a stream it cannot rewind as retryable", func() {
			_, err := c.GetUploadStatuses(ctx, []string{e.fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess})})
			Expect(err).NotTo(HaveOccurred())
			e.fake.ExpireTokens()
			_, err = c.UploadDocument(ctx, params, io.MultiReader(strings.NewReader("x")))
			Expect(err).To(MatchError(ContainSubstring("cannot be rewound")))
			Expect(lighthouse.IsRetryable(err)).To(BeTrue())
		})
	})

	DescribeTable("when the parameters are incomplete it makes no call",
		func(change func(*lighthouse.UploadParams)) {
			change(&params)
			_, err := c.UploadDocument(ctx, params, bytes.NewReader(pdf))
			Expect(err).To(MatchError(lighthouse.ErrInvalidRequest))
			Expect(lighthouse.Reason(err)).To(Equal("invalid_request"))
			Expect(e.fake.Requests()).To(BeEmpty())
		},
		Entry("both identifiers", func(p *lighthouse.UploadParams) { p.FileNumber = "796043735" }),
		Entry("no identifier", func(p *lighthouse.UploadParams) { p.ParticipantID = "" }),
		Entry("no doc type", func(p *lighthouse.UploadParams) { p.DocType = "" }),
		Entry("no claim id", func(p *lighthouse.UploadParams) { p.ClaimID = 0 }),
	)

	Context("when an upload fails with the framework shape", func() {
		It("is a retryable *APIError without the participant id in its text", func() {
			e.fake.SetFaults(fake.Faults{Next: []fake.Fault{{Status: 500, Shape: fake.ShapeFramework}}})
			_, err := c.UploadDocument(ctx, params, bytes.NewReader(pdf))
			Expect(err).To(MatchError(ContainSubstring("Failed to verify payload.")))
			Expect(err.Error()).NotTo(ContainSubstring(params.ParticipantID))
			Expect(lighthouse.IsRetryable(err)).To(BeTrue())
		})
	})
})

var _ = Describe("Metrics", func() {
	Context("when calls are made", func() {
		It("counts them by endpoint and class on the injected registry, lint-clean", func() {
			ctx := context.Background()
			e := newEnv(fake.Options{})
			c := e.client()
			id := e.fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess})
			_, err := c.GetUploadStatuses(ctx, []string{id})
			Expect(err).NotTo(HaveOccurred())
			_, err = c.GetUploadStatus(ctx, "404404")
			Expect(err).To(HaveOccurred())

			Expect(metricValue(e.reg, "lighthouse_responses_total", map[string]string{"endpoint": "uploads_status", "code_class": "2xx"})).To(Equal(1.0))
			Expect(metricValue(e.reg, "lighthouse_responses_total", map[string]string{"endpoint": "upload_status", "code_class": "4xx"})).To(Equal(1.0))
			Expect(metricValue(e.reg, "lighthouse_responses_total", map[string]string{"endpoint": "token", "code_class": "2xx"})).To(Equal(1.0))
			Expect(metricValue(e.reg, "lighthouse_request_duration_seconds", map[string]string{"endpoint": "uploads_status"})).To(Equal(1.0))
			problems, err := testutil.GatherAndLint(e.reg)
			Expect(err).NotTo(HaveOccurred())
			Expect(problems).To(BeEmpty())
		})
	})
})
