package spec_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/vagov/lighthouse526/lighthouse/fake"
	"github.com/vagov/lighthouse526/models"
)

// Issue 23's repros against the real binary: no answer from Lighthouse and
// no setting stops polling.
var _ = Describe("Hostile answers and nonsense settings", func() {
	var w *world

	BeforeEach(func() {
		w = newWorld()
	})

	It("ends worker poll --now after a 429 that asked for centuries, having waited no longer than LIGHTHOUSE_MAX_RETRY_AFTER", func(ctx SpecContext) {
		id := w.fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess})
		ids := seedUploads(ctx, upload{requestID: id})
		// The repro: an older build had set the pause key for 246 years.
		Expect(rdb.Set(ctx, w.prefix+"pause", "1", 246*365*24*time.Hour).Err()).To(Succeed())
		w.fake.SetFaults(fake.Faults{Next: []fake.Fault{{Endpoint: "uploads_status", Status: http.StatusTooManyRequests,
			Shape: fake.ShapeGateway, Headers: map[string]string{"Retry-After": "99999999999"}}}})

		session := w.start([]string{"poll", "--now", "--json"}, "LIGHTHOUSE_MAX_RETRY_AFTER=2s")
		Eventually(session).WithTimeout(time.Minute).Should(gexec.Exit(0), "worker poll --now waited on the pause (rc 124 before)")
		Expect(rdb.PTTL(ctx, w.prefix+"pause").Val()).To(BeNumerically("<=", 2*time.Second))
		Expect(loadUpload(ctx, ids[0]).AasmState).To(Equal(models.StateCompleted))
		Expect(string(session.Err.Contents())).To(ContainSubstring(`"header_value":"99999999999"`))
	})

	It("applies an answer with a lone surrogate, invalid UTF-8, a 5 MB detail and an endTime past Postgres's range, entry by entry, in one poll", func(ctx SpecContext) {
		var rids []string
		var ups []upload
		for range 5 {
			rid := w.fake.AddDocument(fake.Document{Outcome: fake.StatusFailed})
			rids = append(rids, rid)
			ups = append(ups, upload{requestID: rid, documentType: models.DocumentTypeForm0781})
		}
		ids := seedUploads(ctx, ups...)
		entry := func(rid, times, detail string) string {
			return fmt.Sprintf(`{"requestId":%s,"time":%s,"status":"FAILED","steps":[],"error":{"detail":%s,"step":"CLAIMS_EVIDENCE"}}`, rid, times, detail)
		}
		ok := `{"startTime":1767225600000,"endTime":1767226200000}`
		huge := strings.Repeat("y", 5<<20)
		body := `{"data":{"statuses":[` + strings.Join([]string{
			entry(rids[0], ok, `"fine"`),
			entry(rids[1], ok, `"disk \ud800 full"`),
			entry(rids[2], ok, "\"caf\xe9\xff\""),
			entry(rids[3], ok, `"`+huge+`"`),
			entry(rids[4], `{"startTime":1767225600000,"endTime":9999999999999999}`, `"x"`),
		}, ",") + `]}}`
		w.fake.SetFaults(fake.Faults{Next: []fake.Fault{{Endpoint: "uploads_status", Status: http.StatusOK, Body: body}}})

		session := w.run([]string{"poll", "--now", "--json"})
		Expect(session.ExitCode()).To(Equal(0), string(session.Err.Contents()))
		var sum map[string]any
		Expect(json.Unmarshal(session.Out.Contents(), &sum)).To(Succeed())
		Expect(sum).To(HaveKeyWithValue("failed", BeNumerically("==", 4)))
		Expect(sum).To(HaveKeyWithValue("errors", BeNumerically("==", 0)))
		for _, id := range ids[:4] {
			Expect(loadUpload(ctx, id).AasmState).To(Equal(models.StateFailed), "upload %d", id)
		}
		future := loadUpload(ctx, ids[4])
		Expect(future.AasmState).To(Equal(models.StatePending), "its entry is malformed, not applied")
		Expect(future.StatusLastPolledAt).NotTo(BeNil(), "stamped, asked again next cycle")
		Expect(future.LighthouseProcessingEndedAt).To(BeNil())

		cut := loadUpload(ctx, ids[3])
		Expect(len(cut.ErrorMessage)).To(BeNumerically("<", 70<<10), "a 5 MB detail stored at 64 KiB")
		Expect(len(cut.LastStatusResponse)).To(BeNumerically("<", 70<<10))
		Expect(string(cut.ErrorMessage)).To(ContainSubstring("[cut by lighthouse526 at 65536 of 5242880 bytes]"))
		Expect(string(loadUpload(ctx, ids[1]).ErrorMessage)).To(ContainSubstring("disk \uFFFD full"), "the lone surrogate stored as U+FFFD")
		for _, line := range strings.Split(string(session.Err.Contents()), "\n") {
			Expect(len(line)).To(BeNumerically("<", 200<<10), "a log line of Lighthouse's text over 200 KiB")
		}

		show := w.run([]string{"uploads", "show", rids[3]})
		Expect(show.ExitCode()).To(Equal(0))
		Expect(len(show.Out.Contents())).To(BeNumerically("<", 8<<10))
		Expect(string(show.Out.Contents())).To(ContainSubstring("bytes in all; --json prints what is stored"))
	})

	DescribeTable("refuses a setting that cannot work, in worker config and worker run alike, with exit 2 naming the variable and the limit",
		func(setting, why string, extra ...string) {
			for _, cmd := range []string{"config", "run"} {
				session := w.start([]string{cmd}, append([]string{setting, "METRICS_ADDR=" + freeAddr()}, extra...)...)
				Eventually(session).WithTimeout(30*time.Second).Should(gexec.Exit(2), "worker %s", cmd)
				Expect(string(session.Err.Contents())).To(ContainSubstring(why), "worker %s", cmd)
			}
		},
		Entry(nil, "POLL_FLOOR=999ns", "POLL_FLOOR: must be between 1s and 168h0m0s, got 999ns", "POLL_STRATEGY=adaptive"),
		Entry(nil, "POLL_LADDER=0:999ns", "POLL_LADDER: poll ladder rung 1: interval 999ns is under the minimum of 1s", "POLL_STRATEGY=adaptive"),
		Entry(nil, "POLL_CRON=@every 1000000h", "POLL_CRON: leaves"),
		Entry(nil, "LIGHTHOUSE_MAX_RETRY_AFTER=100h", "LIGHTHOUSE_MAX_RETRY_AFTER: must be between 1s and 1h0m0s"),
		Entry(nil, "SIDEKIQ_NAMESPACE=asynq", "SIDEKIQ_NAMESPACE: must not be asynq"),
		Entry(nil, "MONITOR_PASSWORD="+strings.Repeat("a", 16), "MONITOR_PASSWORD: is too weak", "MONITOR_USERNAME=ops"),
		Entry(nil, "API_JWT_HS256_SECRET="+strings.Repeat("a", 32), "API_JWT_HS256_SECRET: is too weak"),
	)

	It("prints no secret query parameter and no control character in worker config", func() {
		session := w.run([]string{"config"}, "MONITOR_PROMETHEUS_ADDR=https://prom.example/?pwd=p-hunter2&auth=a-hunter2&key=k-hunter2&sig=s-hunter2&code=c-hunter2",
			"MONITOR_USERNAME=ops\x1b[2J", "MONITOR_PASSWORD=k3J9xQ2mP7vL4nR8")
		Expect(session.ExitCode()).To(Equal(0), string(session.Err.Contents()))
		out := string(session.Out.Contents())
		Expect(out).NotTo(ContainSubstring("hunter2"))
		Expect(out).NotTo(ContainSubstring("\x1b"))
		Expect(out).To(ContainSubstring(`MONITOR_USERNAME=ops\x1b[2J`))
	})
})
