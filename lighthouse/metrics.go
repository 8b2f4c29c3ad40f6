package lighthouse

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Endpoint label values: the only values the endpoint label takes.
const (
	endpointToken         = "token"
	endpointUploadsStatus = "uploads_status"
	endpointUploadStatus  = "upload_status"
	endpointDocuments     = "documents"
)

// tokenErrorCodes are the OAuth codes kept as label values; any other code
// is counted as "other", transport failures as "transport".
var tokenErrorCodes = map[string]bool{
	"invalid_client": true, "invalid_scope": true, "invalid_grant": true,
	"invalid_request": true, "unauthorized_client": true, "unsupported_grant_type": true,
}

type metrics struct {
	duration    *prometheus.HistogramVec
	responses   *prometheus.CounterVec
	tokenFetch  prometheus.Counter
	tokenErrors *prometheus.CounterVec
	rateLimited *prometheus.CounterVec
	// retryAfterCapped: 429s asking a longer wait than MaxRetryAfter.
	retryAfterCapped prometheus.Counter
	// repairedEntries: status entries whose text was repaired or cut.
	repairedEntries *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	return &metrics{
		duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "lighthouse_request_duration_seconds",
			Help:    "Duration of HTTP calls to Lighthouse, by endpoint.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}, []string{"endpoint"}),
		responses: f.NewCounterVec(prometheus.CounterOpts{
			Name: "lighthouse_responses_total",
			Help: "HTTP calls to Lighthouse by endpoint and status class (2xx, 3xx, 4xx, 5xx, error = no response).",
		}, []string{"endpoint", "code_class"}),
		tokenFetch: f.NewCounter(prometheus.CounterOpts{
			Name: "lighthouse_token_fetches_total",
			Help: "Access tokens requested from the token endpoint.",
		}),
		tokenErrors: f.NewCounterVec(prometheus.CounterOpts{
			Name: "lighthouse_token_errors_total",
			Help: "Failed token requests by OAuth error code (other, transport for the rest).",
		}, []string{"code"}),
		rateLimited: f.NewCounterVec(prometheus.CounterOpts{
			Name: "lighthouse_rate_limited_total",
			Help: "Calls held back by rate limiting: local = our shared budget, remote = a Lighthouse 429 or its pause.",
		}, []string{"source"}),
		retryAfterCapped: f.NewCounter(prometheus.CounterOpts{
			Name: "lighthouse_retry_after_capped_total",
			Help: "Lighthouse 429s that asked for a longer wait than LIGHTHOUSE_MAX_RETRY_AFTER; the pause was that cap instead.",
		}),
		repairedEntries: f.NewCounterVec(prometheus.CounterOpts{
			Name: "lighthouse_status_entries_repaired_total",
			Help: "Status entries applied after repair: kind invalid_text (invalid UTF-8 or a lone surrogate replaced by U+FFFD) or cut (a text field over 64 KiB cut).",
		}, []string{"kind"}),
	}
}

func codeClass(status int) string {
	switch {
	case status >= 200 && status < 300:
		return "2xx"
	case status >= 300 && status < 400:
		return "3xx"
	case status >= 400 && status < 500:
		return "4xx"
	case status >= 500 && status < 600:
		return "5xx"
	}
	return "error"
}

func tokenErrorLabel(code string) string {
	if tokenErrorCodes[code] {
		return code
	}
	return "other"
}
