package lighthouse_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/lighthouse"
	"github.com/vagov/lighthouse526/lighthouse/fake"
)

// entry is a status entry of the documented shape for request id id, with
// extra members (",\"error\":{...}") appended.
func entry(id int, status, extra string) string {
	return fmt.Sprintf(`{"requestId":%d,"time":{"startTime":1767225600000,"endTime":1767226200000},"status":%q%s}`, id, status, extra)
}

func answerOf(entries ...string) []byte {
	return []byte(`{"data":{"statuses":[` + strings.Join(entries, ",") + `]}}`)
}

func requestIDs(resp *lighthouse.StatusResponse) []string {
	ids := []string{}
	for _, s := range resp.Statuses {
		ids = append(ids, s.RequestID)
	}
	return ids
}

var _ = Describe("DecodeStatusResponse with hostile entries", func() {
	// Every Raw is a part of Body, whatever was repaired: the batch write
	// sends Body once with each status's offset.
	expectPartsOfBody := func(resp *lighthouse.StatusResponse) {
		for _, s := range resp.Statuses {
			at, ok := resp.Body.Offset(s.Raw)
			Expect(ok).To(BeTrue(), "status %s is not a part of Body", s.RequestID)
			Expect([]byte(resp.Body[at : at+len(s.Raw)])).To(Equal([]byte(s.Raw)))
			Expect(json.Valid(s.Raw)).To(BeTrue())
			Expect(utf8.Valid(s.Raw)).To(BeTrue())
		}
	}

	DescribeTable("one entry's text never fails the answer: it is replaced by U+FFFD and listed as repaired",
		func(bad string) {
			body := answerOf(entry(21, "SUCCESS", ""),
				entry(22, "FAILED", `,"error":{"detail":`+bad+`,"step":"CLAIMS_EVIDENCE"}`),
				entry(23, "SUCCESS", ""))
			resp, err := lighthouse.DecodeStatusResponse(body)
			Expect(err).NotTo(HaveOccurred())
			Expect(requestIDs(resp)).To(Equal([]string{"21", "22", "23"}))
			Expect(resp.Invalid).To(BeEmpty())
			Expect(resp.Statuses[1].Error.Detail).To(ContainSubstring("\uFFFD"))
			Expect(resp.Repaired).To(Equal([]lighthouse.Repaired{{RequestID: "22", Kinds: []string{lighthouse.RepairInvalidText}}}))
			expectPartsOfBody(resp)
		},
		Entry("a lone high surrogate", `"disk \ud800 full"`),
		Entry("a lone low surrogate", `"\udc00"`),
		Entry("a high surrogate before a non-surrogate escape", `"\uD83D\u0041"`),
		Entry("a high surrogate at the string's end", `"x\ud83d"`),
		Entry("invalid UTF-8", "\"caf\xe9 \xff\xfe\""),
		Entry("a truncated UTF-8 sequence", "\"\xe2\x82\""),
	)

	It("keeps a valid surrogate pair as it is", func() {
		body := answerOf(entry(22, "FAILED", `,"error":{"detail":"\ud83d\ude00","step":"CLAIMS_EVIDENCE"}`))
		resp, err := lighthouse.DecodeStatusResponse(body)
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.Statuses[0].Error.Detail).To(Equal("😀"))
		Expect(resp.Repaired).To(BeEmpty())
		Expect(&resp.Body[0]).To(BeIdenticalTo(&body[0]), "an answer with nothing to repair is not copied")
	})

	DescribeTable("an entry with times no document can have is malformed, left out, and never fails the answer",
		func(times, why string) {
			bad := fmt.Sprintf(`{"requestId":22,"time":%s,"status":"SUCCESS"}`, times)
			resp, err := lighthouse.DecodeStatusResponse(answerOf(entry(21, "SUCCESS", ""), bad, entry(23, "IN_PROGRESS", "")))
			Expect(err).NotTo(HaveOccurred())
			Expect(requestIDs(resp)).To(Equal([]string{"21", "23"}))
			Expect(resp.Invalid).To(HaveLen(1))
			Expect(resp.Invalid[0].RequestID).To(Equal("22"))
			Expect(resp.Invalid[0].Implausible).To(BeTrue())
			Expect(resp.Invalid[0].Err).To(MatchError(lighthouse.ErrMalformedResponse))
			Expect(resp.Invalid[0].Err.Error()).To(ContainSubstring(why))
		},
		Entry("endTime past Postgres's timestamps (the repro)", `{"startTime":1767225600000,"endTime":9999999999999999}`, "time.endTime 9999999999999999"),
		Entry("startTime in 1200 BC", `{"startTime":-99999999999999,"endTime":null}`, "time.startTime"),
		Entry("startTime before 2000", `{"startTime":946684799999,"endTime":null}`, "before 2000-01-01"),
		Entry("endTime two days ahead", fmt.Sprintf(`{"startTime":1767225600000,"endTime":%d}`, time.Now().Add(48*time.Hour).UnixMilli()), "time.endTime"),
		Entry("an end before its start", `{"startTime":1767226200000,"endTime":1767225600000}`, "is before time.startTime"),
	)

	It("accepts the first millisecond of 2000 and a time a little ahead of the clock", func() {
		ahead := time.Now().Add(time.Hour).UnixMilli()
		body := answerOf(fmt.Sprintf(`{"requestId":22,"time":{"startTime":946684800000,"endTime":%d},"status":"SUCCESS"}`, ahead))
		resp, err := lighthouse.DecodeStatusResponse(body)
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.Statuses).To(HaveLen(1))
	})

	It("accepts an answer whose only entry has impossible times, so its upload is stamped and the batch goes on", func() {
		resp, err := lighthouse.DecodeStatusResponse(answerOf(`{"requestId":22,"time":{"startTime":1,"endTime":null},"status":"IN_PROGRESS"}`))
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.Statuses).To(BeEmpty())
		Expect(resp.Invalid).To(HaveLen(1))
	})

	Context("when a text field is 5 MB", func() {
		It("cuts it to 64 KiB with a mark, keeps the other entries whole, and lists it as cut", func() {
			huge := strings.Repeat("x", 5<<20)
			body := answerOf(entry(21, "SUCCESS", ""),
				entry(22, "FAILED", `,"error":{"detail":"`+huge+`","step":"CLAIMS_EVIDENCE"}`),
				entry(23, "SUCCESS", `,"steps":[{"name":"CLAIMS_EVIDENCE","description":"\ud800`+huge+`","status":"SUCCESS"}]`))
			resp, err := lighthouse.DecodeStatusResponse(body)
			Expect(err).NotTo(HaveOccurred())
			Expect(requestIDs(resp)).To(Equal([]string{"21", "22", "23"}))
			detail := resp.Statuses[1].Error.Detail
			Expect(len(detail)).To(BeNumerically("<", lighthouse.MaxFieldBytes+100))
			Expect(detail).To(HavePrefix(strings.Repeat("x", 1000)))
			Expect(detail).To(HaveSuffix(fmt.Sprintf("[cut by lighthouse526 at %d of %d bytes]", lighthouse.MaxFieldBytes, 5<<20)))
			Expect(len(resp.Statuses[1].Raw)).To(BeNumerically("<", 2*lighthouse.MaxFieldBytes))
			steps, err := resp.Statuses[2].DecodeSteps()
			Expect(err).NotTo(HaveOccurred())
			Expect(steps[0].Description).To(HavePrefix("\uFFFDxxx"))
			Expect(len(steps[0].Description)).To(BeNumerically("<", lighthouse.MaxFieldBytes+100))
			Expect(resp.Repaired).To(Equal([]lighthouse.Repaired{
				{RequestID: "22", Kinds: []string{lighthouse.RepairCut}},
				{RequestID: "23", Kinds: []string{lighthouse.RepairCut, lighthouse.RepairInvalidText}},
			}))
			Expect(len(resp.Body)).To(BeNumerically("<", 3*lighthouse.MaxFieldBytes))
			expectPartsOfBody(resp)
		})

		It("never cuts inside an escape or a character", func() {
			// 3-byte characters and 6-byte escapes straddling the cap.
			body := answerOf(entry(22, "FAILED", `,"error":{"detail":"`+strings.Repeat(`€\u00e9`, 20000)+`","step":"x"}`))
			resp, err := lighthouse.DecodeStatusResponse(body)
			Expect(err).NotTo(HaveOccurred())
			Expect(utf8.ValidString(resp.Statuses[0].Error.Detail)).To(BeTrue())
			Expect(resp.Statuses[0].Error.Detail).To(ContainSubstring("[cut by lighthouse526"))
		})
	})

	It("still refuses an answer that is not JSON, with or without bad text", func() {
		_, err := lighthouse.DecodeStatusResponse([]byte("{\"data\":{\"statuses\":[{\"requestId\":22,\"status\":\"\xff"))
		Expect(err).To(MatchError(lighthouse.ErrMalformedResponse))
	})
})

var _ = Describe("GetUploadStatuses with a hostile entry", func() {
	It("applies the rest of the answer, and counts and logs the entry it repaired", func() {
		ctx := context.Background()
		e := newEnv(fake.Options{})
		var logs bytes.Buffer
		c := e.client(lighthouse.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
		ok := e.fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess})
		bad := e.fake.AddDocument(fake.Document{Outcome: fake.StatusFailed})
		e.fake.SetFaults(fake.Faults{Next: []fake.Fault{{Status: 200, Body: string(answerOf(
			entry(atoi(ok), "SUCCESS", ""),
			entry(atoi(bad), "FAILED", `,"error":{"detail":"\udfff","step":"CLAIMS_EVIDENCE"}`)))}}})
		resp, err := c.GetUploadStatuses(ctx, []string{ok, bad})
		Expect(err).NotTo(HaveOccurred())
		Expect(requestIDs(resp)).To(Equal([]string{ok, bad}))
		Expect(metricValue(e.reg, "lighthouse_status_entries_repaired_total", map[string]string{"kind": "invalid_text"})).To(Equal(1.0))
		Expect(logs.String()).To(ContainSubstring(`"msg":"repaired a Lighthouse status entry before applying it"`))
		Expect(logs.String()).To(ContainSubstring(`"lighthouse_document_request_id":"` + bad + `"`))
	})
})

var _ = Describe("A 429's wait", func() {
	var (
		e    *env
		ctx  context.Context
		ids  []string
		logs *bytes.Buffer
	)

	BeforeEach(func() {
		ctx = context.Background()
		e = newEnv(fake.Options{})
		ids = []string{e.fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess})}
		logs = &bytes.Buffer{}
	})

	rateLimited := func(c *lighthouse.Client) *lighthouse.RateLimitError {
		_, err := c.GetUploadStatuses(ctx, ids)
		var rl *lighthouse.RateLimitError
		Expect(errors.As(err, &rl)).To(BeTrue(), "got %v", err)
		return rl
	}

	DescribeTable("is capped at MaxRetryAfter: the pause key never outlives it, and the refused header is logged and counted",
		func(name, value func(now time.Time) string) {
			now := e.clock.Now()
			e.fake.SetFaults(fake.Faults{Next: []fake.Fault{{Status: 429, Shape: fake.ShapeGateway,
				Headers: map[string]string{name(now): value(now)}}}})
			c := e.client(lighthouse.WithLogger(slog.New(slog.NewJSONHandler(logs, nil))))
			rl := rateLimited(c)
			Expect(rl.Wait).To(Equal(lighthouse.DefaultMaxRetryAfter))
			ttl := rdb.PTTL(ctx, e.cfg.RedisPrefix+"pause").Val()
			Expect(ttl).To(And(BeNumerically(">", 0), BeNumerically("<=", lighthouse.DefaultMaxRetryAfter)))
			Expect(metricValue(e.reg, "lighthouse_retry_after_capped_total", nil)).To(Equal(1.0))
			Expect(logs.String()).To(ContainSubstring("longer than LIGHTHOUSE_MAX_RETRY_AFTER"))
			Expect(logs.String()).To(ContainSubstring(`"header":"` + name(now) + `"`))
			Expect(logs.String()).To(ContainSubstring(`"header_value":"` + value(now) + `"`))
			// Every later call, here or in another process, waits at most the cap.
			Expect(rateLimited(e.secondClient()).Wait).To(BeNumerically("<=", lighthouse.DefaultMaxRetryAfter))
		},
		Entry("Retry-After 99999999999 (the repro: a TTL of centuries)",
			func(time.Time) string { return "Retry-After" }, func(time.Time) string { return "99999999999" }),
		Entry("Retry-After past int64",
			func(time.Time) string { return "Retry-After" }, func(time.Time) string { return "99999999999999999999999" }),
		Entry("Retry-After an HTTP date in 2999",
			func(time.Time) string { return "Retry-After" }, func(time.Time) string { return "Fri, 01 Jan 2999 00:00:00 GMT" }),
		Entry("Retry-After a day",
			func(time.Time) string { return "Retry-After" }, func(time.Time) string { return "86400" }),
		Entry("RateLimit-Reset a year",
			func(time.Time) string { return "RateLimit-Reset" }, func(time.Time) string { return "31536000" }),
	)

	It("honours a wait within the cap as asked, without counting it", func() {
		e.cfg.MaxRetryAfter = 2 * time.Minute
		e.fake.SetFaults(fake.Faults{Next: []fake.Fault{{Status: 429, Shape: fake.ShapeGateway, Headers: map[string]string{"Retry-After": "120"}}}})
		Expect(rateLimited(e.client()).Wait).To(Equal(2 * time.Minute))
		Expect(metricValue(e.reg, "lighthouse_retry_after_capped_total", nil)).To(BeZero())
	})

	It("shortens a pause key an older build set for centuries to the cap", func() {
		Expect(rdb.Set(ctx, e.cfg.RedisPrefix+"pause", "1", 246*365*24*time.Hour).Err()).To(Succeed())
		rl := rateLimited(e.client())
		Expect(rl.Remote).To(BeTrue())
		Expect(rl.Wait).To(Equal(lighthouse.DefaultMaxRetryAfter))
		Expect(rdb.PTTL(ctx, e.cfg.RedisPrefix+"pause").Val()).To(BeNumerically("<=", lighthouse.DefaultMaxRetryAfter))
		Expect(e.apiCalls("/uploads/status", 429)+e.apiCalls("/uploads/status", 200)).To(BeZero(), "no call while paused")
	})

	It("refuses a cap under a second", func() {
		e.cfg.MaxRetryAfter = time.Millisecond
		_, err := lighthouse.NewClient(e.cfg, rdb)
		Expect(err).To(MatchError(ContainSubstring("MaxRetryAfter")))
	})
})

func atoi(s string) int {
	var n int
	_, err := fmt.Sscan(s, &n)
	Expect(err).NotTo(HaveOccurred())
	return n
}
