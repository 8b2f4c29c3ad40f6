package lighthouse_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/lighthouse"
	"github.com/vagov/lighthouse526/lighthouse/fake"
)

// bearerRecorder records the access tokens the client sends.
type bearerRecorder struct {
	mu     sync.Mutex
	tokens []string
}

func (b *bearerRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		b.mu.Lock()
		b.tokens = append(b.tokens, tok)
		b.mu.Unlock()
	}
	return http.DefaultTransport.RoundTrip(r)
}

func (b *bearerRecorder) last() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tokens[len(b.tokens)-1]
}

var _ = Describe("The access token cached in Redis", func() {
	var (
		e   *env
		ctx context.Context
		id  string
		rec *bearerRecorder
	)

	BeforeEach(func() {
		ctx = context.Background()
		e = newEnv(fake.Options{})
		id = e.fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess})
		rec = &bearerRecorder{}
	})

	It("is encrypted: Redis holds neither the token nor its JSON, and another replica with the key reads it", func() {
		_, err := e.client(lighthouse.WithHTTPClient(&http.Client{Transport: rec})).GetUploadStatus(ctx, id)
		Expect(err).NotTo(HaveOccurred())
		token := rec.last()
		Expect(token).NotTo(BeEmpty())

		raw, err := rdb.Get(ctx, e.cfg.RedisPrefix+"token").Result()
		Expect(err).NotTo(HaveOccurred())
		Expect(raw).NotTo(ContainSubstring(token))
		Expect(raw).NotTo(ContainSubstring("access_token"))

		_, err = e.secondClient().GetUploadStatus(ctx, id)
		Expect(err).NotTo(HaveOccurred())
		Expect(e.fake.IssuedTokens()).To(Equal(1), "the second replica decrypted the cached token")
	})

	DescribeTable("treats a value that does not decrypt as a miss and fetches a new token",
		func(value func(token string) string) {
			_, err := e.client(lighthouse.WithHTTPClient(&http.Client{Transport: rec})).GetUploadStatus(ctx, id)
			Expect(err).NotTo(HaveOccurred())
			Expect(rdb.Set(ctx, e.cfg.RedisPrefix+"token", value(rec.last()), time.Hour).Err()).To(Succeed())

			_, err = e.secondClient().GetUploadStatus(ctx, id)
			Expect(err).NotTo(HaveOccurred())
			Expect(e.fake.IssuedTokens()).To(Equal(2))
		},
		Entry("the clear-text JSON of earlier versions", func(token string) string {
			return `{"access_token":"` + token + `","expires_at":"2999-01-01T00:00:00Z"}`
		}),
		Entry("garbage", func(string) string { return "not-a-sealed-value" }),
		Entry("a sealed value altered by one character", func(string) string {
			raw := rdb.Get(context.Background(), e.cfg.RedisPrefix+"token").Val()
			b := []byte(raw)
			b[len(b)/2] ^= 1
			return string(b)
		}),
	)

	It("is unreadable to a client with another RSA key", func() {
		_, err := e.client().GetUploadStatus(ctx, id)
		Expect(err).NotTo(HaveOccurred())
		other, err := rsa.GenerateKey(rand.Reader, 2048)
		Expect(err).NotTo(HaveOccurred())
		e.cfg.PrivateKey = other
		_, err = e.secondClient().GetUploadStatus(ctx, id)
		Expect(lighthouse.Reason(err)).To(Equal("token"), "it could not use the cached token, so it asked for its own (refused: the fake trusts the other key)")
	})
})

var _ = Describe("A token fetch abandoned mid-way", func() {
	var (
		e    *env
		id   string
		lock string
	)

	BeforeEach(func() {
		e = newEnv(fake.Options{})
		id = e.fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess})
		// The token endpoint hangs; the lock's TTL (one request timeout) is
		// far longer than the spec waits for its release.
		e.cfg.Timeout = 2 * time.Minute
		e.fake.SetFaults(fake.Faults{SlowRate: 1, SlowDelay: 5 * time.Minute})
		lock = e.cfg.RedisPrefix + "token:lock"
	})

	lockHeld := func() bool { return rdb.Exists(context.Background(), lock).Val() == 1 }

	It("releases the fetch lock when its last caller's context is cancelled (a SIGTERM in poll --now)", func() {
		c := e.client()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { _, err := c.GetUploadStatus(ctx, id); done <- err }()
		Eventually(lockHeld).Should(BeTrue())

		cancel()
		Eventually(done).WithTimeout(10 * time.Second).Should(Receive(MatchError(context.Canceled)))
		Expect(lockHeld()).To(BeFalse(), "the lock was released before the call returned")
	})

	It("keeps fetching while another caller still waits", func() {
		c := e.client()
		first, cancel := context.WithCancel(context.Background())
		DeferCleanup(cancel)
		second, cancelSecond := context.WithCancel(context.Background())
		DeferCleanup(cancelSecond)
		done := make(chan error, 2)
		go func() { _, err := c.GetUploadStatus(first, id); done <- err }()
		Eventually(lockHeld).Should(BeTrue())
		go func() { _, err := c.GetUploadStatus(second, id); done <- err }()
		Eventually(func() int { return lighthouse.TokenWaiters(c) }).Should(Equal(2))

		cancel()
		Eventually(done).Should(Receive(MatchError(context.Canceled)))
		Consistently(lockHeld).WithTimeout(500*time.Millisecond).Should(BeTrue(), "the second caller's fetch goes on")
		cancelSecond()
		Eventually(done).WithTimeout(10 * time.Second).Should(Receive())
		Eventually(lockHeld).Should(BeFalse())
	})

	It("releases the fetch lock when the client is closed (worker run's shutdown)", func() {
		c := e.client()
		done := make(chan error, 1)
		go func() { _, err := c.GetUploadStatus(context.Background(), id); done <- err }()
		Eventually(lockHeld).Should(BeTrue())

		c.Close()
		Expect(lockHeld()).To(BeFalse())
		Eventually(done).Should(Receive(HaveOccurred()))
	})
})
