// Package api is the HTTP enqueue API other services call to track an
// upload or to poll uploads now:
//
//	POST /v1/uploads  body: tasks.TrackPayload    -> 202 {"task_id": ...}
//	POST /v1/polls    body: tasks.PollNowPayload  -> 202 {"task_id": ...}
//	GET  /healthz     unauthenticated liveness
//
// Every /v1 call needs a bearer JWT (see AuthConfig). Answers: 400 with
// {"errors": {"<field>": "<message>"}} for bad input, 401/403 for a refused
// token, 413 past MaxBodyBytes, 415 for a body that is not JSON, 429 with
// Retry-After past the caller's poll cap (PollCap), 503 when the task could
// not be enqueued (Redis unreachable: nothing is lost, retry). The same
// request sent twice gets 202 with the same task id and "duplicate": true;
// the queue keeps one task.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/vagov/lighthouse526/tasks"
	"github.com/vagov/lighthouse526/worker/allowance"
)

// MaxBodyBytes bounds a request body.
const MaxBodyBytes = 1 << 20

// Options configure the API handler.
type Options struct {
	Client tasks.Enqueuer
	Queue  string
	Auth   *Authenticator
	Logger *slog.Logger
	// Registerer gets the API's metrics; nil registers them nowhere.
	Registerer prometheus.Registerer
	// EnqueueTimeout bounds one enqueue (Redis unreachable answers 503 after
	// it at most); default 5s.
	EnqueueTimeout time.Duration
	// PollCap caps each caller's POST /v1/polls; nil = no cap.
	PollCap *PollCap
	Now     func() time.Time
}

// Server is the API's http.Handler.
type Server struct {
	opts     Options
	mux      *http.ServeMux
	requests *prometheus.CounterVec
	pollCap  *allowance.PerMinute
}

// New builds the API handler.
func New(o Options) (*Server, error) {
	if o.Client == nil || o.Auth == nil || o.Queue == "" {
		return nil, errors.New("api: Client, Auth and Queue are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.EnqueueTimeout == 0 {
		o.EnqueueTimeout = 5 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	pollCap, err := o.PollCap.build()
	if err != nil {
		return nil, err
	}
	s := &Server{opts: o, mux: http.NewServeMux(), pollCap: pollCap}
	s.requests = promauto.With(o.Registerer).NewCounterVec(prometheus.CounterOpts{
		Name: "form526_api_requests_total",
		Help: "Enqueue API requests by route and HTTP status code.",
	}, []string{"route", "code"})
	s.mux.Handle("POST /v1/uploads", s.authenticated("uploads", s.track))
	s.mux.Handle("POST /v1/polls", s.authenticated("polls", s.pollNow))
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// authenticated verifies the token, then runs h and counts its answer.
func (s *Server) authenticated(route string, h func(http.ResponseWriter, *http.Request) (int, any)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, body := s.serve(w, r, h)
		if status == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
			w.Header().Set("Retry-After", "5")
		}
		s.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
		writeJSON(w, status, body)
	})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, h func(http.ResponseWriter, *http.Request) (int, any)) (int, any) {
	subject, err := s.opts.Auth.verify(r)
	var ae *authError
	if errors.As(err, &ae) {
		s.opts.Logger.InfoContext(r.Context(), "refused an API call", "path", r.URL.Path, "reason", ae.reason, "status", ae.status)
		w.Header().Set("WWW-Authenticate", challenge(ae))
		return ae.status, errorBody(ae.reason)
	}
	r = r.WithContext(context.WithValue(r.Context(), subjectKey{}, subject))
	return h(w, r)
}

type subjectKey struct{}

// acceptedBody is the answer of an enqueued (or already enqueued) task.
type acceptedBody struct {
	TaskID    string `json:"task_id"`
	Queue     string `json:"queue"`
	Duplicate bool   `json:"duplicate"`
}

// idFields are the ids a body may give, which must be positive when given.
var idFields = []string{"form526_submission_id", "form_attachment_id"}

func (s *Server) track(w http.ResponseWriter, r *http.Request) (int, any) {
	var p tasks.TrackPayload
	raw, status, body := decodeJSON(w, r, &p)
	if status != 0 {
		return status, body
	}
	task, err := tasks.NewTrackTask(s.opts.Queue, p)
	if problems := positiveIDs(raw, idFields...); err != nil || len(problems) > 0 {
		return invalid(err, problems)
	}
	id, _ := tasks.TrackTaskID(p)
	return s.enqueue(r, task, id)
}

func (s *Server) pollNow(w http.ResponseWriter, r *http.Request) (int, any) {
	var p tasks.PollNowPayload
	raw, status, body := decodeJSON(w, r, &p)
	if status != 0 {
		return status, body
	}
	at := s.opts.Now()
	task, err := tasks.NewPollNowTask(s.opts.Queue, p, at)
	if problems := positiveIDs(raw, idFields...); err != nil || len(problems) > 0 {
		return invalid(err, problems)
	}
	if status, body := s.capPolls(w, r, len(p.Deduplicated().RequestIDs)); status != 0 {
		return status, body
	}
	id, _ := tasks.PollNowTaskID(p, at)
	return s.enqueue(r, task, id)
}

// enqueue hands the task to Redis. Its id is derived from the request, so a
// caller retrying after a 503 (even one where Redis did take the task) gets
// the same task, never a second one.
func (s *Server) enqueue(r *http.Request, task *asynq.Task, id string) (int, any) {
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.EnqueueTimeout)
	defer cancel()
	subject, _ := r.Context().Value(subjectKey{}).(string)
	log := s.opts.Logger.With("task_type", task.Type(), "task_id", id, "caller", subject)
	duplicate, err := tasks.Enqueue(ctx, s.opts.Client, task)
	switch {
	case err == nil && !duplicate:
		log.InfoContext(ctx, "enqueued a task for an API caller")
		return http.StatusAccepted, acceptedBody{TaskID: id, Queue: s.opts.Queue}
	case err == nil:
		log.InfoContext(ctx, "the API caller's task was already enqueued")
		return http.StatusAccepted, acceptedBody{TaskID: id, Queue: s.opts.Queue, Duplicate: true}
	}
	log.WarnContext(ctx, "could not enqueue a task for an API caller", "error", err.Error())
	return http.StatusServiceUnavailable, errorBody("the queue is unavailable: retry later (a retried request never makes a second task)")
}

// capPolls spends what a poll of ids request ids costs of the caller's
// allowance (PollCap.calls), or answers 429 (503 when Redis, which keeps
// the allowance, cannot be reached; 400 for a poll larger than a minute's
// allowance, which waiting would never let through).
func (s *Server) capPolls(w http.ResponseWriter, r *http.Request, ids int) (int, any) {
	if s.pollCap == nil {
		return 0, nil
	}
	subject, _ := r.Context().Value(subjectKey{}).(string)
	calls := s.opts.PollCap.calls(ids)
	wait, err := s.pollCap.TakeN(r.Context(), subject, calls)
	if errors.Is(err, allowance.ErrOverAllowance) {
		s.opts.Logger.InfoContext(r.Context(), "refused an API call", "path", r.URL.Path, "reason", "poll_too_large", "status", http.StatusBadRequest, "caller", subject)
		return http.StatusBadRequest, fieldError("request_ids", fmt.Sprintf(
			"%d request ids are %d Lighthouse calls, more than the %d a caller may spend a minute: split the poll",
			ids, calls, s.pollCap.PerMinute()))
	}
	if err != nil {
		err = fmt.Errorf("poll cap: %w", err)
		s.opts.Logger.WarnContext(r.Context(), "could not check an API caller's poll cap", "caller", subject, "error", err.Error())
		return http.StatusServiceUnavailable, errorBody("the queue is unavailable: retry later (a retried request never makes a second task)")
	}
	if wait <= 0 {
		return 0, nil
	}
	wait = max(wait, time.Second)
	s.opts.Logger.InfoContext(r.Context(), "refused an API call", "path", r.URL.Path, "reason", "poll_cap", "status", http.StatusTooManyRequests, "caller", subject)
	w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())))
	return http.StatusTooManyRequests, errorBody(fmt.Sprintf(
		"this caller asked for more than %d polls a minute (Lighthouse calls' worth: a poll of up to %d request ids is one; they spend the Lighthouse budget every caller shares): retry after %d s",
		s.pollCap.PerMinute(), s.opts.PollCap.batchSize(), int(wait.Seconds())))
}

// invalid answers 400 with the payload's problems and those of the ids given
// as zero or negative (which name the id invalid rather than missing).
func invalid(err error, idProblems map[string]string) (int, any) {
	all := map[string]string{}
	var fe tasks.FieldErrors
	switch {
	case errors.As(err, &fe):
		for k, v := range fe {
			all[k] = v
		}
	case err != nil:
		all["body"] = err.Error()
	}
	for k, v := range idProblems {
		all[k] = v
	}
	if _, ok := idProblems["form526_submission_id"]; ok && strings.HasPrefix(all["request_ids"], "is required") {
		delete(all, "request_ids") // the submission was given, as an invalid id
	}
	if len(all) == 0 {
		return http.StatusBadRequest, fieldError("body", "is invalid")
	}
	return http.StatusBadRequest, errorsBody{Errors: all}
}
