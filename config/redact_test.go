package config_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/config"
)

var _ = Describe("Config printing", func() {
	const (
		dbPassword      = "db-pa55-Secret"
		redisPassword   = "redis-pa55-Secret"
		monitorPassword = "monitor-pa55-Secret"
		monitorToken    = "monitor-t0ken-Secret"
		hs256Secret     = "hs256-Secret-8f3a91c2d7e4b605-9Zq1xWv"
	)
	var (
		cfg     *config.Config
		keyPEM  string
		keyBody string // a line of the PEM body: what must never leak
	)

	BeforeEach(func() {
		keyPEM = pkcs1PEM(rsaKey)
		keyBody = strings.Split(keyPEM, "\n")[1]
		var err error
		cfg, err = config.Load([]string{
			"DATABASE_URL=postgres://app:" + dbPassword + "@127.0.0.1:5432/lighthouse_uploads?sslmode=disable",
			"REDIS_URL=redis://default:" + redisPassword + "@127.0.0.1:6379/2",
			"LIGHTHOUSE_CLIENT_ID=0oa-test-client",
			"LIGHTHOUSE_RSA_KEY=" + keyPEM,
			"MONITOR_USERNAME=ops",
			"MONITOR_PASSWORD=" + monitorPassword,
			"MONITOR_TOKEN=" + monitorToken,
			"API_JWT_HS256_SECRET=" + hs256Secret,
		})
		Expect(err).NotTo(HaveOccurred())
	})

	// Expect a printed form to hold no secret of cfg.
	expectNoSecret := func(printed string) {
		GinkgoHelper()
		Expect(printed).NotTo(BeEmpty())
		Expect(printed).NotTo(ContainSubstring(keyBody))
		Expect(printed).NotTo(ContainSubstring("PRIVATE KEY"))
		Expect(printed).NotTo(ContainSubstring(dbPassword))
		Expect(printed).NotTo(ContainSubstring(redisPassword))
		Expect(printed).NotTo(ContainSubstring(monitorPassword))
		Expect(printed).NotTo(ContainSubstring(monitorToken))
		Expect(printed).NotTo(ContainSubstring(hs256Secret))
	}

	Describe("Redacted", func() {
		It("lists every variable with the key and the passwords masked", func() {
			vars := map[string]string{}
			for _, kv := range cfg.Redacted() {
				vars[kv[0]] = kv[1]
				expectNoSecret(kv[0] + "=" + kv[1] + "\n")
			}

			Expect(vars).To(HaveKeyWithValue("LIGHTHOUSE_RSA_KEY", "[redacted]"))
			Expect(vars).To(HaveKeyWithValue("MONITOR_PASSWORD", "[redacted]"))
			Expect(vars).To(HaveKeyWithValue("MONITOR_TOKEN", "[redacted]"))
			Expect(vars).To(HaveKeyWithValue("API_JWT_HS256_SECRET", "[redacted]"))
			Expect(vars).To(HaveKeyWithValue("DATABASE_URL", "postgres://app:xxxxx@127.0.0.1:5432/lighthouse_uploads?sslmode=disable"))
			Expect(vars).To(HaveKeyWithValue("REDIS_URL", "redis://default:xxxxx@127.0.0.1:6379/2"))
			Expect(vars).To(HaveKeyWithValue("LIGHTHOUSE_CLIENT_ID", "0oa-test-client"))
			Expect(vars).To(HaveKeyWithValue("POLL_BATCH_SIZE", "100"))
		})
	})

	Describe("String", func() {
		It("prints one KEY=value a line without any secret", func() {
			printed := cfg.String()

			expectNoSecret(printed)
			Expect(printed).To(ContainSubstring("LIGHTHOUSE_RSA_KEY=[redacted]\n"))
			Expect(printed).To(ContainSubstring("DATABASE_URL=postgres://app:xxxxx@"))
		})

		It("is what fmt prints for the config", func() {
			expectNoSecret(fmt.Sprintf("%v %+v %s", cfg, cfg, cfg))
		})
	})

	Context("when DATABASE_URL carries its password as a query parameter", func() {
		BeforeEach(func() {
			var err error
			cfg, err = config.Load([]string{
				"DATABASE_URL=postgres://app@127.0.0.1:5432/lighthouse_uploads?password=" + dbPassword + "&sslmode=disable",
			})
			Expect(err).NotTo(HaveOccurred())
		})

		It("masks it too", func() {
			expectNoSecret(cfg.String())
			Expect(cfg.String()).To(ContainSubstring("sslmode=disable"))
		})
	})

	Context("when the config is logged or encoded whole", func() {
		It("logs no secret through slog's JSON handler", func() {
			var buf bytes.Buffer
			slog.New(slog.NewJSONHandler(&buf, nil)).Info("config loaded", "config", cfg)

			expectNoSecret(buf.String())
			Expect(buf.String()).To(ContainSubstring(`"LIGHTHOUSE_RSA_KEY":"[redacted]"`))
		})

		It("logs no secret through slog's text handler", func() {
			var buf bytes.Buffer
			slog.New(slog.NewTextHandler(&buf, nil)).Info("config loaded", "config", cfg)

			expectNoSecret(buf.String())
		})

		It("encodes no secret as JSON", func() {
			b, err := json.Marshal(cfg)
			Expect(err).NotTo(HaveOccurred())

			expectNoSecret(string(b))
			var decoded map[string]string
			Expect(json.Unmarshal(b, &decoded)).To(Succeed())
			Expect(decoded).To(HaveKeyWithValue("POLL_CRON", "15 * * * *"))
		})

		It("prints no secret with %#v", func() {
			expectNoSecret(fmt.Sprintf("%#v", cfg))
		})
	})
})

var _ = Describe("RedactURL", func() {
	DescribeTable("masks every secret query parameter and keeps the rest",
		func(raw, secret, kept string) {
			redacted := config.RedactURL(raw)
			Expect(redacted).NotTo(ContainSubstring(secret))
			Expect(redacted).To(ContainSubstring("xxxxx"))
			Expect(redacted).To(ContainSubstring(kept))
		},
		Entry("access_token", "https://lh.example/v1?access_token=at-S3cret&region=us", "at-S3cret", "region=us"),
		Entry("client_secret", "https://lh.example/token?client_secret=cs-S3cret&x=1", "cs-S3cret", "x=1"),
		Entry("a *token* name in any case", "https://lh.example/?X-Refresh-Token=rt-S3cret&a=b", "rt-S3cret", "a=b"),
		Entry("a *secret* name", "https://lh.example/?app_secret_value=sv-S3cret&a=b", "sv-S3cret", "a=b"),
		Entry("a *password* name", "postgres://h/db?sslpassword=pw-S3cret&sslmode=require", "pw-S3cret", "sslmode=require"),
		Entry("an API key", "https://prom.example/?api_key=k-S3cret&q=1", "k-S3cret", "q=1"),
	)
})

var _ = Describe("worker config's URLs", func() {
	It("redacts secret query parameters of every URL variable", func() {
		cfg, err := config.Load([]string{
			"LIGHTHOUSE_HOST=https://sandbox-api.va.gov?access_token=host-S3cret",
			"LIGHTHOUSE_TOKEN_URL=https://sandbox-api.va.gov/token?client_secret=token-url-S3cret",
			"LIGHTHOUSE_AUD_CLAIM_URL=https://okta.example/token?id_token=aud-S3cret",
			"MONITOR_PROMETHEUS_ADDR=https://prom.example/?password=prom-S3cret&step=1",
		})
		Expect(err).NotTo(HaveOccurred())
		printed := cfg.String()
		for _, secret := range []string{"host-S3cret", "token-url-S3cret", "aud-S3cret", "prom-S3cret"} {
			Expect(printed).NotTo(ContainSubstring(secret))
		}
		Expect(printed).To(ContainSubstring("MONITOR_PROMETHEUS_ADDR=https://prom.example/?password=xxxxx&step=1\n"))
	})
})
