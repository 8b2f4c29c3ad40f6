package fake_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/lighthouse/fake"
)

func TestFake(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Fake Lighthouse")
}

const (
	clientID = "0oa-test-client"
	audClaim = "https://deptva-eval.okta.com/oauth2/ausi3ui83fLa68IJv2p7/v1/token"
)

var key *rsa.PrivateKey

var _ = BeforeSuite(func() {
	var err error
	key, err = rsa.GenerateKey(rand.Reader, 2048)
	Expect(err).NotTo(HaveOccurred())
})

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// world is a started fake, its clock and its URL.
type world struct {
	srv   *fake.Server
	clock *clock
	url   string
}

func start(opts fake.Options) *world {
	w := &world{clock: &clock{t: time.Date(2026, 3, 2, 10, 4, 15, 0, time.UTC)}}
	opts.PublicKey, opts.ClientID, opts.AudClaimURL, opts.Clock = &key.PublicKey, clientID, audClaim, w.clock.Now
	w.srv = fake.New(opts)
	var err error
	w.url, err = w.srv.Start()
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(w.srv.Close)
	return w
}

// assertion signs a client assertion; change edits the claims first.
func (w *world) assertion(change func(*jwt.RegisteredClaims)) string {
	now := w.clock.Now()
	jti := make([]byte, 8)
	_, _ = rand.Read(jti)
	claims := jwt.RegisteredClaims{
		Issuer: clientID, Subject: clientID, Audience: jwt.ClaimStrings{audClaim},
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(300 * time.Second)),
		ID: hex.EncodeToString(jti),
	}
	if change != nil {
		change(&claims)
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(key)
	Expect(err).NotTo(HaveOccurred())
	return s
}

func tokenForm(assertion string) url.Values {
	return url.Values{
		"grant_type":            {"client_credentials"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion},
		"scope":                 {"documents.read documents.write"},
	}
}

// postToken posts a form to the token endpoint.
func (w *world) postToken(form url.Values) (int, map[string]any) {
	resp, err := http.PostForm(w.url+fake.TokenPath, form)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	var body map[string]any
	Expect(json.NewDecoder(resp.Body).Decode(&body)).To(Succeed())
	return resp.StatusCode, body
}

// token gets a valid access token.
func (w *world) token() string {
	status, body := w.postToken(tokenForm(w.assertion(nil)))
	Expect(status).To(Equal(200), "%v", body)
	return body["access_token"].(string)
}

// call makes an API call with a bearer token ("" = none).
func (w *world) call(method, path, token, contentType, body string) (*http.Response, string) {
	req, err := http.NewRequest(method, w.url+path, strings.NewReader(body))
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
	b, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	return resp, string(b)
}

// statuses posts ids (raw JSON list) to /uploads/status.
func (w *world) statuses(token, idsJSON string) (*http.Response, string) {
	return w.call(http.MethodPost, fake.APIPrefix+"/uploads/status", token, "application/json", `{"data":{"requestIds":`+idsJSON+`}}`)
}
