package api_test

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/hibiken/asynq"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/tasks"
	"github.com/vagov/lighthouse526/worker/api"
)

const (
	issuer   = "https://va.gov/token-issuer"
	audience = "lighthouse526-api"
	hsSecret = "an-hs256-secret-of-at-least-32-bytes!!"
)

// answer is a decoded API response.
type answer struct {
	Status int
	Header http.Header
	Body   map[string]any
}

var _ = Describe("Enqueue API", func() {
	var (
		queue  string
		insp   *asynq.Inspector
		client *asynq.Client
		cfg    api.AuthConfig
		server *httptest.Server
	)

	start := func() {
		GinkgoHelper()
		auth, err := api.NewAuthenticator(cfg)
		Expect(err).NotTo(HaveOccurred())
		api, err := api.New(api.Options{Client: client, Queue: queue, Auth: auth, EnqueueTimeout: 3 * time.Second})
		Expect(err).NotTo(HaveOccurred())
		server = httptest.NewServer(api)
		DeferCleanup(server.Close)
	}

	BeforeEach(func() {
		queue = newQueueName()
		client = asynq.NewClientFromRedisClient(rdb)
		insp = asynq.NewInspectorFromRedisClient(rdb)
		DeferCleanup(func() {
			if err := insp.DeleteQueue(queue, true); err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
				Expect(err).NotTo(HaveOccurred())
			}
		})
		cfg = api.AuthConfig{RSAPublicKey: &rsaKey.PublicKey, HS256Secret: []byte(hsSecret), Issuer: issuer, Audience: audience}
	})

	validClaims := func() jwt.MapClaims {
		return jwt.MapClaims{"iss": issuer, "aud": audience, "sub": "claims-api", "iat": time.Now().Unix(), "exp": time.Now().Add(5 * time.Minute).Unix()}
	}
	rs256 := func(claims jwt.MapClaims, key *rsa.PrivateKey) string {
		GinkgoHelper()
		s, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(key)
		Expect(err).NotTo(HaveOccurred())
		return s
	}
	hs256 := func(claims jwt.MapClaims, secret []byte) string {
		GinkgoHelper()
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
		Expect(err).NotTo(HaveOccurred())
		return s
	}
	post := func(path, token, contentType string, body io.Reader) answer {
		GinkgoHelper()
		req, err := http.NewRequest(http.MethodPost, server.URL+path, body)
		Expect(err).NotTo(HaveOccurred())
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		a := answer{Status: resp.StatusCode, Header: resp.Header}
		Expect(json.NewDecoder(resp.Body).Decode(&a.Body)).To(Succeed())
		return a
	}
	postJSON := func(path, token, body string) answer {
		GinkgoHelper()
		return post(path, token, "application/json", strings.NewReader(body))
	}
	trackBody := `{"form526_submission_id": 7, "lighthouse_document_request_id": "634", "document_code": "L228"}`

	Describe("authentication", func() {
		BeforeEach(func() { start() })

		DescribeTable("refuses the call with 401 and a Bearer challenge",
			func(token func() string, challenge string) {
				a := postJSON("/v1/uploads", token(), trackBody)
				Expect(a.Status).To(Equal(http.StatusUnauthorized))
				Expect(a.Header.Get("WWW-Authenticate")).To(Equal(challenge))
				Expect(rdb.SIsMember(context.Background(), "asynq:queues", queue).Val()).To(BeFalse(), "nothing was enqueued")
			},
			Entry("without a token", func() string { return "" }, `Bearer realm="lighthouse526"`),
			Entry("signed with a key it does not trust", func() string { return rs256(validClaims(), otherKey) },
				`Bearer realm="lighthouse526", error="invalid_token"`),
			Entry("with an HS256 token signed with another secret", func() string {
				return hs256(validClaims(), []byte("another-secret-of-at-least-32-bytes!!!"))
			}, `Bearer realm="lighthouse526", error="invalid_token"`),
			Entry("for another audience", func() string {
				c := validClaims()
				c["aud"] = "someone-else"
				return rs256(c, rsaKey)
			}, `Bearer realm="lighthouse526", error="invalid_token"`),
			Entry("from another issuer", func() string {
				c := validClaims()
				c["iss"] = "https://evil.example"
				return rs256(c, rsaKey)
			}, `Bearer realm="lighthouse526", error="invalid_token"`),
			Entry("expired", func() string {
				c := validClaims()
				c["exp"] = time.Now().Add(-time.Hour).Unix()
				return rs256(c, rsaKey)
			}, `Bearer realm="lighthouse526", error="invalid_token"`),
			Entry("without exp", func() string {
				c := validClaims()
				delete(c, "exp")
				return rs256(c, rsaKey)
			}, `Bearer realm="lighthouse526", error="invalid_token"`),
			Entry("HS256-signed with the RSA public key (algorithm confusion)", func() string {
				return hs256(validClaims(), pubPEM(&rsaKey.PublicKey))
			}, `Bearer realm="lighthouse526", error="invalid_token"`),
			Entry("unsigned (alg none)", func() string {
				s, err := jwt.NewWithClaims(jwt.SigningMethodNone, validClaims()).SignedString(jwt.UnsafeAllowNoneSignatureType)
				Expect(err).NotTo(HaveOccurred())
				return s
			}, `Bearer realm="lighthouse526", error="invalid_token"`),
		)

		It("accepts an RS256 token and enqueues the task", func() {
			a := postJSON("/v1/uploads", rs256(validClaims(), rsaKey), trackBody)
			Expect(a.Status).To(Equal(http.StatusAccepted))
			Expect(a.Body).To(HaveKeyWithValue("queue", queue))
			info, err := insp.GetTaskInfo(queue, a.Body["task_id"].(string))
			Expect(err).NotTo(HaveOccurred())
			Expect(info.Type).To(Equal(tasks.TypeDocumentUploadTrack))
			Expect(string(info.Payload)).To(MatchJSON(trackBody))
		})

		It("accepts an HS256 token", func() {
			a := postJSON("/v1/polls", hs256(validClaims(), []byte(hsSecret)), `{"request_ids": ["1", "2"]}`)
			Expect(a.Status).To(Equal(http.StatusAccepted))
			info, err := insp.GetTaskInfo(queue, a.Body["task_id"].(string))
			Expect(err).NotTo(HaveOccurred())
			Expect(info.Type).To(Equal(tasks.TypeDocumentUploadPollNow))
		})
	})

	Context("when a scope is required", func() {
		BeforeEach(func() {
			cfg.RequiredScope = "uploads.write"
			start()
		})

		It("answers 403 to a valid token without it, and accepts one with it", func() {
			a := postJSON("/v1/uploads", rs256(validClaims(), rsaKey), trackBody)
			Expect(a.Status).To(Equal(http.StatusForbidden))
			Expect(a.Header.Get("WWW-Authenticate")).To(ContainSubstring(`error="insufficient_scope"`))

			c := validClaims()
			c["scope"] = "uploads.read uploads.write"
			Expect(postJSON("/v1/uploads", rs256(c, rsaKey), trackBody).Status).To(Equal(http.StatusAccepted))
		})
	})

	Describe("validation", func() {
		var token string
		BeforeEach(func() {
			start()
			token = rs256(validClaims(), rsaKey)
		})

		DescribeTable("answers 400 with the problems by field",
			func(path, body string, field, message string) {
				a := postJSON(path, token, body)
				Expect(a.Status).To(Equal(http.StatusBadRequest))
				Expect(a.Body).To(HaveKeyWithValue("errors", HaveKeyWithValue(field, ContainSubstring(message))))
			},
			Entry("an empty body", "/v1/uploads", ``, "body", "is required"),
			Entry("broken JSON", "/v1/uploads", `{"form526_submission_id": 1`, "body", "not valid JSON"),
			Entry("an unknown field", "/v1/uploads", `{"form526_submission_id": 1, "file_number": "x"}`, "file_number", "not a known field"),
			Entry("a number for the request id", "/v1/uploads",
				`{"form526_submission_id": 1, "lighthouse_document_request_id": 634, "document_code": "L023"}`, "lighthouse_document_request_id", "must be a string"),
			Entry("a request id past int64", "/v1/uploads",
				`{"form526_submission_id": 1, "lighthouse_document_request_id": "99999999999999999999", "document_code": "L023"}`, "lighthouse_document_request_id", "must be the decimal requestId"),
			Entry("a missing submission", "/v1/uploads", `{"lighthouse_document_request_id": "634", "document_code": "L023"}`, "form526_submission_id", "is required"),
			Entry("a Veteran Upload without attachment", "/v1/uploads",
				`{"form526_submission_id": 1, "lighthouse_document_request_id": "634", "document_code": "L107"}`, "form_attachment_id", "required for a Veteran Upload"),
			Entry("an unknown document type", "/v1/uploads",
				`{"form526_submission_id": 1, "lighthouse_document_request_id": "634", "document_type": "Receipt"}`, "document_type", "must be one of"),
			Entry("trailing data", "/v1/uploads", trackBody+` {}`, "body", "one JSON object"),
			Entry("a poll of nothing", "/v1/polls", `{}`, "request_ids", "is required"),
			Entry("a poll of ids and a submission", "/v1/polls", `{"request_ids": ["1"], "form526_submission_id": 2}`, "form526_submission_id", "not both"),
			Entry("a poll of a bad id", "/v1/polls", `{"request_ids": ["1", "x"]}`, "request_ids", "request_ids[1]"),
		)

		It("answers 413 to a body over 1 MiB", func() {
			big := `{"form526_submission_id": 1, "lighthouse_document_request_id": "` + strings.Repeat("1", api.MaxBodyBytes) + `"}`
			a := post("/v1/uploads", token, "application/json", io.NopCloser(bytes.NewReader([]byte(big))))
			Expect(a.Status).To(Equal(http.StatusRequestEntityTooLarge))
		})

		It("answers 415 to a body that is not JSON", func() {
			Expect(post("/v1/uploads", token, "text/plain", strings.NewReader(trackBody)).Status).To(Equal(http.StatusUnsupportedMediaType))
		})

		It("answers a repeated track with the same task id, marked duplicate, and keeps one task", func() {
			first := postJSON("/v1/uploads", token, trackBody)
			second := postJSON("/v1/uploads", token, trackBody)
			Expect(first.Status).To(Equal(http.StatusAccepted))
			Expect(second.Status).To(Equal(http.StatusAccepted))
			Expect(first.Body).To(HaveKeyWithValue("duplicate", false))
			Expect(second.Body).To(HaveKeyWithValue("duplicate", true))
			Expect(second.Body["task_id"]).To(Equal(first.Body["task_id"]))
			pending, err := insp.ListPendingTasks(queue)
			Expect(err).NotTo(HaveOccurred())
			Expect(pending).To(HaveLen(1))
		})
	})

	Context("when Redis cannot be reached", func() {
		BeforeEach(func() {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			Expect(err).NotTo(HaveOccurred())
			dead := ln.Addr().String()
			Expect(ln.Close()).To(Succeed()) // nothing listens there any more
			client = asynq.NewClient(asynq.RedisClientOpt{Addr: dead, DialTimeout: time.Second})
			DeferCleanup(client.Close)
			start()
		})

		It("answers 503 and says to retry, for both routes", func() {
			token := rs256(validClaims(), rsaKey)
			for _, call := range [][2]string{{"/v1/uploads", trackBody}, {"/v1/polls", `{"form526_submission_id": 3}`}} {
				a := postJSON(call[0], token, call[1])
				Expect(a.Status).To(Equal(http.StatusServiceUnavailable))
				Expect(a.Header.Get("Retry-After")).NotTo(BeEmpty())
				Expect(a.Body).To(HaveKeyWithValue("error", ContainSubstring("retry")))
			}
		})
	})

	It("serves /healthz without a token", func() {
		start()
		resp, err := http.Get(server.URL + "/healthz")
		Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
	})
})
