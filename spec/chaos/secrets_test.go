package chaos_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/redis/go-redis/v9"

	"github.com/vagov/lighthouse526/lighthouse/fake"
)

// tokenRecorder serves the fake and keeps every access token it issues.
type tokenRecorder struct {
	next   http.Handler
	mu     sync.Mutex
	tokens []string
}

func (t *tokenRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != fake.TokenPath {
		t.next.ServeHTTP(w, r)
		return
	}
	rec := &bodyCopy{ResponseWriter: w}
	t.next.ServeHTTP(rec, r)
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if json.Unmarshal(rec.buf.Bytes(), &body) == nil && body.AccessToken != "" {
		t.mu.Lock()
		t.tokens = append(t.tokens, body.AccessToken)
		t.mu.Unlock()
	}
}

func (t *tokenRecorder) issued() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.tokens...)
}

type bodyCopy struct {
	http.ResponseWriter
	buf bytes.Buffer
}

func (b *bodyCopy) Write(p []byte) (int, error) {
	b.buf.Write(p)
	return b.ResponseWriter.Write(p)
}

func secret() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "s3cr3t" + hex.EncodeToString(b)
}

var _ = Describe("Secrets in the worker's output", func() {
	Context("when a full cycle runs with debug logging, token refreshes and failing calls", func() {
		It("never writes the RSA key, an access token, or a database or Redis password to the logs or /metrics", func(ctx SpecContext) {
			// A Redis that needs a password, and a Postgres role with one.
			redisPassword, dbPassword := secret(), secret()
			rs := startRedis(redisPassword)
			DeferCleanup(rs.destroy)
			role := fmt.Sprintf("lh526_secrets_%d", GinkgoParallelProcess())
			Expect(w.gdb.Exec(fmt.Sprintf(`DROP ROLE IF EXISTS %s`, role)).Error).To(Succeed())
			Expect(w.gdb.Exec(fmt.Sprintf(`CREATE ROLE %s LOGIN SUPERUSER PASSWORD '%s'`, role, dbPassword)).Error).To(Succeed())
			DeferCleanup(func() {
				Expect(w.gdb.Exec(fmt.Sprintf(`DROP ROLE IF EXISTS %s`, role)).Error).To(Succeed())
			})
			dbURL := fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/chaos?sslmode=disable", role, dbPassword, w.pg.port)

			s := &scenario{name: "secrets", w: w, queue: "chaos_secrets", notify: "chaos_notify_secrets", rng: mrand.New(mrand.NewPCG(1, 2))}
			Expect(truncate()).To(Succeed())
			s.fake = fake.New(fake.Options{PublicKey: &w.key.PublicKey, ClientID: clientID, AudClaimURL: audClaim, Seed: 7})
			tokens := &tokenRecorder{next: s.fake}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			Expect(err).NotTo(HaveOccurred())
			srv := &http.Server{Handler: tokens, ReadHeaderTimeout: 5 * time.Second}
			go func() { _ = srv.Serve(ln) }()
			DeferCleanup(srv.Close)
			s.fakeURL = "http://" + ln.Addr().String()
			seed(ctx, s, 60, 0)

			rdb := redis.NewClient(&redis.Options{Addr: rs.Addr(), Password: redisPassword})
			DeferCleanup(rdb.Close)
			s.client = asynq.NewClientFromRedisClient(rdb)
			s.inspector = asynq.NewInspectorFromRedisClient(rdb)
			s.logDir = filepath.Join(w.tmp, "secrets")
			Expect(os.MkdirAll(s.logDir, 0o700)).To(Succeed())
			env := s.env("secrets", map[string]string{
				"DATABASE_URL":       dbURL,
				"REDIS_URL":          rs.URL(),
				"LIGHTHOUSE_RSA_KEY": string(w.keyPEM), // the PEM text itself, not a path
				"LOG_LEVEL":          "debug",
			})
			s.workers = startReplicas(1, env, s.logDir)
			DeferCleanup(func() { stopAll(s.workers) })

			s.fault("LOG_LEVEL=debug; one 502 HTML, one 500, one 401 answer; access tokens revoked between cycles")
			// Failing calls log their bodies; a revoked token forces a refresh.
			s.fake.SetFaults(fake.Faults{Next: []fake.Fault{
				{Endpoint: "uploads_status", Status: 502, Shape: fake.ShapeHTML},
				{Endpoint: "uploads_status", Status: 500, Shape: fake.ShapeAPI},
				{Endpoint: "uploads_status", Status: 401, Shape: fake.ShapeGateway},
			}})
			s.cycle(ctx, nil)
			s.fake.ExpireTokens()
			s.converge(ctx)
			Expect(len(tokens.issued())).To(BeNumerically(">=", 2), "the spec must see a token refresh")

			resp, err := http.Get("http://" + s.workers[0].metricsAddr + "/metrics")
			Expect(err).NotTo(HaveOccurred())
			metrics, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			Expect(err).NotTo(HaveOccurred())
			Expect(string(metrics)).To(ContainSubstring("form526_document_upload_status_total"))

			stopAll(s.workers)
			logs, err := os.ReadFile(s.workers[0].logPath)
			Expect(err).NotTo(HaveOccurred())
			// The spec saw what it means to: debug lines, a token refresh, error bodies.
			Expect(string(logs)).To(ContainSubstring(`"level":"debug"`))
			Expect(string(logs)).To(ContainSubstring("lighthouse token refreshed"))
			// A 5xx is logged with the worker's own line, not the original's
			// "status endpoint error" (which is for unknown ids and 4xx).
			Expect(string(logs)).To(ContainSubstring("Lighthouse status request failed"))

			forbidden := map[string]string{"database password": dbPassword, "Redis password": redisPassword}
			for i, tok := range tokens.issued() {
				forbidden[fmt.Sprintf("access token %d", i+1)] = tok
			}
			for i, line := range strings.Split(string(w.keyPEM), "\n") {
				if len(line) > 16 && !strings.HasPrefix(line, "-----") {
					forbidden[fmt.Sprintf("RSA key PEM line %d", i+1)] = line
				}
			}
			for what, value := range forbidden {
				Expect(string(logs)).NotTo(ContainSubstring(value), "the logs contain the %s", what)
				Expect(string(metrics)).NotTo(ContainSubstring(value), "/metrics contains the %s", what)
			}
		}, NodeTimeout(5*time.Minute))
	})
})
