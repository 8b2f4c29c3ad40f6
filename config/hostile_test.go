package config_test

import (
	"errors"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/config"
)

// Strong secrets of the minimum lengths, for specs about something else.
const (
	strongPassword    = "k3J9xQ2mP7vL4nR8"
	strongToken       = "T7r-Qz4w9Ly2Vb6n"
	strongHS256Secret = "Zk8vQ2rT9wX4yL6nB3mP7sD1fG5hJ0cA"
)

// problem is the one reason Load gave for name.
func problem(err error, name string) string {
	GinkgoHelper()
	var cerr *config.Error
	Expect(errors.As(err, &cerr)).To(BeTrue(), "want a *config.Error, got %T: %v", err, err)
	for _, p := range cerr.Problems {
		if p.Var == name {
			return p.Reason
		}
	}
	Fail(name + " was not refused: " + err.Error())
	return ""
}

var _ = Describe("Settings that cannot work", func() {
	DescribeTable("are refused, naming the variable and the limit",
		func(setting, limit string) {
			name, _, _ := strings.Cut(setting, "=")
			_, err := config.Load([]string{setting})
			Expect(problemVars(err)).To(ContainElement(name))
			Expect(problem(err, name)).To(ContainSubstring(limit))
		},
		// The repro: every adaptive cycle failed with "stride must be greater than zero".
		Entry(nil, "POLL_FLOOR=999ns", "between 1s and 168h0m0s"),
		Entry(nil, "POLL_FLOOR=1000000h", "between 1s and 168h0m0s"),
		Entry(nil, "POLL_LADDER=0:999ns", "under the minimum of 1s"),
		Entry(nil, "POLL_LADDER=0:10m,30m:1us", "under the minimum of 1s"),
		Entry(nil, "POLL_WINDOW=1ns", "between 1s and"),
		Entry(nil, "POLL_WINDOW=1000000h", "between 1s and 168h0m0s"),
		Entry(nil, "PROCESSING_TIMEOUT=1ns", "between 1m0s and 720h0m0s"),
		Entry(nil, "PROCESSING_TIMEOUT=1000000h", "between 1m0s and 720h0m0s"),
		Entry(nil, "DB_STATEMENT_TIMEOUT=1ms", "between 100ms and 1h0m0s"),
		Entry(nil, "DB_CONN_MAX_LIFETIME=1ns", "between 1s and 24h0m0s"),
		Entry(nil, "DB_CONN_MAX_LIFETIME=2562047h", "between 1s and 24h0m0s"),
		Entry(nil, "SHUTDOWN_TIMEOUT=1ns", "between 1s and 1h0m0s"),
		Entry(nil, "SHUTDOWN_TIMEOUT=1000000h", "between 1s and 1h0m0s"),
		Entry(nil, "HTTP_IDLE_TIMEOUT=1ms", "between 100ms and 1h0m0s"),
		Entry(nil, "LIGHTHOUSE_MAX_RETRY_AFTER=0s", "between 1s and 1h0m0s"),
		Entry(nil, "LIGHTHOUSE_MAX_RETRY_AFTER=2h", "between 1s and 1h0m0s"),
		// Not numbers at all: the variable is named, never a panic or a zero.
		Entry(nil, "POLL_FLOOR=NaN", "not a valid duration"),
		Entry(nil, "POLL_WINDOW=Inf", "not a valid duration"),
		Entry(nil, "POLL_BATCH_SIZE=NaN", "not a valid whole number"),
		Entry(nil, "WORKER_CONCURRENCY=1e12", "not a valid whole number"),
		Entry(nil, "API_POLLS_PER_MINUTE=99999999999999999999", "not a valid whole number"),
		Entry(nil, "LIGHTHOUSE_RATE_LIMIT_PER_MINUTE=2147483647", "between 1 and 100000"),
		// Passed the "fires within 5 years" rule: once, a century from now.
		Entry(nil, "POLL_CRON=@every 1000000h", "at least once a day"),
		Entry(nil, "POLL_CRON=@every 26h", "at least once a day"),
		Entry(nil, "POLL_CRON=0 0 1 * *", "at least once a day"),
		Entry(nil, "POLL_CRON=0 0 * 2 *", "at least once a day"),
		Entry(nil, "POLL_CRON=15 9 * * 1-5", "at least once a day"),
		Entry(nil, "POLL_CRON=0 0 29 2 *", "at least once a day"),
		// Secrets that pass a length rule and fall to a guess.
		Entry(nil, "MONITOR_TOKEN="+strings.Repeat("a", 16), "too weak"),
		Entry(nil, "MONITOR_TOKEN=abcdefghijklmnop", "at least 60 bits"),
		Entry(nil, "API_JWT_HS256_SECRET="+strings.Repeat("a", 32), "at least 128 bits"),
		Entry(nil, "API_JWT_HS256_SECRET="+strings.Repeat("ab", 20), "too weak"),
		Entry(nil, "API_JWT_HS256_SECRET=0123456789abcdef0123456789abcdef", "too weak"),
		// Names that reach Redis keys or a terminal.
		Entry(nil, "SIDEKIQ_NAMESPACE=asynq", "asynq"),
		Entry(nil, "SIDEKIQ_NAMESPACE=ASYNQ", "asynq"),
		Entry(nil, "SIDEKIQ_NAMESPACE=lighthouse526", "REDIS_KEY_PREFIX"),
		Entry(nil, "SIDEKIQ_NAMESPACE=va\x1b[31mgov", "control characters"),
		Entry(nil, "SIDEKIQ_QUEUE=default\x1b[2J", "control characters"),
		Entry(nil, "QUEUE_NAME=q\x00", "control characters"),
		Entry(nil, "REDIS_KEY_PREFIX=lh\x1b:", "control characters"),
	)

	It("refuses a 16 × a monitor password (the repro) with its username set", func() {
		_, err := config.Load([]string{"MONITOR_USERNAME=ops", "MONITOR_PASSWORD=" + strings.Repeat("a", 16)})
		Expect(problemVars(err)).To(ConsistOf("MONITOR_PASSWORD"))
		Expect(problem(err, "MONITOR_PASSWORD")).NotTo(ContainSubstring("aaaa"), "never the value")
	})

	DescribeTable("accepts what works",
		func(environ ...string) {
			_, err := config.Load(environ)
			Expect(err).NotTo(HaveOccurred())
		},
		Entry("the floor and ladder at a second", "POLL_FLOOR=1s", "POLL_LADDER=0:1s,10s:2s"),
		Entry("a retry-after cap of an hour", "LIGHTHOUSE_MAX_RETRY_AFTER=1h"),
		Entry("a daily cron", "POLL_CRON=0 3 * * *"),
		Entry("a daily cron in a zone with daylight saving (a 25-hour gap once a year)", "POLL_CRON=CRON_TZ=America/New_York 30 1 * * *"),
		Entry("a cron every 25 hours", "POLL_CRON=@every 25h"),
		Entry("the strategies' defaults", "POLL_STRATEGY=adaptive"),
		Entry("strong secrets", "MONITOR_USERNAME=ops", "MONITOR_PASSWORD="+strongPassword, "MONITOR_TOKEN="+strongToken,
			"API_JWT_HS256_SECRET="+strongHS256Secret),
		Entry("a passphrase", "MONITOR_USERNAME=ops", "MONITOR_PASSWORD=correct horse battery staple"),
		Entry("a namespace beside asynq's", "SIDEKIQ_NAMESPACE=vets_api"),
	)

	It("defaults the retry-after cap to five minutes", func() {
		cfg, err := config.Load(nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.LighthouseMaxRetryAfter).To(Equal(5 * time.Minute))
	})
})

var _ = Describe("worker config's printing", func() {
	It("masks pwd, auth, key, sig, code and the like in every URL's query", func() {
		cfg, err := config.Load([]string{
			"LIGHTHOUSE_HOST=https://lh.example?pwd=p-hunter2&auth=a-hunter2&key=k-hunter2&sig=s-hunter2&code=c-hunter2&region=east",
			"MONITOR_PROMETHEUS_ADDR=https://prom.example/?X-Amz-Sig=x-hunter2&sslKey=sk-hunter2&session_id=si-hunter2&apiKey=ak-hunter2",
			"DATABASE_URL=postgres://u@db.example/x?sslmode=require&pass=db-hunter2",
		})
		Expect(err).NotTo(HaveOccurred())
		out := cfg.String()
		Expect(out).NotTo(ContainSubstring("hunter2"))
		Expect(out).To(ContainSubstring("region=east"))
		Expect(out).To(ContainSubstring("sslmode=require"))
		Expect(out).To(ContainSubstring("pwd=xxxxx"))
	})

	It("escapes control characters instead of printing them raw", func() {
		cfg, err := config.Load([]string{"MONITOR_USERNAME=ops\x1b[2J", "MONITOR_PASSWORD=" + strongPassword})
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.String()).NotTo(ContainSubstring("\x1b"))
		Expect(cfg.String()).To(ContainSubstring(`MONITOR_USERNAME=ops\x1b[2J`))
	})
})
