package spectest

import (
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

// LighthouseEnv is a started fake Lighthouse and a real client of it whose
// Redis keys (token cache, shared budget) live under a prefix of the spec's own.
type LighthouseEnv struct {
	Fake   *fake.Server
	Host   string
	Config lighthouse.Config
	Client *lighthouse.Client
	Reg    *prometheus.Registry // the client's metrics
}

// StartLighthouse starts a fake with opts (key, client id and aud filled in)
// and a client of it; tweak may change the client's config first. The fake,
// and every Redis key under the spec's prefix, go away when the spec ends.
func (e *Env) StartLighthouse(opts fake.Options, tweak ...func(*lighthouse.Config)) *LighthouseEnv {
	opts.PublicKey, opts.ClientID, opts.AudClaimURL = &e.Key.PublicKey, fakeClientID, fakeAudClaim
	lh := &LighthouseEnv{Fake: fake.New(opts), Reg: prometheus.NewRegistry()}
	var err error
	lh.Host, err = lh.Fake.Start()
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(lh.Fake.Close)

	prefix := fmt.Sprintf("%s-test:%d:%s:", e.Name, GinkgoParallelProcess(), RandomHex(6))
	DeferCleanup(e.DeleteKeys, prefix)
	lh.Config = lighthouse.Config{
		BaseURL:            lh.Host + fake.APIPrefix,
		TokenURL:           lh.Host + fake.TokenPath,
		AudClaimURL:        fakeAudClaim,
		ClientID:           fakeClientID,
		PrivateKey:         e.Key,
		Timeout:            10 * time.Second,
		RateLimitPerMinute: 6000,
		RateLimitBurst:     100,
		MaxRateLimitWait:   2 * time.Second,
		RedisPrefix:        prefix,
	}
	for _, t := range tweak {
		t(&lh.Config)
	}
	lh.Client, err = lighthouse.NewClient(lh.Config, e.Redis, lighthouse.WithRegisterer(lh.Reg))
	Expect(err).NotTo(HaveOccurred())
	return lh
}

// StatusCalls counts the calls the fake received to POST /uploads/status.
func (e *LighthouseEnv) StatusCalls() int {
	n := 0
	for _, r := range e.Fake.Requests() {
		if r.Path == fake.APIPrefix+"/uploads/status" {
			n++
		}
	}
	return n
}

// Status objects in the API's JSON. Times are epoch milliseconds.

// SuccessEntry is a SUCCESS status of requestID.
func SuccessEntry(requestID string, startMs, endMs int64) string {
	return fmt.Sprintf(`{"requestId":%s,"time":{"startTime":%d,"endTime":%d},"status":"SUCCESS","steps":[`+
		`{"name":"CLAIMS_EVIDENCE","nextStepName":"BENEFITS_GATEWAY_SERVICE","description":"The workflow step that uploads the document to Claims Evidence","status":"SUCCESS"},`+
		`{"name":"BENEFITS_GATEWAY_SERVICE","description":"The workflow step that uploads the document to Benefits Gateway Service","status":"SUCCESS"}]}`,
		requestID, startMs, endMs)
}

// FailedEntry is a FAILED status of requestID whose error names step.
func FailedEntry(requestID string, startMs, endMs int64, step string) string {
	return fmt.Sprintf(`{"requestId":%s,"time":{"startTime":%d,"endTime":%d},"status":"FAILED","steps":[`+
		`{"name":"CLAIMS_EVIDENCE","nextStepName":"BENEFITS_GATEWAY_SERVICE","description":"The workflow step that uploads the document to Claims Evidence","status":"FAILED"},`+
		`{"name":"BENEFITS_GATEWAY_SERVICE","description":"The workflow step that uploads the document to Benefits Gateway Service","status":"NOT_STARTED"}],`+
		`"error":{"detail":"Workflow maximum step attempts exceeded for the current step","step":"%s"}}`,
		requestID, startMs, endMs, step)
}

// InProgressEntry is an IN_PROGRESS status of requestID, endTime null.
func InProgressEntry(requestID string, startMs int64) string {
	return fmt.Sprintf(`{"requestId":%s,"time":{"startTime":%d,"endTime":null},"status":"IN_PROGRESS","steps":[`+
		`{"name":"CLAIMS_EVIDENCE","nextStepName":"BENEFITS_GATEWAY_SERVICE","description":"The workflow step that uploads the document to Claims Evidence","status":"IN_PROGRESS"},`+
		`{"name":"BENEFITS_GATEWAY_SERVICE","description":"The workflow step that uploads the document to Benefits Gateway Service","status":"NOT_STARTED"}]}`,
		requestID, startMs)
}

// StatusBody wraps status objects in a 200 body; notFound ids, if any, go in
// requestIdsNotFound as the API sends them (numbers).
func StatusBody(entries []string, notFound ...string) string {
	data := `"statuses":[` + strings.Join(entries, ",") + `]`
	if len(notFound) > 0 {
		data += `,"requestIdsNotFound":[` + strings.Join(notFound, ",") + `]`
	}
	return `{"data":{` + data + `}}`
}

// DecodeStatuses decodes a 200 body as the client does.
func DecodeStatuses(body string) *lighthouse.StatusResponse {
	resp, err := lighthouse.DecodeStatusResponse([]byte(body))
	Expect(err).NotTo(HaveOccurred())
	return resp
}

// Ms is t in epoch milliseconds.
func Ms(t time.Time) int64 { return t.UnixMilli() }
