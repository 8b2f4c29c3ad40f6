package tasks_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vagov/lighthouse526/lighthouse"
	"github.com/vagov/lighthouse526/lighthouse/fake"
)

const (
	fakeClientID = "0oa-tasks-test-client"
	fakeAudClaim = "https://deptva-eval.okta.com/oauth2/ausi3ui83fLa68IJv2p7/v1/token"
)

// lighthouseEnv is a started fake Lighthouse and a real client of it whose
// Redis keys (token cache, shared budget) live under a prefix of the spec's own.
type lighthouseEnv struct {
	Fake   *fake.Server
	Host   string
	Config lighthouse.Config
	Client *lighthouse.Client
	Reg    *prometheus.Registry // the client's metrics
}

// startLighthouse starts a fake with opts (key, client id and aud filled in)
// and a client of it; tweak may change the client's config first. The fake,
// and every Redis key under the spec's prefix, go away when the spec ends.
func startLighthouse(opts fake.Options, tweak ...func(*lighthouse.Config)) *lighthouseEnv {
	opts.PublicKey, opts.ClientID, opts.AudClaimURL = &rsaKey.PublicKey, fakeClientID, fakeAudClaim
	e := &lighthouseEnv{Fake: fake.New(opts), Reg: prometheus.NewRegistry()}
	var err error
	e.Host, err = e.Fake.Start()
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(e.Fake.Close)

	prefix := fmt.Sprintf("tasks-test:%d:%s:", GinkgoParallelProcess(), randomHex(6))
	DeferCleanup(deleteKeys, prefix)
	e.Config = lighthouse.Config{
		BaseURL:            e.Host + fake.APIPrefix,
		TokenURL:           e.Host + fake.TokenPath,
		AudClaimURL:        fakeAudClaim,
		ClientID:           fakeClientID,
		PrivateKey:         rsaKey,
		Timeout:            10 * time.Second,
		RateLimitPerMinute: 6000,
		RateLimitBurst:     100,
		MaxRateLimitWait:   2 * time.Second,
		RedisPrefix:        prefix,
	}
	for _, t := range tweak {
		t(&e.Config)
	}
	e.Client, err = lighthouse.NewClient(e.Config, rdb, lighthouse.WithRegisterer(e.Reg))
	Expect(err).NotTo(HaveOccurred())
	return e
}

// StatusCalls counts the calls the fake received to POST /uploads/status.
func (e *lighthouseEnv) StatusCalls() int {
	n := 0
	for _, r := range e.Fake.Requests() {
		if r.Path == fake.APIPrefix+"/uploads/status" {
			n++
		}
	}
	return n
}

// deleteKeys removes a spec's own Redis keys (never a flush: other suites
// share the server).
func deleteKeys(ctx context.Context, prefix string) {
	var keys []string
	iter := rdb.Scan(ctx, 0, prefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	Expect(iter.Err()).NotTo(HaveOccurred())
	if len(keys) > 0 {
		Expect(rdb.Del(ctx, keys...).Err()).To(Succeed())
	}
}

// Status objects in the API's JSON. Times are epoch milliseconds.

// successEntry is a SUCCESS status of requestID.
func successEntry(requestID string, startMs, endMs int64) string {
	return fmt.Sprintf(`{"requestId":%s,"time":{"startTime":%d,"endTime":%d},"status":"SUCCESS","steps":[`+
		`{"name":"CLAIMS_EVIDENCE","nextStepName":"BENEFITS_GATEWAY_SERVICE","description":"The workflow step that uploads the document to Claims Evidence","status":"SUCCESS"},`+
		`{"name":"BENEFITS_GATEWAY_SERVICE","description":"The workflow step that uploads the document to Benefits Gateway Service","status":"SUCCESS"}]}`,
		requestID, startMs, endMs)
}

// failedEntry is a FAILED status of requestID whose error names step.
func failedEntry(requestID string, startMs, endMs int64, step string) string {
	return fmt.Sprintf(`{"requestId":%s,"time":{"startTime":%d,"endTime":%d},"status":"FAILED","steps":[`+
		`{"name":"CLAIMS_EVIDENCE","nextStepName":"BENEFITS_GATEWAY_SERVICE","description":"The workflow step that uploads the document to Claims Evidence","status":"FAILED"},`+
		`{"name":"BENEFITS_GATEWAY_SERVICE","description":"The workflow step that uploads the document to Benefits Gateway Service","status":"NOT_STARTED"}],`+
		`"error":{"detail":"Workflow maximum step attempts exceeded for the current step","step":"%s"}}`,
		requestID, startMs, endMs, step)
}

// inProgressEntry is an IN_PROGRESS status of requestID, endTime null.
func inProgressEntry(requestID string, startMs int64) string {
	return fmt.Sprintf(`{"requestId":%s,"time":{"startTime":%d,"endTime":null},"status":"IN_PROGRESS","steps":[`+
		`{"name":"CLAIMS_EVIDENCE","nextStepName":"BENEFITS_GATEWAY_SERVICE","description":"The workflow step that uploads the document to Claims Evidence","status":"IN_PROGRESS"},`+
		`{"name":"BENEFITS_GATEWAY_SERVICE","description":"The workflow step that uploads the document to Benefits Gateway Service","status":"NOT_STARTED"}]}`,
		requestID, startMs)
}

// statusBody wraps status objects in a 200 body; notFound ids, if any, go in
// requestIdsNotFound as the API sends them (numbers).
func statusBody(entries []string, notFound ...string) string {
	data := `"statuses":[` + strings.Join(entries, ",") + `]`
	if len(notFound) > 0 {
		data += `,"requestIdsNotFound":[` + strings.Join(notFound, ",") + `]`
	}
	return `{"data":{` + data + `}}`
}

// decodeStatuses decodes a 200 body as the client does.
func decodeStatuses(body string) *lighthouse.StatusResponse {
	resp, err := lighthouse.DecodeStatusResponse([]byte(body))
	Expect(err).NotTo(HaveOccurred())
	return resp
}

// ms is t in epoch milliseconds.
func ms(t time.Time) int64 { return t.UnixMilli() }
