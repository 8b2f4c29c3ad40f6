package lighthouse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// ErrMalformedResponse is wrapped by every error caused by a response body
// that is not the JSON the API documents (bad JSON, wrong shapes, truncation).
var ErrMalformedResponse = errors.New("lighthouse: malformed response")

// ErrNotFound matches (errors.Is) an *APIError that is the API's own 404
// answer for an unknown request id, as GetUploadStatus returns it.
var ErrNotFound = errors.New("lighthouse: request id not found")

// ErrInvalidRequest is wrapped by errors about arguments rejected before any
// call is made (a bug in the caller: never retried).
var ErrInvalidRequest = errors.New("lighthouse: invalid request")

// ErrorObject is one entry of the API's {"errors":[...]} body. Instance and
// Diagnostics are what VA support asks for when a call fails.
type ErrorObject struct {
	Detail      string `json:"detail"`
	Status      int    `json:"-"` // the API sends a number; a JSON:API string is accepted too
	Title       string `json:"title"`
	Instance    string `json:"instance"`
	Diagnostics string `json:"diagnostics"`
}

// UnmarshalJSON accepts "status" as a number or a numeric string.
func (o *ErrorObject) UnmarshalJSON(b []byte) error {
	type plain ErrorObject
	var v struct {
		plain
		Status json.RawMessage `json:"status"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*o = ErrorObject(v.plain)
	s := strings.Trim(string(v.Status), `"`)
	if n, err := strconv.Atoi(s); err == nil {
		o.Status = n
	}
	return nil
}

// APIError is a non-2xx answer of the API (or of the gateway in front of it).
type APIError struct {
	StatusCode  int
	Endpoint    string        // metric label of the call: uploads_status, upload_status, documents
	Errors      []ErrorObject // API shape {"errors":[...]}
	Message     string        // gateway {"message"} or framework {"error"}
	BodyExcerpt string        // start of a body that is none of the three JSON shapes
	Hint        string        // what to fix, when the answer shows a misconfiguration
	Retryable   bool
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "lighthouse: %s: HTTP %d", e.Endpoint, e.StatusCode)
	for i, o := range e.Errors {
		if i == 2 {
			fmt.Fprintf(&b, " (and %d more errors)", len(e.Errors)-2)
			break
		}
		fmt.Fprintf(&b, ": %s", excerpt([]byte(firstNonEmpty(o.Detail, o.Title)), 200))
		if o.Instance != "" || o.Diagnostics != "" {
			// Both come from the body: kept to one short line like the rest.
			fmt.Fprintf(&b, " (instance=%s diagnostics=%s)", excerpt([]byte(o.Instance), 100), excerpt([]byte(o.Diagnostics), 100))
		}
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", excerpt([]byte(e.Message), 200))
	}
	if e.BodyExcerpt != "" {
		fmt.Fprintf(&b, ": body %q", e.BodyExcerpt)
	}
	if e.Hint != "" {
		fmt.Fprintf(&b, " (hint: %s)", e.Hint)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrNotFound) true for the API's own 404 answer
// (errors[] body), never for the gateway's "no Route matched" 404.
func (e *APIError) Is(target error) bool {
	return target == ErrNotFound && e.StatusCode == 404 && len(e.Errors) > 0
}

// RateLimitError says the call was not made (Remote false: our shared budget
// is spent) or was refused by Lighthouse with a 429 (Remote true). Wait is how
// long until a call may succeed. It is not a failure: retry after Wait.
type RateLimitError struct {
	Wait   time.Duration
	Remote bool
}

func (e *RateLimitError) Error() string {
	src := "shared limiter"
	if e.Remote {
		src = "Lighthouse 429"
	}
	return fmt.Sprintf("lighthouse: rate limited (%s), retry in %s", src, e.Wait.Round(time.Millisecond))
}

// TokenError is an answer of the token endpoint other than a token.
type TokenError struct {
	StatusCode  int
	Code        string // OAuth error code: invalid_client, invalid_scope, ...
	Description string
	Hint        string // what to fix
}

func (e *TokenError) Error() string {
	s := fmt.Sprintf("lighthouse: token: HTTP %d", e.StatusCode)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Description != "" {
		s += ": " + excerpt([]byte(e.Description), 200)
	}
	if e.Hint != "" {
		s += " (hint: " + e.Hint + ")"
	}
	return s
}

// IsRetryable reports whether the same call may succeed later: rate limits,
// 429, 5xx, timeouts, connection errors and malformed 2xx bodies. Bad
// requests, auth failures (after the one refresh), 403, 404 routes, 413 and
// other 4xx are permanent, as is a canceled context.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	var rl *RateLimitError
	var api *APIError
	var tok *TokenError
	switch {
	case errors.As(err, &rl):
		return true
	case errors.As(err, &api):
		return api.Retryable
	case errors.As(err, &tok):
		return retryableStatus(tok.StatusCode)
	case errors.Is(err, ErrInvalidRequest), errors.Is(err, context.Canceled):
		return false
	}
	// Malformed bodies, timeouts, connection and Redis errors.
	return true
}

// Reason names err for a metric label, from a small fixed set: "http_<status>",
// "timeout", "malformed_response", "rate_limited", "connection", "token",
// "canceled", "invalid_request".
func Reason(err error) string {
	var rl *RateLimitError
	var api *APIError
	var tok *TokenError
	var ne net.Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &rl):
		return "rate_limited"
	case errors.As(err, &api):
		return "http_" + strconv.Itoa(api.StatusCode)
	case errors.As(err, &tok):
		return "token"
	case errors.Is(err, ErrMalformedResponse):
		return "malformed_response"
	case errors.Is(err, ErrInvalidRequest):
		return "invalid_request"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return "connection"
}

func retryableStatus(code int) bool {
	return code == 429 || code >= 500
}

// errorBody is the union of the three error shapes.
type errorBody struct {
	Errors  []ErrorObject `json:"errors"`
	Message *string       `json:"message"`
	Error   *string       `json:"error"`
}

// newAPIError parses any of the three error shapes; a body that is none of
// them is kept as a short excerpt.
func newAPIError(endpoint string, status int, body []byte) *APIError {
	e := &APIError{StatusCode: status, Endpoint: endpoint, Retryable: retryableStatus(status)}
	var eb errorBody
	if err := json.Unmarshal(body, &eb); err == nil {
		e.Errors = eb.Errors
		switch {
		case eb.Message != nil:
			e.Message = *eb.Message
		case eb.Error != nil:
			e.Message = *eb.Error
		}
	}
	if len(e.Errors) == 0 && e.Message == "" {
		e.BodyExcerpt = excerpt(body, 200)
	}
	if status == 404 && len(e.Errors) == 0 {
		e.Hint = "no API route at this path: check LIGHTHOUSE_HOST / the base URL ends in /services/benefits-documents/v1"
	}
	return e
}

// excerpt returns at most n bytes of b with control characters dropped.
func excerpt(b []byte, n int) string {
	var sb strings.Builder
	for _, r := range string(b) {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\uFFFD' {
			continue
		}
		if sb.Len()+len(string(r)) > n {
			break
		}
		sb.WriteRune(r)
	}
	return strings.TrimSpace(sb.String())
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
