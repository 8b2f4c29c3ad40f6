package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/hibiken/asynq"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/worker/api"
)

// What a hostile or careless caller of the enqueue API meets.
var _ = Describe("Enqueue API hardening", func() {
	var (
		queue   string
		prefix  string
		insp    *asynq.Inspector
		server  *httptest.Server
		cfg     api.AuthConfig
		pollCap *api.PollCap
	)

	BeforeEach(func() {
		queue = newQueueName()
		prefix = "httpapi-test:" + randomHex(6) + ":"
		insp = asynq.NewInspectorFromRedisClient(rdb)
		DeferCleanup(func(ctx context.Context) {
			if err := insp.DeleteQueue(queue, true); err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
				Expect(err).NotTo(HaveOccurred())
			}
			keys, err := rdb.Keys(ctx, prefix+"*").Result()
			Expect(err).NotTo(HaveOccurred())
			if len(keys) > 0 {
				Expect(rdb.Del(ctx, keys...).Err()).To(Succeed())
			}
		})
		cfg = api.AuthConfig{HS256Secret: []byte(hsSecret), Issuer: issuer, Audience: audience}
		pollCap = nil
	})

	start := func() {
		GinkgoHelper()
		auth, err := api.NewAuthenticator(cfg)
		Expect(err).NotTo(HaveOccurred())
		api, err := api.New(api.Options{
			Client: asynq.NewClientFromRedisClient(rdb), Queue: queue, Auth: auth, EnqueueTimeout: 3 * time.Second, PollCap: pollCap,
		})
		Expect(err).NotTo(HaveOccurred())
		server = httptest.NewServer(api)
		DeferCleanup(server.Close)
	}

	tokenFor := func(subject string, edit func(jwt.MapClaims)) string {
		GinkgoHelper()
		c := jwt.MapClaims{"iss": issuer, "aud": audience, "sub": subject, "iat": time.Now().Unix(), "exp": time.Now().Add(30 * time.Minute).Unix()}
		if edit != nil {
			edit(c)
		}
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(hsSecret))
		Expect(err).NotTo(HaveOccurred())
		return s
	}

	post := func(path, token, body string) answer {
		GinkgoHelper()
		req, err := http.NewRequest(http.MethodPost, server.URL+path, strings.NewReader(body))
		Expect(err).NotTo(HaveOccurred())
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		a := answer{Status: resp.StatusCode, Header: resp.Header}
		Expect(json.NewDecoder(resp.Body).Decode(&a.Body)).To(Succeed())
		return a
	}

	Describe("the body's JSON", func() {
		BeforeEach(func() { start() })

		DescribeTable("answers 400 naming the field",
			func(path, body, field, message string) {
				a := post(path, tokenFor("claims-api", nil), body)
				Expect(a.Status).To(Equal(http.StatusBadRequest))
				Expect(a.Body).To(HaveKeyWithValue("errors", HaveKeyWithValue(field, ContainSubstring(message))))
				Expect(insp.Queues()).NotTo(ContainElement(queue), "nothing was enqueued")
			},
			Entry("a member name in another case", "/v1/polls", `{"REQUEST_IDS": ["1"]}`, "REQUEST_IDS", "not a known field"),
			Entry("a member name in mixed case", "/v1/uploads",
				`{"Form526_Submission_ID": 7, "lighthouse_document_request_id": "634", "document_code": "L228"}`, "Form526_Submission_ID", "not a known field"),
			Entry("a member given twice", "/v1/polls", `{"request_ids": ["1"], "request_ids": ["2"]}`, "request_ids", "more than once"),
			Entry("a member given twice in another case", "/v1/uploads",
				`{"form526_submission_id": 7, "form526_submission_id": 8, "lighthouse_document_request_id": "634", "document_code": "L228"}`,
				"form526_submission_id", "more than once"),
			Entry("a string for a number", "/v1/polls", `{"form526_submission_id": "7"}`, "form526_submission_id", "a whole number"),
			Entry("a zero submission id", "/v1/polls", `{"form526_submission_id": 0}`, "form526_submission_id", "must be a positive id"),
			Entry("a negative submission id", "/v1/polls", `{"form526_submission_id": -4}`, "form526_submission_id", "must be a positive id"),
			Entry("a zero submission id to track", "/v1/uploads",
				`{"form526_submission_id": 0, "lighthouse_document_request_id": "634", "document_code": "L228"}`, "form526_submission_id", "must be a positive id"),
			Entry("a negative submission id to track", "/v1/uploads",
				`{"form526_submission_id": -1, "lighthouse_document_request_id": "634", "document_code": "L228"}`, "form526_submission_id", "must be a positive id"),
			Entry("a zero attachment id", "/v1/uploads",
				`{"form526_submission_id": 3, "form_attachment_id": 0, "lighthouse_document_request_id": "634", "document_code": "L107"}`, "form_attachment_id", "must be a positive id"),
		)

		It("says a zero submission id is invalid, not that request_ids are missing", func() {
			a := post("/v1/polls", tokenFor("claims-api", nil), `{"form526_submission_id": 0}`)
			Expect(a.Body["errors"]).NotTo(HaveKey("request_ids"))
		})

		It("polls an id given twice once, as the same task as without the repetition", func() {
			first := post("/v1/polls", tokenFor("claims-api", nil), `{"request_ids": ["5", "6", "5", "6", "5"]}`)
			Expect(first.Status).To(Equal(http.StatusAccepted))
			info, err := insp.GetTaskInfo(queue, first.Body["task_id"].(string))
			Expect(err).NotTo(HaveOccurred())
			Expect(string(info.Payload)).To(MatchJSON(`{"request_ids": ["5", "6"]}`))

			second := post("/v1/polls", tokenFor("claims-api", nil), `{"request_ids": ["5", "6"]}`)
			Expect(second.Status).To(Equal(http.StatusAccepted))
			Expect(second.Body).To(HaveKeyWithValue("duplicate", true))
			Expect(second.Body["task_id"]).To(Equal(first.Body["task_id"]))
		})
	})

	Describe("tokens", func() {
		BeforeEach(func() { start() })

		DescribeTable("refuses with 401",
			func(edit func(jwt.MapClaims)) {
				a := post("/v1/polls", tokenFor("claims-api", edit), `{"request_ids": ["1"]}`)
				Expect(a.Status).To(Equal(http.StatusUnauthorized))
				Expect(a.Header.Get("WWW-Authenticate")).To(ContainSubstring(`error="invalid_token"`))
			},
			Entry("a lifetime over the maximum (1 h by default)", func(c jwt.MapClaims) {
				c["exp"] = time.Now().Add(2 * time.Hour).Unix()
			}),
			Entry("a lifetime over the maximum, without iat", func(c jwt.MapClaims) {
				delete(c, "iat")
				c["exp"] = time.Now().Add(3 * time.Hour).Unix()
			}),
			Entry("a backdated iat that stretches the lifetime", func(c jwt.MapClaims) {
				c["iat"] = time.Now().Add(-5 * time.Hour).Unix()
			}),
			Entry("exp as a string", func(c jwt.MapClaims) {
				c["exp"] = fmt.Sprint(time.Now().Add(10 * time.Minute).Unix())
			}),
			Entry("iat as a string", func(c jwt.MapClaims) {
				c["iat"] = fmt.Sprint(time.Now().Unix())
			}),
			Entry("exp null", func(c jwt.MapClaims) { c["exp"] = nil }),
			Entry("no subject", func(c jwt.MapClaims) { delete(c, "sub") }),
		)

		DescribeTable("refuses with 401 a token whose crit header names extensions it does not understand (RFC 7515 4.1.11)",
			func(crit any) {
				t := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": issuer, "aud": audience, "sub": "claims-api",
					"iat": time.Now().Unix(), "exp": time.Now().Add(30 * time.Minute).Unix()})
				t.Header["crit"] = crit
				t.Header["https://example.org/must-understand"] = true
				signed, err := t.SignedString([]byte(hsSecret))
				Expect(err).NotTo(HaveOccurred())
				a := post("/v1/polls", signed, `{"request_ids": ["1"]}`)
				Expect(a.Status).To(Equal(http.StatusUnauthorized))
				Expect(a.Header.Get("WWW-Authenticate")).To(ContainSubstring(`error="invalid_token"`))
				Expect(insp.Queues()).NotTo(ContainElement(queue), "nothing was enqueued")
			},
			Entry("an extension", []string{"https://example.org/must-understand"}),
			Entry("b64 (RFC 7797), which changes what is signed", []string{"b64"}),
			Entry("an empty list, which RFC 7515 forbids", []string{}),
			Entry("not a list", "exp"),
		)

		Context("when the maximum lifetime is set to 3 h", func() {
			BeforeEach(func() {
				cfg.MaxLifetime = 3 * time.Hour
				start()
			})

			It("accepts a 2 h token", func() {
				a := post("/v1/polls", tokenFor("claims-api", func(c jwt.MapClaims) { c["exp"] = time.Now().Add(2 * time.Hour).Unix() }), `{"request_ids": ["1"]}`)
				Expect(a.Status).To(Equal(http.StatusAccepted))
			})
		})
	})

	Context("when polls are capped at 10 calls' worth a minute per caller, 100 ids a call", func() {
		BeforeEach(func() {
			pollCap = &api.PollCap{Redis: rdb, KeyPrefix: prefix, PerMinute: 10, BatchSize: 100}
			start()
		})

		ids := func(from, n int) string {
			out := make([]string, n)
			for i := range out {
				out[i] = fmt.Sprintf(`"%d"`, from+i)
			}
			return `{"request_ids": [` + strings.Join(out, ",") + `]}`
		}

		It("counts the Lighthouse calls a poll costs, not requests (10 × 2,999 ids once queued 311 batches a minute)", func() {
			token := tokenFor("claims-api", nil)
			// The repro: 2,999 ids are 30 calls, more than a minute's 10.
			refused := post("/v1/polls", token, ids(1, 2999))
			Expect(refused.Status).To(Equal(http.StatusBadRequest))
			Expect(refused.Body).To(HaveKeyWithValue("errors", HaveKeyWithValue("request_ids",
				ContainSubstring("2999 request ids are 30 Lighthouse calls, more than the 10"))))

			Expect(post("/v1/polls", token, ids(1, 701)).Status).To(Equal(http.StatusAccepted), "8 calls")
			Expect(post("/v1/polls", token, ids(1000, 200)).Status).To(Equal(http.StatusAccepted), "2 calls: 10 spent")
			over := post("/v1/polls", token, ids(2000, 1))
			Expect(over.Status).To(Equal(http.StatusTooManyRequests))
			Expect(over.Header.Get("Retry-After")).To(MatchRegexp(`^[1-9][0-9]*$`))
			Expect(post("/v1/polls", token, `{"form526_submission_id": 7}`).Status).To(Equal(http.StatusTooManyRequests), "a submission costs a call too")

			pending, err := insp.ListPendingTasks(queue)
			Expect(err).NotTo(HaveOccurred())
			Expect(pending).To(HaveLen(2), "only the two polls within the cap were enqueued")
		})

		It("counts an id given twice once", func() {
			token := tokenFor("claims-api", nil)
			twice := ids(1, 1000)
			twice = strings.TrimSuffix(twice, "]}") + "," + strings.TrimPrefix(ids(1, 1000), `{"request_ids": [`)
			Expect(post("/v1/polls", token, twice).Status).To(Equal(http.StatusAccepted), "1,000 distinct ids: 10 calls")
		})
	})

	Context("when polls are capped at 3 a minute per caller", func() {
		BeforeEach(func() {
			pollCap = &api.PollCap{Redis: rdb, KeyPrefix: prefix, PerMinute: 3}
			start()
		})

		It("answers the fourth poll of one caller 429 with Retry-After, and another caller still 202", func(ctx context.Context) {
			token := tokenFor("claims-api", nil)
			for i := range 3 {
				Expect(post("/v1/polls", token, fmt.Sprintf(`{"request_ids": ["%d"]}`, i+1)).Status).To(Equal(http.StatusAccepted))
			}
			refused := post("/v1/polls", tokenFor("claims-api", nil), `{"request_ids": ["4"]}`)
			Expect(refused.Status).To(Equal(http.StatusTooManyRequests))
			Expect(refused.Header.Get("Retry-After")).To(MatchRegexp(`^[1-9][0-9]*$`))
			Expect(refused.Body).To(HaveKeyWithValue("error", ContainSubstring("3 polls a minute")))
			pending, err := insp.ListPendingTasks(queue)
			Expect(err).NotTo(HaveOccurred())
			Expect(pending).To(HaveLen(3), "the refused poll enqueued nothing")

			Expect(post("/v1/polls", tokenFor("another-service", nil), `{"request_ids": ["4"]}`).Status).To(Equal(http.StatusAccepted))

			keys, err := rdb.Keys(ctx, prefix+"*").Result()
			Expect(err).NotTo(HaveOccurred())
			Expect(keys).To(ConsistOf(prefix+"api:polls:claims-api", prefix+"api:polls:another-service"), "keyed by subject, under the prefix")
			for _, k := range keys {
				Expect(k).NotTo(ContainSubstring(token))
			}
		})

		It("does not cap tracking uploads", func() {
			token := tokenFor("claims-api", nil)
			for i := range 5 {
				body := fmt.Sprintf(`{"form526_submission_id": 7, "lighthouse_document_request_id": "%d", "document_code": "L228"}`, 600+i)
				Expect(post("/v1/uploads", token, body).Status).To(Equal(http.StatusAccepted))
			}
		})
	})
})
