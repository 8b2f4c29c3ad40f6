// Package statsd sends the original Ruby job's StatsD metrics, under its
// exact keys, to the Datadog agent that VA.gov's API already sends to
// (DogStatsD over UDP), so that dashboards and monitors built on those keys
// keep working when this worker replaces the job. Prometheus stays the
// worker's own metrics; this is the contract with Datadog.
//
// The client is DataDog's own (github.com/DataDog/datadog-go/v5/statsd).
// Its client-side aggregation is kept: increments of one key are summed and
// sent as one "key:N|c" line per flush (every 2 s, and on Close), which
// Datadog counts exactly as N lines of "key:1|c" (the agent sums a counter's
// packets per flush interval anyway), while a batch of a thousand documents
// costs a handful of packets instead of a thousand. A gauge set twice within
// a flush sends its last value, which is what a gauge means.
package statsd

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync/atomic"
	"time"

	dogstatsd "github.com/DataDog/datadog-go/v5/statsd"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/vagov/lighthouse526/config"
)

// Config says where the metrics go.
type Config struct {
	// Addr is the agent's DogStatsD address, host:port (UDP). Empty: no
	// client (New returns nil, whose methods do nothing).
	Addr string
	// Tags are added to every line, e.g. env:prod (see config.ValidateStatsDTag).
	// datadog-go adds env:, service: and version: tags of the process's
	// DD_ENV, DD_SERVICE and DD_VERSION by itself: a tag of Tags that it
	// adds anyway is left to it, so that no line carries one twice.
	Tags []string
	// Logger hears of packets that could not be sent (at most once a
	// minute) and, once, of an address that does not resolve.
	Logger *slog.Logger
	// Registerer, when set, gets the counters of those packets and of the
	// failed attempts to resolve the address.
	Registerer prometheus.Registerer

	// lookup resolves the agent's host name (net.DefaultResolver's; specs
	// replace it), and retryWait is the wait before the second attempt.
	lookup    lookupFunc
	retryWait time.Duration
}

// AggregationInterval is how often summed counters and gauges are sent.
const AggregationInterval = 2 * time.Second

// sendErrorLogEvery spaces the warnings about packets that could not be sent.
const sendErrorLogEvery = time.Minute

// Client sends the original's metrics. A nil *Client is the disabled one:
// every method returns at once, allocating nothing, so callers never check.
// It is safe for concurrent use.
type Client struct {
	dd         *dogstatsd.Client
	addr       string
	keys       map[string]documentKeys
	logger     *slog.Logger
	sendErrors prometheus.Counter
	lastLog    atomic.Int64 // unix seconds of the last send-error warning
}

// documentKeys are the per-document keys of one document type, built once.
type documentKeys struct {
	complete, failedPrefix, processingTimeout string
}

// New starts a client of cfg.Addr, or returns nil when it is empty. It
// fails only on settings that cannot work (an address or a tag of the wrong
// form): an address that does not resolve yet is resolved in the
// background, its metrics dropped meanwhile, and said once in the log.
func New(cfg Config) (*Client, error) {
	if cfg.Addr == "" {
		return nil, nil
	}
	if err := config.ValidateStatsDAddr(cfg.Addr); err != nil {
		return nil, err
	}
	for i, t := range cfg.Tags {
		if err := config.ValidateStatsDTag(t); err != nil {
			return nil, fmt.Errorf("statsd: tag %d: %w", i+1, err)
		}
	}
	c := &Client{addr: cfg.Addr, logger: cfg.Logger, keys: make(map[string]documentKeys, len(DocumentTypes))}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	host, port, _ := net.SplitHostPort(cfg.Addr)
	w := &resolvingWriter{
		addr: cfg.Addr, host: host, port: port, logger: c.logger,
		lookup: cfg.lookup, wait: cfg.retryWait, maxWait: resolveMaxWait,
	}
	if w.lookup == nil {
		w.lookup = net.DefaultResolver.LookupIPAddr
	}
	if w.wait <= 0 {
		w.wait = resolveFirstWait
	}
	if cfg.Registerer != nil {
		f := promauto.With(cfg.Registerer)
		c.sendErrors = f.NewCounter(prometheus.CounterOpts{
			Name: "form526_worker_statsd_send_errors_total",
			Help: "StatsD packets that could not be sent (agent unreachable, send queue full, address not resolved yet); their metrics are lost.",
		})
		w.failures = f.NewCounter(prometheus.CounterOpts{
			Name: "form526_worker_statsd_resolve_failures_total",
			Help: "Failed attempts to resolve STATSD_ADDR's host; it is retried in the background (every 1 s, doubling up to 1 min) while polling goes on.",
		})
	}
	for _, t := range DocumentTypes {
		c.keys[t] = documentKeys{
			complete:          CompleteKey(t),
			failedPrefix:      DocumentStatusPrefix + t + suffixFailed,
			processingTimeout: ProcessingTimeoutKey(t),
		}
	}
	w.start()
	// The client writes through w: datadog-go's own UDP transport resolves
	// the address once, in its constructor, which then fails.
	dd, err := dogstatsd.NewWithWriter(w,
		dogstatsd.WithTags(ownTags(cfg.Tags)),
		dogstatsd.WithClientSideAggregation(),
		dogstatsd.WithAggregationInterval(AggregationInterval),
		// The lines carry what the original's did: key, value, type, tags.
		// No client telemetry (datadog.dogstatsd.client.* keys) and no
		// container id field read from this host's cgroups.
		dogstatsd.WithoutTelemetry(),
		dogstatsd.WithoutOriginDetection(),
		dogstatsd.WithErrorHandler(c.sendError),
	)
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("statsd: %s: %w", cfg.Addr, err)
	}
	c.dd = dd
	return c, nil
}

// DocumentCompleted counts a document of docType (a DocumentTypes entry)
// that completed.
func (c *Client) DocumentCompleted(docType string) {
	if c == nil {
		return
	}
	k, ok := c.keys[docType]
	if !ok {
		k.complete = CompleteKey(docType)
	}
	_ = c.dd.Incr(k.complete, nil, 1)
}

// DocumentFailed counts a document of docType that failed at step.
func (c *Client) DocumentFailed(docType, step string) {
	if c == nil {
		return
	}
	k, ok := c.keys[docType]
	if !ok {
		k.failedPrefix = DocumentStatusPrefix + docType + suffixFailed
	}
	_ = c.dd.Incr(k.failedPrefix+StepSegment(step), nil, 1)
}

// DocumentProcessingTimeout counts one poll that found a document of docType
// in progress past the processing timeout.
func (c *Client) DocumentProcessingTimeout(docType string) {
	if c == nil {
		return
	}
	k, ok := c.keys[docType]
	if !ok {
		k.processingTimeout = ProcessingTimeoutKey(docType)
	}
	_ = c.dd.Incr(k.processingTimeout, nil, 1)
}

// PollingError counts one answer with unknown ids, or one status call
// refused with a 4xx other than a rate limit (KeyPollingError).
func (c *Client) PollingError() {
	if c == nil {
		return
	}
	_ = c.dd.Incr(KeyPollingError, nil, 1)
}

// StatusRequestFailed counts one status call that failed for a reason the
// original did not count as a polling error (KeyStatusRequestFailed).
func (c *Client) StatusRequestFailed() {
	if c == nil {
		return
	}
	_ = c.dd.Incr(KeyStatusRequestFailed, nil, 1)
}

// Exhausted counts one polling cycle whose retries ran out.
func (c *Client) Exhausted() {
	if c == nil {
		return
	}
	_ = c.dd.Incr(KeyExhausted, nil, 1)
}

// CycleStarted sets the gauge of documents due at a cycle's start and
// sends it at once, before the cycle's first call to Lighthouse, as the
// original did (not at the next aggregation flush, by which time the
// cycle's batches may be running).
func (c *Client) CycleStarted(polled int) {
	if c == nil {
		return
	}
	_ = c.dd.Gauge(KeyPendingDocumentsPolled, float64(polled), nil, 1)
	_ = c.dd.Flush()
}

// CycleFinished sets the gauges of a finished polling cycle: the documents
// its batches marked completed and failed.
func (c *Client) CycleFinished(completed, failed int) {
	if c == nil {
		return
	}
	_ = c.dd.Gauge(KeyPendingDocumentsMarkedCompleted, float64(completed), nil, 1)
	_ = c.dd.Gauge(KeyPendingDocumentsMarkedFailed, float64(failed), nil, 1)
}

// Flush sends everything summed or buffered so far.
func (c *Client) Flush() error {
	if c == nil {
		return nil
	}
	return c.dd.Flush()
}

// Close sends everything summed or buffered so far, then closes the socket:
// call it after the last task has finished, so shutdown loses nothing.
func (c *Client) Close() error {
	if c == nil {
		return nil
	}
	return c.dd.Close()
}

// sendError is datadog-go's error handler, called from its sender.
func (c *Client) sendError(err error) {
	if c.sendErrors != nil {
		c.sendErrors.Inc()
	}
	if errors.Is(err, errUnresolved) {
		return // said once, when the address did not resolve
	}
	now := time.Now().Unix()
	last := c.lastLog.Load()
	if now-last < int64(sendErrorLogEvery/time.Second) || !c.lastLog.CompareAndSwap(last, now) {
		return
	}
	c.logger.Warn("StatsD packets could not be sent; the metrics in them are lost",
		"statsd_addr", c.addr, "error", err.Error())
}

// unifiedTags are the tags datadog-go adds from the process's environment.
var unifiedTags = []struct{ env, key string }{{"DD_ENV", "env"}, {"DD_SERVICE", "service"}, {"DD_VERSION", "version"}}

// ownTags is tags without those datadog-go adds itself from the process's
// DD_ENV, DD_SERVICE and DD_VERSION.
func ownTags(tags []string) []string {
	out := make([]string, 0, len(tags))
	for _, t := range tags {
		added := false
		for _, u := range unifiedTags {
			if v := os.Getenv(u.env); v != "" && t == u.key+":"+v {
				added = true
			}
		}
		if !added {
			out = append(out, t)
		}
	}
	return out
}
