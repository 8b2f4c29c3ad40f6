// Package fake is a fake Lighthouse Benefits Documents API: a real HTTP
// server speaking the real paths, JSON, auth and rate-limit headers, with
// simulated document processing and scripted faults. Specs run the real
// client against it; the chaos suite and the demo drive it from outside the
// process through its admin endpoints.
//
// Paths (under the URL Start returns):
//
//	POST /oauth2/benefits-documents/system/v1/token     client credentials + private_key_jwt
//	POST /services/benefits-documents/v1/documents       multipart upload -> {"data":{"success":true,"requestId":N}}
//	POST /services/benefits-documents/v1/uploads/status  bulk status
//	GET  /services/benefits-documents/v1/uploads/{id}/status
//	anything else                                        gateway 404 {"message":"no Route matched with those values"}
//
// Admin endpoints (JSON with snake_case keys; durations in nanoseconds):
//
//	GET    /_fake/requests       the request log ([]Request)
//	DELETE /_fake/requests       clear the request log
//	GET    /_fake/faults         the current Faults
//	PUT    /_fake/faults         replace the Faults (body: Faults)
//	POST   /_fake/documents      add a scripted Document (body: Document) -> {"request_id":"N"}
//	POST   /_fake/expire-tokens  expire every access token issued so far
//
// Checks happen in this order on API calls: one-shot Faults.Next, the slow
// fault, RateLimitStorm, the bearer token (401), the rate limit (429; only
// authenticated calls count, as Kong orders its plugins), random error faults,
// then the route itself.
package fake

import (
	"context"
	"crypto/rsa"
	"errors"
	"log/slog"
	"math/rand"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Paths of the real API.
const (
	TokenPath = "/oauth2/benefits-documents/system/v1/token"
	APIPrefix = "/services/benefits-documents/v1"
)

// Options configure a Server. Zero values give an unlimited, fault-free
// server whose uploaded documents succeed at once.
type Options struct {
	PublicKey   *rsa.PublicKey // verifies client assertions
	ClientID    string         // expected iss and sub
	AudClaimURL string         // expected aud
	Scopes      []string       // scopes granted to the client; default documents.read, documents.write

	TokenLifetime      time.Duration    // expires_in of issued tokens; default 600s
	RateLimitPerMinute int              // 0 = unlimited
	Clock              func() time.Time // simulated time; default time.Now

	ClaimsEvidenceDuration time.Duration // simulated time an upload spends in CLAIMS_EVIDENCE
	BGSDuration            time.Duration // ... and in BENEFITS_GATEWAY_SERVICE
	FailClaimsEvidence     float64       // probability an upload fails at CLAIMS_EVIDENCE
	FailBGS                float64       // probability an upload fails at BENEFITS_GATEWAY_SERVICE

	// MaxRequestID is the largest request id a status call may hold (0:
	// int64's largest). The API documents none; a smaller one models a
	// Lighthouse whose ids are narrower than the worker's rule: a call
	// holding a larger id is refused whole with 400, as one holding "abc" is.
	MaxRequestID int64

	Seed   int64
	Logger *slog.Logger
}

// Request is one recorded call (admin calls are not recorded).
type Request struct {
	Method     string    `json:"method"`
	Path       string    `json:"path"`
	RequestIDs []string  `json:"request_ids,omitempty"` // ids asked by status calls
	StatusCode int       `json:"status_code"`
	At         time.Time `json:"at"` // by the server's clock
}

// Server is the fake. It is an http.Handler; Start serves it on 127.0.0.1.
type Server struct {
	opts Options
	now  func() time.Time
	log  *slog.Logger

	mu       sync.Mutex
	rng      *rand.Rand
	faults   Faults
	requests []Request
	tokens   map[string]time.Time // access token -> expiry
	jtis     map[string]time.Time // assertion ids seen -> their exp
	issued   int
	docs     map[string]*document
	nextID   int64
	window   time.Time // start of the current rate-limit minute
	inWindow int       // calls counted in it
	// hostileServed counts the hostile entries served, by kind.
	hostileServed map[string]int
	hostileSeq    int // the next hostile kind, in turn

	httpSrv *http.Server
	ln      net.Listener
}

// New builds a Server.
func New(opts Options) *Server {
	if opts.TokenLifetime == 0 {
		opts.TokenLifetime = 600 * time.Second
	}
	if opts.Scopes == nil {
		opts.Scopes = []string{"documents.read", "documents.write"}
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Server{
		opts:   opts,
		now:    opts.Clock,
		log:    opts.Logger,
		rng:    rand.New(rand.NewSource(opts.Seed)),
		tokens: map[string]time.Time{},
		jtis:   map[string]time.Time{},
		docs:   map[string]*document{},
		nextID: 1,
	}
}

// Start serves on a new listener at 127.0.0.1:0 and returns the host root
// URL, e.g. http://127.0.0.1:41234.
func (s *Server) Start() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	s.ln = ln
	s.httpSrv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.httpSrv.Serve(ln) }()
	return "http://" + ln.Addr().String(), nil
}

// Close stops a started server, dropping open connections.
func (s *Server) Close() {
	if s.httpSrv != nil {
		_ = s.httpSrv.Close()
	}
}

// ListenAndServe serves s on addr until ctx is done, then shuts down
// gracefully (5s at most).
func ListenAndServe(ctx context.Context, addr string, s *Server) error {
	srv := &http.Server{Addr: addr, Handler: s, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdownCtx); err != nil {
			return err
		}
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
}

// ServeHTTP routes a request and records it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_fake/") {
		s.serveAdmin(w, r)
		return
	}
	rw := &recorder{ResponseWriter: w, status: http.StatusOK}
	rec := &Request{Method: r.Method, Path: r.URL.Path, At: s.now()}
	defer func() {
		rec.StatusCode = rw.status
		s.log.Debug("fake lighthouse request", "method", rec.Method, "path", rec.Path,
			"status", rec.StatusCode, "request_ids", len(rec.RequestIDs))
		s.mu.Lock()
		s.requests = append(s.requests, *rec)
		s.mu.Unlock()
	}()
	switch {
	case r.URL.Path == TokenPath:
		if f, ok := s.takeNext("token"); ok {
			answerFault(rw, r, f)
			return
		}
		s.serveToken(rw, r)
	case strings.HasPrefix(r.URL.Path, APIPrefix+"/"):
		s.serveAPI(rw, r, rec)
	default:
		writeGateway(rw, http.StatusNotFound)
	}
}

// Requests returns a copy of the request log.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// PollTimes returns, per request id, when the status calls asking for it
// arrived and were answered 200, in order: how often each document was
// polled. Other answers (a 429, a fault) polled nothing.
func (s *Server) PollTimes() map[string][]time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]time.Time{}
	for _, r := range s.requests {
		if r.Path != APIPrefix+"/uploads/status" || r.StatusCode != http.StatusOK {
			continue
		}
		for _, id := range r.RequestIDs {
			out[id] = append(out[id], r.At)
		}
	}
	return out
}

// ResetRequests clears the request log.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

// recorder remembers the status code written.
type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}
