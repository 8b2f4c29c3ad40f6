package lighthouse_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	"github.com/vagov/lighthouse526/db/dbtest"
	"github.com/vagov/lighthouse526/lighthouse"
	"github.com/vagov/lighthouse526/lighthouse/fake"
)

func TestLighthouse(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Lighthouse client")
}

const (
	clientID = "0oa-test-client"
	audClaim = "https://deptva-eval.okta.com/oauth2/ausi3ui83fLa68IJv2p7/v1/token"
)

var (
	rsaKey   *rsa.PrivateKey // the key the fake trusts
	otherKey *rsa.PrivateKey // a key it does not
	rdb      *redis.Client
)

var _ = BeforeSuite(func() {
	var err error
	rsaKey, err = rsa.GenerateKey(rand.Reader, 2048)
	Expect(err).NotTo(HaveOccurred())
	otherKey, err = rsa.GenerateKey(rand.Reader, 2048)
	Expect(err).NotTo(HaveOccurred())
	// A missing Redis fails the run; it never skips.
	rdb = redis.NewClient(&redis.Options{Addr: dbtest.RedisAddr(), DB: dbtest.RedisDBLighthouse})
	Expect(rdb.Ping(context.Background()).Err()).To(Succeed(), "Redis must run at "+dbtest.RedisAddr())
	DeferCleanup(rdb.Close)
})

// clock is a simulated clock shared by the fake and the clients.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2026, 3, 2, 10, 4, 15, 0, time.UTC)}
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

// env is one spec's world: a started fake, a clock, a config pointing at the
// fake with a Redis prefix of its own, and a metrics registry.
type env struct {
	fake  *fake.Server
	host  string
	clock *clock
	cfg   lighthouse.Config
	reg   *prometheus.Registry
}

// newEnv starts a fake with opts (key, client id, aud and clock filled in)
// and registers its cleanup, and that of the spec's Redis keys.
func newEnv(opts fake.Options) *env {
	e := &env{clock: newClock(), reg: prometheus.NewRegistry()}
	opts.PublicKey, opts.ClientID, opts.AudClaimURL = &rsaKey.PublicKey, clientID, audClaim
	if opts.Clock == nil {
		opts.Clock = e.clock.Now
	}
	e.fake = fake.New(opts)
	var err error
	e.host, err = e.fake.Start()
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(e.fake.Close)

	prefix := newPrefix()
	DeferCleanup(deleteKeys, prefix)
	e.cfg = lighthouse.Config{
		BaseURL:            e.host + fake.APIPrefix,
		TokenURL:           e.host + fake.TokenPath,
		AudClaimURL:        audClaim,
		ClientID:           clientID,
		PrivateKey:         rsaKey,
		Timeout:            5 * time.Second,
		RateLimitPerMinute: 600,
		RateLimitBurst:     600,
		RedisPrefix:        prefix,
	}
	return e
}

// client builds a client on e.cfg (changed by the spec as it likes).
func (e *env) client(opts ...lighthouse.Option) *lighthouse.Client {
	opts = append([]lighthouse.Option{lighthouse.WithClock(e.clock.Now), lighthouse.WithRegisterer(e.reg)}, opts...)
	c, err := lighthouse.NewClient(e.cfg, rdb, opts...)
	Expect(err).NotTo(HaveOccurred())
	return c
}

// secondClient is another process's client: same Redis prefix, own metrics.
func (e *env) secondClient() *lighthouse.Client {
	return e.client(lighthouse.WithRegisterer(prometheus.NewRegistry()))
}

// apiCalls counts the recorded calls to an API path suffix with a status.
func (e *env) apiCalls(pathSuffix string, status int) int {
	n := 0
	for _, r := range e.fake.Requests() {
		if r.Path == fake.APIPrefix+pathSuffix && r.StatusCode == status {
			n++
		}
	}
	return n
}

func newPrefix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return fmt.Sprintf("test:%d:%s:", GinkgoParallelProcess(), hex.EncodeToString(b))
}

// deleteKeys removes a spec's own keys (never a flush: other suites share Redis).
func deleteKeys(ctx context.Context, prefix string) {
	keys, err := rdb.Keys(ctx, prefix+"*").Result()
	Expect(err).NotTo(HaveOccurred())
	if len(keys) > 0 {
		Expect(rdb.Del(ctx, keys...).Err()).To(Succeed())
	}
}

// metricValue reads a counter (or a histogram's count) from reg.
func metricValue(reg *prometheus.Registry, name string, labels map[string]string) float64 {
	mfs, err := reg.Gather()
	Expect(err).NotTo(HaveOccurred())
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue metrics
				}
			}
			return valueOf(m)
		}
	}
	return 0
}

func valueOf(m *dto.Metric) float64 {
	switch {
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetHistogram() != nil:
		return float64(m.GetHistogram().GetSampleCount())
	}
	return m.GetGauge().GetValue()
}
