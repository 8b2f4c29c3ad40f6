package monitor_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/hibiken/asynq"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/config"
	"github.com/vagov/lighthouse526/db/dbtest"
	"github.com/vagov/lighthouse526/worker/monitor"
)

var _ = Describe("Server", func() {
	var cfg *config.Config

	BeforeEach(func() {
		cfg = &config.Config{
			RedisKeyPrefix:                "monitor-test:" + randomHex(6) + ":",
			MonitorAddr:                   "127.0.0.1:9480",
			MonitorReadOnly:               true,
			MonitorUsername:               "ops",
			MonitorPassword:               "a-monitor-password-0123456789",
			MonitorLoginFailuresPerMinute: 5,
		}
	})

	redisConn := func() asynq.RedisClientOpt {
		return asynq.RedisClientOpt{Addr: dbtest.RedisAddr(), DB: rdb.Options().DB}
	}

	get := func(h http.Handler, target string, set func(*http.Request)) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, target, nil)
		if set != nil {
			set(req)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}

	It("serves asynqmon under /monitor/ behind the guard and authentication, redirects / there and answers the health check", func() {
		srv, err := monitor.New(cfg, redisConn(), rdb, slog.New(slog.DiscardHandler))
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(srv.Close)

		rec := get(srv, "/", nil)
		Expect(rec.Code).To(Equal(http.StatusFound))
		Expect(rec.Header().Get("Location")).To(Equal(monitor.Root + "/"))
		Expect(get(srv, config.HealthzPath, nil).Body.String()).To(Equal("ok\n"))

		rec = get(srv, monitor.Root+"/", nil)
		Expect(rec.Code).To(Equal(http.StatusUnauthorized))

		rec = get(srv, monitor.Root+"/", func(r *http.Request) { r.SetBasicAuth("ops", cfg.MonitorPassword) })
		Expect(rec.Code).To(Equal(http.StatusOK))
		Expect(rec.Body.String()).To(ContainSubstring("<script>"), "asynqmon's index page")
		Expect(rec.Header().Get("Content-Security-Policy")).To(ContainSubstring("script-src 'self' 'sha256-"),
			"its inline scripts allowed by hash")
	})

	It("reports settings that leave the monitor open as a settings error", func() {
		cfg.MonitorUsername, cfg.MonitorPassword = "", ""
		_, err := monitor.New(cfg, redisConn(), rdb, slog.New(slog.DiscardHandler))
		var settings *monitor.SettingsError
		Expect(err).To(BeAssignableToTypeOf(settings))
		Expect(err).To(MatchError(ContainSubstring("needs basic auth credentials or a token")))
	})
})
