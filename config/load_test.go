package config_test

import (
	"errors"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/config"
	"github.com/vagov/lighthouse526/lighthouse"
)

// problemVars returns the variables an error of Load names.
func problemVars(err error) []string {
	GinkgoHelper()
	var cerr *config.Error
	Expect(errors.As(err, &cerr)).To(BeTrue(), "want a *config.Error, got %T: %v", err, err)
	vars := make([]string, 0, len(cerr.Problems))
	for _, p := range cerr.Problems {
		vars = append(vars, p.Var)
	}
	return vars
}

var _ = Describe("Load", func() {
	var environ []string

	BeforeEach(func() {
		environ = nil
	})

	Context("when the environment is empty", func() {
		It("resolves every default", func() {
			cfg, err := config.Load(environ)
			Expect(err).NotTo(HaveOccurred())

			Expect(cfg.DatabaseURL).To(Equal("postgres://postgres@127.0.0.1:5432/lighthouse_uploads?sslmode=disable"))
			Expect(cfg.RedisURL).To(Equal("redis://127.0.0.1:6379/0"))
			Expect(cfg.PollCron).To(Equal("15 * * * *"))
			Expect(cfg.PollWindow).To(Equal(time.Hour))
			Expect(cfg.PollBatchSize).To(Equal(config.DefaultPollBatchSize)) // worker bench's default says so
			Expect(cfg.ProcessingTimeout).To(Equal(24 * time.Hour))
			Expect(cfg.LighthouseTimeout).To(Equal(lighthouse.DefaultTimeout)) // one default: the client's
			Expect(cfg.LighthouseRateLimit).To(Equal(60))
			Expect(cfg.LogFormat).To(Equal(config.LogFormatSemanticLogger))
			Expect(cfg.LogApplication).To(Equal("lighthouse526-worker"))
			Expect(cfg.LogEnvironment).To(BeEmpty())
			Expect(cfg.Queues).To(Equal(map[string]int{"lighthouse_document_status": 1}))
		})

		It("derives the API base URL and the token URL from LIGHTHOUSE_HOST", func() {
			cfg, err := config.Load(environ)
			Expect(err).NotTo(HaveOccurred())

			Expect(cfg.LighthouseBaseURL).To(Equal("https://sandbox-api.va.gov/services/benefits-documents/v1"))
			Expect(cfg.LighthouseTokenURL).To(Equal("https://sandbox-api.va.gov/oauth2/benefits-documents/system/v1/token"))
		})

		It("is not configured to call Lighthouse", func() {
			cfg, err := config.Load(environ)
			Expect(err).NotTo(HaveOccurred())

			Expect(cfg.LighthouseConfigured()).To(BeFalse())
			Expect(cfg.LighthousePrivateKey).To(BeNil())
		})
	})

	Context("when LIGHTHOUSE_HOST names another host", func() {
		BeforeEach(func() {
			environ = append(environ, "LIGHTHOUSE_HOST=https://api.va.gov/")
		})

		It("derives both URLs from it, without a double slash", func() {
			cfg, err := config.Load(environ)
			Expect(err).NotTo(HaveOccurred())

			Expect(cfg.LighthouseBaseURL).To(Equal("https://api.va.gov/services/benefits-documents/v1"))
			Expect(cfg.LighthouseTokenURL).To(Equal("https://api.va.gov/oauth2/benefits-documents/system/v1/token"))
		})
	})

	Context("when LIGHTHOUSE_TOKEN_URL is set", func() {
		BeforeEach(func() {
			environ = append(environ,
				"LIGHTHOUSE_HOST=http://127.0.0.1:8089",
				"LIGHTHOUSE_TOKEN_URL=http://127.0.0.1:9999/token")
		})

		It("keeps the token URL and still derives the base URL from the host", func() {
			cfg, err := config.Load(environ)
			Expect(err).NotTo(HaveOccurred())

			Expect(cfg.LighthouseTokenURL).To(Equal("http://127.0.0.1:9999/token"))
			Expect(cfg.LighthouseBaseURL).To(Equal("http://127.0.0.1:8089/services/benefits-documents/v1"))
		})
	})

	Context("when WORKER_QUEUES lists weighted queues", func() {
		BeforeEach(func() {
			environ = append(environ, "WORKER_QUEUES=lighthouse_document_status=6, default=1")
		})

		It("parses every queue with its weight", func() {
			cfg, err := config.Load(environ)
			Expect(err).NotTo(HaveOccurred())

			Expect(cfg.Queues).To(Equal(map[string]int{"lighthouse_document_status": 6, "default": 1}))
		})
	})

	Context("when DATABASE_URL=nonsense and POLL_BATCH_SIZE=-1", func() {
		BeforeEach(func() {
			environ = append(environ, "DATABASE_URL=nonsense", "POLL_BATCH_SIZE=-1")
		})

		It("returns one error naming both variables", func() {
			cfg, err := config.Load(environ)

			Expect(cfg).To(BeNil())
			Expect(problemVars(err)).To(ConsistOf("DATABASE_URL", "POLL_BATCH_SIZE"))
			Expect(err.Error()).To(ContainSubstring("DATABASE_URL"))
			Expect(err.Error()).To(ContainSubstring("POLL_BATCH_SIZE"))
		})
	})

	Context("when DATABASE_SCHEMA is set", func() {
		It("keeps a lower-case identifier", func() {
			cfg, err := config.Load(append(environ, "DATABASE_SCHEMA=lighthouse526_worker"))
			Expect(err).NotTo(HaveOccurred())

			Expect(cfg.DatabaseSchema).To(Equal("lighthouse526_worker"))
		})

		DescribeTable("refuses a name that would need quoting or is the system's",
			func(name string) {
				_, err := config.Load(append(environ, "DATABASE_SCHEMA="+name))

				Expect(problemVars(err)).To(ConsistOf("DATABASE_SCHEMA"))
			},
			Entry("upper case", "Worker"),
			Entry("a quote", `w"; DROP SCHEMA public; --`),
			Entry("a comma (a second search_path entry)", "w,public"),
			Entry("a system schema", "pg_worker"),
		)
	})

	Context("when LOG_FORMAT is set", func() {
		DescribeTable("keeps each envelope's name",
			func(format string) {
				cfg, err := config.Load(append(environ, "LOG_FORMAT="+format, "LOG_APPLICATION=vets-api-worker", "LOG_ENVIRONMENT=production"))
				Expect(err).NotTo(HaveOccurred())

				Expect(cfg.LogFormat).To(Equal(format))
				Expect(cfg.LogApplication).To(Equal("vets-api-worker"))
				Expect(cfg.LogEnvironment).To(Equal("production"))
			},
			Entry("vets-api's", config.LogFormatSemanticLogger),
			Entry("slog's JSON", config.LogFormatSlog),
			Entry("slog's text", config.LogFormatText),
		)

		It("refuses json, the former default, saying what it became", func() {
			_, err := config.Load(append(environ, "LOG_FORMAT=json"))

			Expect(problemVars(err)).To(ConsistOf("LOG_FORMAT"))
			Expect(err).To(MatchError(ContainSubstring(`got "json": json was slog's JSON, now slog`)))
		})
	})

	Context("when several other values are bad at once", func() {
		BeforeEach(func() {
			environ = append(environ,
				"POLL_CRON=every hour",
				"LOG_FORMAT=xml",
				"LIGHTHOUSE_TIMEOUT=abc",
				"WORKER_QUEUES=default",
			)
		})

		It("names every one of them", func() {
			_, err := config.Load(environ)

			Expect(problemVars(err)).To(ConsistOf("POLL_CRON", "LOG_FORMAT", "LIGHTHOUSE_TIMEOUT", "WORKER_QUEUES"))
		})

		It("says why each one is bad", func() {
			_, err := config.Load(environ)

			Expect(err).To(MatchError(And(
				ContainSubstring("LIGHTHOUSE_TIMEOUT: not a valid duration"),
				ContainSubstring(`LOG_FORMAT: must be one of semantic_logger|slog|text, got "xml"`),
				ContainSubstring("POLL_CRON: not a cron schedule"),
				ContainSubstring("WORKER_QUEUES: must be name=weight pairs"),
			)))
		})
	})

	Context("when WORKER_QUEUES leaves out QUEUE_NAME", func() {
		BeforeEach(func() {
			environ = append(environ, "WORKER_QUEUES=default=1")
		})

		It("names WORKER_QUEUES", func() {
			_, err := config.Load(environ)

			Expect(problemVars(err)).To(ConsistOf("WORKER_QUEUES"))
		})
	})

	Context("when POLL_WINDOW_GRACE is not shorter than POLL_WINDOW", func() {
		BeforeEach(func() {
			environ = append(environ, "POLL_WINDOW=10m", "POLL_WINDOW_GRACE=10m")
		})

		It("names POLL_WINDOW_GRACE", func() {
			_, err := config.Load(environ)

			Expect(problemVars(err)).To(ConsistOf("POLL_WINDOW_GRACE"))
		})
	})

	Context("when DATABASE_URL is not postgres and carries a password", func() {
		BeforeEach(func() {
			environ = append(environ, "DATABASE_URL=mysql://app:hunter2-db@127.0.0.1/lighthouse")
		})

		It("names the variable without echoing its value", func() {
			_, err := config.Load(environ)

			Expect(problemVars(err)).To(ConsistOf("DATABASE_URL"))
			Expect(err.Error()).NotTo(ContainSubstring("hunter2-db"))
		})
	})
})
