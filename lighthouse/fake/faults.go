package fake

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Error body shapes.
const (
	ShapeAPI       = "api"       // {"errors":[{"detail","status","title","instance","diagnostics"}]}
	ShapeGateway   = "gateway"   // {"message":"..."}
	ShapeFramework = "framework" // {"status":500,"error":"..."}
	ShapeHTML      = "html"      // an HTML page from a proxy
	ShapeEmpty     = "empty"     // no body
	ShapeTruncated = "truncated" // (2xx only) the real body cut in half
	ShapeMalformed = "malformed" // (2xx only) JSON of the wrong shape or no JSON
)

// Faults make the fake misbehave. SetFaults replaces them as a whole.
type Faults struct {
	ErrorRate   float64  `json:"error_rate"`   // probability an API call answers an error
	ErrorShapes []string `json:"error_shapes"` // shapes to pick from; default api, gateway, framework, html, empty
	StatusCodes []int    `json:"status_codes"` // codes to pick from; default 500, 502, 503, 504

	SlowRate  float64       `json:"slow_rate"` // probability a call (API or token) is delayed by SlowDelay
	SlowDelay time.Duration `json:"slow_delay"`

	TruncateRate  float64 `json:"truncate_rate"`  // probability a 200 status body is cut in half
	MalformedRate float64 `json:"malformed_rate"` // probability a 200 status body has the wrong shape

	FailedWithoutError    bool `json:"failed_without_error"`     // FAILED statuses carry no error object
	SuccessWithoutEndTime bool `json:"success_without_end_time"` // SUCCESS statuses have endTime null
	ExtraUnaskedIDs       int  `json:"extra_unasked_ids"`        // add this many statuses for ids nobody asked about
	DuplicateEntries      bool `json:"duplicate_entries"`        // every status appears twice

	// HostileRate is the probability that one status entry of a 200 answer
	// is made hostile, of a kind drawn from HostileKinds (default all of
	// HostileKinds): the rest of the answer is as it was.
	HostileRate  float64  `json:"hostile_rate"`
	HostileKinds []string `json:"hostile_kinds"`

	MaxRequestIDs int `json:"max_request_ids"` // a status call asking more ids answers the gateway's 413

	TokenFailure   bool `json:"token_failure"`    // the token endpoint answers 401 invalid_client
	RateLimitStorm bool `json:"rate_limit_storm"` // every API call answers 429

	Next []Fault `json:"next"` // one-shot responses, consumed in order
}

// Fault is one scripted response.
type Fault struct {
	Endpoint string            `json:"endpoint"` // "" = any API call; token, uploads_status, upload_status, documents
	Status   int               `json:"status"`   // HTTP status; 2xx with Shape truncated/malformed alters the real answer
	Shape    string            `json:"shape"`    // one of the Shape constants; default api
	Body     string            `json:"body"`     // a literal body instead of Shape (also for 2xx)
	Headers  map[string]string `json:"headers"`  // extra headers, e.g. Retry-After
	Delay    time.Duration     `json:"delay"`    // wait before answering
}

// SetFaults replaces the fault configuration.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f.Next = append([]Fault(nil), f.Next...)
	s.faults = f
}

// currentFaults returns a copy of the fault configuration.
func (s *Server) currentFaults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.faults
	f.Next = append([]Fault(nil), f.Next...)
	return f
}

// takeNext removes and returns the first one-shot fault for endpoint.
func (s *Server) takeNext(endpoint string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults.Next {
		if f.Endpoint == endpoint || (f.Endpoint == "" && endpoint != "token") {
			s.faults.Next = append(s.faults.Next[:i:i], s.faults.Next[i+1:]...)
			return f, true
		}
	}
	return Fault{}, false
}

// chance draws from the seeded generator.
func (s *Server) chance(p float64) bool {
	if p <= 0 {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rng.Float64() < p
}

func (s *Server) pick(n int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rng.Intn(n)
}

// answerFault writes a scripted error response.
func answerFault(w http.ResponseWriter, r *http.Request, f Fault) {
	if !sleepCtx(r, f.Delay) {
		return
	}
	for k, v := range f.Headers {
		w.Header().Set(k, v)
	}
	if f.Body != "" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.Status)
		_, _ = w.Write([]byte(f.Body))
		return
	}
	writeShape(w, f.Status, f.Shape)
}

// sleepCtx waits d unless the client goes away; false if it went away.
func sleepCtx(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// writeShape writes an error response of the given shape.
func writeShape(w http.ResponseWriter, status int, shape string) {
	switch shape {
	case ShapeGateway:
		writeGateway(w, status)
	case ShapeFramework:
		msg := http.StatusText(status)
		if status == http.StatusInternalServerError {
			msg = "Failed to verify payload."
		}
		writeJSON(w, status, map[string]any{"status": status, "error": msg})
	case ShapeHTML:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		_, _ = fmt.Fprintf(w, "<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n<center><h1>%d %s</h1></center>\r\n</body>\r\n</html>\r\n",
			status, http.StatusText(status), status, http.StatusText(status))
	case ShapeEmpty:
		w.WriteHeader(status)
	default:
		writeAPIError(w, status, apiErrorDetail(status))
	}
}

// gatewayMessages are the gateway's real messages.
var gatewayMessages = map[int]string{
	401: "Invalid authentication credentials",
	403: "You cannot consume this service",
	404: "no Route matched with those values",
	413: "Request size limit exceeded",
	429: "API rate limit exceeded",
	504: "The server took too long to respond",
}

func writeGateway(w http.ResponseWriter, status int) {
	msg, ok := gatewayMessages[status]
	if !ok {
		msg = "An unexpected error occurred"
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("Www-Authenticate", "Bearer")
	}
	writeJSON(w, status, map[string]string{"message": msg})
}

func apiErrorDetail(status int) string {
	switch status {
	case 404:
		return "Upload Request Async Status Not Found"
	case 500:
		return "Internal Server Error"
	}
	return http.StatusText(status)
}

// writeAPIError writes the API's own {"errors":[...]} shape.
func writeAPIError(w http.ResponseWriter, status int, detail string) {
	writeJSON(w, status, map[string]any{"errors": []map[string]any{{
		"detail":      detail,
		"status":      status,
		"title":       http.StatusText(status),
		"instance":    newUUID(),
		"diagnostics": newDiagnostics(),
	}}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	writeRawJSON(w, status, b)
}

func writeRawJSON(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// malformedBodies are 200 bodies a broken upstream could send.
var malformedBodies = []string{
	`{"data":{"statuses":[{"requestId":"abc","status":"SUCCESS"}]}}`,
	`{"data":{"statuses":{}}}`,
	`{"data":[]}`,
	`{"data":{"statuses":[{"requestId":1,"time":{"startTime":"yesterday"},"status":"SUCCESS"}]}}`,
	`upstream connect error or disconnect/reset before headers`,
	`{}`,
}

// alterBody applies a 2xx body fault: the scripted one (bodyFault, may be
// nil), else the configured rates.
func (s *Server) alterBody(bodyFault *Fault, body []byte) []byte {
	shape := ""
	if bodyFault != nil {
		if bodyFault.Body != "" {
			return []byte(bodyFault.Body)
		}
		shape = bodyFault.Shape
	}
	faults := s.currentFaults()
	switch {
	case shape == ShapeTruncated, shape == "" && s.chance(faults.TruncateRate):
		return body[:len(body)/2]
	case shape == ShapeMalformed, shape == "" && s.chance(faults.MalformedRate):
		return []byte(malformedBodies[s.pick(len(malformedBodies))])
	}
	return body
}

func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func newDiagnostics() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}
