package fake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/lighthouse/fake"
)

// statusBody is the 200 body of the status endpoints, decoded loosely.
type statusBody struct {
	Data struct {
		Statuses []struct {
			RequestID json.Number `json:"requestId"`
			Time      struct {
				StartTime *int64 `json:"startTime"`
				EndTime   *int64 `json:"endTime"`
			} `json:"time"`
			Status string `json:"status"`
			Steps  []struct {
				Name, NextStepName, Status string
			} `json:"steps"`
			Error *struct{ Detail, Step string } `json:"error"`
		} `json:"statuses"`
		NotFound []json.Number `json:"requestIdsNotFound"`
	} `json:"data"`
}

func decodeStatuses(body string) statusBody {
	var sb statusBody
	Expect(json.Unmarshal([]byte(body), &sb)).To(Succeed(), body)
	return sb
}

// upload posts a multipart upload with the given parameters JSON.
func upload(w *world, tok, params string) (*http.Response, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="parameters"`)
	h.Set("Content-Type", "application/json")
	p, _ := mw.CreatePart(h)
	_, _ = p.Write([]byte(params))
	f, _ := mw.CreateFormFile("file", "note.pdf")
	_, _ = f.Write([]byte("%PDF-1.4 hello"))
	Expect(mw.Close()).To(Succeed())
	return w.call(http.MethodPost, fake.APIPrefix+"/documents", tok, mw.FormDataContentType(), buf.String())
}

const goodParams = `{"data":{"systemName":"VA.gov","docType":"L023","claimId":600453005,"participantId":"600076281","fileName":"doctors-note.pdf","trackedItemIds":null}}`

var _ = Describe("API", func() {
	var (
		w   *world
		tok string
	)

	Context("when a path has no route", func() {
		It("answers the gateway 404", func() {
			w = start(fake.Options{})
			for _, path := range []string{"/services/benefits-documents/uploads/status", "/nothing", fake.APIPrefix + "/uploads"} {
				resp, body := w.call(http.MethodPost, path, "", "", "")
				Expect(resp.StatusCode).To(Equal(404))
				Expect(body).To(MatchJSON(`{"message":"no Route matched with those values"}`))
			}
		})
	})

	Context("when documents are uploaded", func() {
		BeforeEach(func() {
			w = start(fake.Options{ClaimsEvidenceDuration: time.Hour, BGSDuration: time.Hour})
			tok = w.token()
		})

		It("answers the real success body and moves the document through both steps", func() {
			resp, body := upload(w, tok, goodParams)
			Expect(resp.StatusCode).To(Equal(200))
			Expect(body).To(MatchJSON(`{"data":{"success":true,"requestId":1}}`))

			steps := func() []string {
				_, body := w.statuses(w.token(), `["1"]`) // a new token: hours pass
				s := decodeStatuses(body).Data.Statuses[0]
				return []string{s.Status, s.Steps[0].Status, s.Steps[1].Status}
			}
			Expect(steps()).To(Equal([]string{"IN_PROGRESS", "IN_PROGRESS", "NOT_STARTED"}))
			w.clock.Advance(time.Hour)
			Expect(steps()).To(Equal([]string{"IN_PROGRESS", "SUCCESS", "IN_PROGRESS"}))
			w.clock.Advance(time.Hour)
			Expect(steps()).To(Equal([]string{"SUCCESS", "SUCCESS", "SUCCESS"}))
		})

		DescribeTable("refuses bad parameters with the API's 400",
			func(params, detail string) {
				resp, body := upload(w, tok, params)
				Expect(resp.StatusCode).To(Equal(400))
				Expect(body).To(ContainSubstring(detail))
			},
			Entry("both identifiers", strings.Replace(goodParams, `"participantId"`, `"fileNumber":"796043735","participantId"`, 1),
				"Exactly one identifier, fileNumber or participantId, must be set."),
			Entry("no identifier", strings.Replace(goodParams, `"participantId":"600076281",`, ``, 1),
				"Exactly one identifier, fileNumber or participantId, must be set."),
			Entry("no systemName", strings.Replace(goodParams, `"VA.gov"`, `""`, 1), "systemName"),
		)
	})

	Context("when uploads fail at a step", func() {
		It("reports FAILED with the step and the workflow detail", func() {
			w = start(fake.Options{FailClaimsEvidence: 1})
			tok = w.token()
			upload(w, tok, goodParams)
			_, body := w.statuses(tok, `[1]`)
			s := decodeStatuses(body).Data.Statuses[0]
			Expect(s.Status).To(Equal("FAILED"))
			Expect(s.Error.Step).To(Equal("CLAIMS_EVIDENCE"))
			Expect(s.Error.Detail).To(Equal(fake.DefaultErrorDetail))
			Expect(s.Steps[1].Status).To(Equal("NOT_STARTED"))
			Expect(s.Time.EndTime).NotTo(BeNil())
		})
	})

	Context("when statuses are asked", func() {
		var ok, failed, pending string

		BeforeEach(func() {
			w = start(fake.Options{})
			tok = w.token()
			ok = w.srv.AddDocument(fake.Document{Outcome: fake.StatusSuccess})
			failed = w.srv.AddDocument(fake.Document{Outcome: fake.StatusFailed})
			pending = w.srv.AddDocument(fake.Document{Outcome: fake.StatusInProgress})
		})

		It("accepts ids as strings or numbers and answers numbers, no requestIdsNotFound when all are known", func() {
			resp, body := w.statuses(tok, `["`+ok+`",`+failed+`,"`+pending+`"]`)
			Expect(resp.StatusCode).To(Equal(200))
			Expect(body).To(ContainSubstring(`"requestId":` + ok + `,`))
			Expect(body).NotTo(ContainSubstring("requestIdsNotFound"))
			sb := decodeStatuses(body)
			Expect(sb.Data.Statuses).To(HaveLen(3))
			Expect(sb.Data.Statuses[2].Time.EndTime).To(BeNil())
			Expect(body).To(ContainSubstring(`"endTime":null`))
			Expect(w.srv.Requests()).To(ContainElement(HaveField("RequestIDs", Equal([]string{ok, failed, pending}))))
		})

		It("lists unknown ids as numbers", func() {
			_, body := w.statuses(tok, `["`+ok+`","999"]`)
			Expect(decodeStatuses(body).Data.NotFound).To(Equal([]json.Number{"999"}))
		})

		It("answers the API's 404 when no id is known", func() {
			resp, body := w.statuses(tok, `["998","999"]`)
			Expect(resp.StatusCode).To(Equal(404))
			Expect(body).To(ContainSubstring(`"detail":"Upload Request Async Status Not Found"`))
			Expect(body).To(ContainSubstring(`"instance"`))
		})

		It("answers the single-status endpoint with {data: status}", func() {
			resp, body := w.call(http.MethodGet, fake.APIPrefix+"/uploads/"+failed+"/status", tok, "", "")
			Expect(resp.StatusCode).To(Equal(200))
			var one struct{ Data struct{ Status string } }
			Expect(json.Unmarshal([]byte(body), &one)).To(Succeed())
			Expect(one.Data.Status).To(Equal("FAILED"))
		})

		It("applies the shape faults", func() {
			w.srv.SetFaults(fake.Faults{FailedWithoutError: true, SuccessWithoutEndTime: true, ExtraUnaskedIDs: 2, DuplicateEntries: true})
			_, body := w.statuses(tok, `["`+ok+`","`+failed+`"]`)
			sb := decodeStatuses(body)
			Expect(sb.Data.Statuses).To(HaveLen(6))
			Expect(sb.Data.Statuses[0].Time.EndTime).To(BeNil())
			Expect(sb.Data.Statuses[2].Error).To(BeNil())
			Expect(sb.Data.Statuses[4].RequestID).NotTo(BeElementOf(json.Number(ok), json.Number(failed)))
		})

		DescribeTable("makes entries hostile, of the kind asked, and counts them",
			func(kind, want string, entries int) {
				w.srv.SetFaults(fake.Faults{HostileRate: 1, HostileKinds: []string{kind}})
				resp, body := w.statuses(tok, `["`+ok+`","`+failed+`"]`)
				Expect(resp.StatusCode).To(Equal(200))
				Expect(body).To(ContainSubstring(want))
				Expect(strings.Count(body, `"requestId":`)).To(Equal(entries))
				Expect(w.srv.HostileServed()).To(HaveKeyWithValue(kind, BeNumerically(">=", 1)))
				w.srv.SetFaults(fake.Faults{})
				_, clean := w.statuses(tok, `["`+ok+`","`+failed+`"]`)
				Expect(strings.Count(clean, `"requestId":`)).To(Equal(2))
				if kind != fake.HostileDuplicate {
					Expect(clean).NotTo(ContainSubstring(want), "the documents' own statuses are unchanged")
				}
			},
			Entry(nil, fake.HostileLoneSurrogate, `"description":"disk \ud800 full: `, 2),
			Entry(nil, fake.HostileInvalidUTF8, "caf\xe9 \xff\xfe", 2),
			Entry(nil, fake.HostileFarFuture, `"endTime":9999999999999999`, 2),
			Entry(nil, fake.HostileAncient, `"startTime":-99999999999999`, 2),
			Entry(nil, fake.HostileReversed, `"time":{"startTime":1767312000000,"endTime":1767225600000}`, 2),
			Entry(nil, fake.HostileHugeField, strings.Repeat("x", 1<<20), 2),
			Entry(nil, fake.HostileDuplicate, `"status":"SUCCESS"`, 4),
			Entry(nil, fake.HostileWrongType, `"status":7`, 2),
		)

		It("makes at most one field huge an answer, so it stays within the client's body limit", func() {
			w.srv.SetFaults(fake.Faults{HostileRate: 1, HostileKinds: []string{fake.HostileHugeField}})
			_, body := w.statuses(tok, `["`+ok+`","`+failed+`"]`)
			Expect(len(body)).To(And(BeNumerically(">", fake.HugeFieldBytes), BeNumerically("<", 2*fake.HugeFieldBytes)))
		})

		It("renders each status again once its faults change, after a warm-up", func() {
			w.srv.WarmStatuses()
			_, body := w.statuses(tok, `["`+ok+`","`+failed+`"]`)
			warm := decodeStatuses(body)
			Expect(warm.Data.Statuses[0].Time.EndTime).NotTo(BeNil())
			Expect(warm.Data.Statuses[1].Error).NotTo(BeNil())

			w.srv.SetFaults(fake.Faults{FailedWithoutError: true, SuccessWithoutEndTime: true})
			_, body = w.statuses(tok, `["`+ok+`","`+failed+`"]`)
			faulty := decodeStatuses(body)
			Expect(faulty.Data.Statuses[0].Time.EndTime).To(BeNil())
			Expect(faulty.Data.Statuses[1].Error).To(BeNil())

			w.srv.SetFaults(fake.Faults{})
			_, body = w.statuses(tok, `["`+ok+`","`+failed+`"]`)
			Expect(decodeStatuses(body)).To(Equal(warm))
		})

		DescribeTable("refuses the whole call with the API's 400 for one id that is not an integer of int64",
			func(badID string) {
				resp, body := w.statuses(tok, `["`+ok+`",`+badID+`,"`+failed+`"]`)
				Expect(resp.StatusCode).To(Equal(http.StatusBadRequest))
				var apiErr struct {
					Errors []struct {
						Detail      string `json:"detail"`
						Status      int    `json:"status"`
						Title       string `json:"title"`
						Instance    string `json:"instance"`
						Diagnostics string `json:"diagnostics"`
					} `json:"errors"`
				}
				Expect(json.Unmarshal([]byte(body), &apiErr)).To(Succeed(), body)
				Expect(apiErr.Errors).To(ConsistOf(SatisfyAll(
					HaveField("Detail", "requestIds must be integers"),
					HaveField("Status", 400),
					HaveField("Title", "Bad Request"),
					HaveField("Instance", Not(BeEmpty())),
					HaveField("Diagnostics", Not(BeEmpty())),
				)))
				// The request log keeps the ids as they were sent.
				Expect(w.srv.Requests()).To(ContainElement(SatisfyAll(
					HaveField("StatusCode", http.StatusBadRequest),
					HaveField("RequestIDs", HaveLen(3)),
				)))
			},
			Entry("letters", `"abc"`),
			Entry("twenty digits, past int64", `"99999999999999999999"`),
			Entry("a number past int64", `99999999999999999999`),
			Entry("a fraction", `1.5`),
			Entry("a negative number", `-3`),
		)

		It("refuses ids past its MaxRequestID like non-integers, and takes the rest", func() {
			w = start(fake.Options{MaxRequestID: 100})
			tok = w.token()
			known := w.srv.AddDocument(fake.Document{Outcome: fake.StatusSuccess})
			resp, body := w.statuses(tok, `["`+known+`","101"]`)
			Expect(resp.StatusCode).To(Equal(http.StatusBadRequest))
			Expect(body).To(ContainSubstring("requestIds must be integers"))
			resp, _ = w.statuses(tok, `["`+known+`","100"]`)
			Expect(resp.StatusCode).To(Equal(http.StatusOK))
		})

		It("answers a status call asking more than MaxRequestIDs with the gateway's 413", func() {
			w.srv.SetFaults(fake.Faults{MaxRequestIDs: 1})
			resp, body := w.statuses(tok, `["`+ok+`","`+failed+`"]`)
			Expect(resp.StatusCode).To(Equal(http.StatusRequestEntityTooLarge))
			Expect(body).To(MatchJSON(`{"message":"Request size limit exceeded"}`))
			resp, _ = w.statuses(tok, `["`+ok+`"]`)
			Expect(resp.StatusCode).To(Equal(http.StatusOK))
		})

		It("answers scripted one-shot faults in order, then normally", func() {
			w.srv.SetFaults(fake.Faults{Next: []fake.Fault{
				{Status: 503, Shape: fake.ShapeHTML},
				{Status: 500, Shape: fake.ShapeFramework},
				{Status: 504, Shape: fake.ShapeGateway},
			}})
			resp, body := w.statuses(tok, `[1]`)
			Expect(resp.StatusCode).To(Equal(503))
			Expect(body).To(ContainSubstring("<html>"))
			resp, body = w.statuses(tok, `[1]`)
			Expect(resp.StatusCode).To(Equal(500))
			Expect(body).To(MatchJSON(`{"status":500,"error":"Failed to verify payload."}`))
			resp, body = w.statuses(tok, `[1]`)
			Expect(resp.StatusCode).To(Equal(504))
			Expect(body).To(MatchJSON(`{"message":"The server took too long to respond"}`))
			resp, _ = w.statuses(tok, `[1]`)
			Expect(resp.StatusCode).To(Equal(200))
		})
	})

	Context("when a rate limit is set", func() {
		BeforeEach(func() {
			w = start(fake.Options{RateLimitPerMinute: 2})
			tok = w.token()
			w.srv.AddDocument(fake.Document{Outcome: fake.StatusSuccess})
		})

		It("sends the headers, answers 429 past the limit and resets with the minute", func() {
			resp, _ := w.statuses(tok, `[1]`)
			Expect(resp.Header.Get("X-RateLimit-Limit-Minute")).To(Equal("2"))
			Expect(resp.Header.Get("X-RateLimit-Remaining-Minute")).To(Equal("1"))
			Expect(resp.Header.Get("RateLimit-Limit")).To(Equal("2"))
			Expect(resp.Header.Get("RateLimit-Remaining")).To(Equal("1"))
			Expect(resp.Header.Get("RateLimit-Reset")).To(Equal("45"))
			w.statuses(tok, `[1]`)

			resp, body := w.statuses(tok, `[1]`)
			Expect(resp.StatusCode).To(Equal(429))
			Expect(body).To(MatchJSON(`{"message":"API rate limit exceeded"}`))
			Expect(resp.Header.Get("RateLimit-Remaining")).To(Equal("0"))

			w.clock.Advance(45 * time.Second)
			resp, _ = w.statuses(tok, `[1]`)
			Expect(resp.StatusCode).To(Equal(200))
		})
	})

	Context("when driven through the admin endpoints", func() {
		It("adds documents, sets faults and lists requests", func() {
			w = start(fake.Options{})
			tok = w.token()
			resp, body := w.call(http.MethodPost, "/_fake/documents", "", "application/json", `{"outcome":"FAILED","failed_step":"BENEFITS_GATEWAY_SERVICE"}`)
			Expect(resp.StatusCode).To(Equal(201))
			Expect(body).To(MatchJSON(`{"request_id":"1"}`))

			resp, _ = w.call(http.MethodPut, "/_fake/faults", "", "application/json", `{"next":[{"status":502,"shape":"empty"}]}`)
			Expect(resp.StatusCode).To(Equal(200))
			resp, _ = w.statuses(tok, `[1]`)
			Expect(resp.StatusCode).To(Equal(502))
			_, body = w.statuses(tok, `[1]`)
			Expect(decodeStatuses(body).Data.Statuses[0].Error.Step).To(Equal("BENEFITS_GATEWAY_SERVICE"))

			_, body = w.call(http.MethodGet, "/_fake/requests", "", "", "")
			var reqs []fake.Request
			Expect(json.Unmarshal([]byte(body), &reqs)).To(Succeed())
			Expect(reqs).To(HaveLen(3)) // token + two status calls
			Expect(reqs[1]).To(And(HaveField("StatusCode", 502), HaveField("RequestIDs", []string{"1"})))

			resp, _ = w.call(http.MethodPut, "/_fake/faults", "", "application/json", `{"no_such_fault":true}`)
			Expect(resp.StatusCode).To(Equal(400))
		})
	})
})

var _ = Describe("ListenAndServe", func() {
	Context("when its context ends", func() {
		It("shuts down and returns nil", func() {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			Expect(err).NotTo(HaveOccurred())
			addr := ln.Addr().String()
			Expect(ln.Close()).To(Succeed())

			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- fake.ListenAndServe(ctx, addr, fake.New(fake.Options{})) }()
			Eventually(func() error {
				resp, err := http.Get("http://" + addr + "/nothing")
				if err == nil {
					resp.Body.Close()
				}
				return err
			}).Should(Succeed())
			cancel()
			Eventually(done).Should(Receive(BeNil()))
		})
	})
})
