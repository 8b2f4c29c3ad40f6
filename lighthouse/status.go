package lighthouse

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/vagov/lighthouse526/lighthouse/answer"
)

// Document statuses the API documents; any other value is kept verbatim.
const (
	StatusInProgress = "IN_PROGRESS"
	StatusSuccess    = "SUCCESS"
	StatusFailed     = "FAILED"
)

// Status is one document's processing status. Only Status decides the
// document's fate; steps are informational (DecodeSteps reads them from Raw
// when wanted), the failed step is Error.Step.
type Status struct {
	RequestID string // the API's number as its decimal string
	Status    string // IN_PROGRESS, SUCCESS, FAILED or anything else verbatim
	StartTime *int64 // epoch milliseconds; nil when null or absent
	EndTime   *int64
	Error     *StatusError    // nil when absent or null
	Raw       json.RawMessage // the status object's bytes exactly as received: in a StatusResponse, a part of its Body (never modify it)
}

// Step is one workflow step (CLAIMS_EVIDENCE, BENEFITS_GATEWAY_SERVICE, ...).
type Step struct {
	Name         string `json:"name"`
	NextStepName string `json:"nextStepName"`
	Description  string `json:"description"`
	Status       string `json:"status"`
}

// DecodeSteps decodes the status's steps from Raw. Polling never needs them,
// so DecodeStatusResponse skips them: they are most of an answer's bytes.
func (s Status) DecodeSteps() ([]Step, error) {
	var w struct {
		Steps []Step `json:"steps"`
	}
	if err := jsonv2.Unmarshal(s.Raw, &w); err != nil {
		return nil, malformed("status %s: steps: %v", s.RequestID, err)
	}
	return w.Steps, nil
}

// StatusError is the {"detail","step"} object of a FAILED status.
type StatusError struct {
	Detail string `json:"detail"`
	Step   string `json:"step"`
}

// StatusResponse is one answer of POST /uploads/status. Statuses are as the
// API sent them: callers must expect duplicates and ids they did not ask for.
type StatusResponse struct {
	Statuses []Status
	NotFound []string // requestIdsNotFound; on the all-unknown 404: every id asked
	// Invalid are the entries of statuses that could not be read or cannot
	// be stored, left out of Statuses, so that one bad entry does not hold
	// back the rest of a batch.
	Invalid []InvalidStatus
	// Body is the answer every Raw is a part of; nil when the statuses
	// come from more than one answer.
	Body answer.Body
	// NotFoundErrors are the errors of a 404 that knew none of the ids, as
	// the API sent them: the original logged that answer's body.
	NotFoundErrors []ErrorObject
	// Repaired are the statuses whose text was repaired (see
	// DecodeStatusResponse): applied, and counted by the client.
	Repaired []Repaired
	// oversized: an entry is over MaxFieldBytes, so a field may be.
	oversized bool
}

// InvalidStatus is an entry of statuses that DecodeStatusResponse left out.
type InvalidStatus struct {
	Index     int    // its position in the answer's statuses
	RequestID string // its request id when that much could be read, else ""
	// Implausible: the entry was read, but its times cannot be true (see
	// plausibleTimes). Unlike an entry that cannot be read, it says
	// nothing against the rest of the answer.
	Implausible bool
	Err         error // wraps ErrMalformedResponse
}

func (s InvalidStatus) implausible() bool { return s.Implausible }

// wireStatus mirrors the status object; a pointer tells a null or absent
// time object apart (a null or absent string reads as "").
type wireStatus struct {
	RequestID jsontext.Value `json:"requestId"`
	Status    string         `json:"status"`
	Time      *struct {
		StartTime jsontext.Value `json:"startTime"`
		EndTime   jsontext.Value `json:"endTime"`
	} `json:"time"`
	Error *StatusError `json:"error"`
}

// statuses marks the envelope's statuses array, which decodeStatusResponse
// reads itself (statusesUnmarshaler).
type statuses struct{}

// DecodeStatusResponse decodes a 200 body of POST /uploads/status. Bad JSON
// or a wrong envelope gives an error wrapping ErrMalformedResponse, and so
// does an answer none of whose statuses can be read: the whole answer is
// suspect, and asking again may help. Otherwise an entry of the wrong shape,
// with a repeated member name (which jsonb would silently collapse), with
// the escape \u0000 (which jsonb refuses) or with times no document can
// have (Plausible), or with a number Postgres's numeric cannot hold
// (jsonbNumbers), goes to Invalid and the rest to Statuses.
//
// One entry's text never fails the answer: invalid UTF-8 and lone
// surrogates (which the decoder and jsonb refuse) are replaced by U+FFFD and
// a string over MaxFieldBytes is cut, in a repaired copy of the body that
// becomes Body; the entries so changed are listed in Repaired.
//
// It uses the JSON v2 decoder (the go-json-experiment mirror of Go 1.27's
// encoding/json/v2), which reads each element once where encoding/json scans
// it three times: decoding the answer is a large part of a batch's CPU.
func DecodeStatusResponse(body []byte) (*StatusResponse, error) {
	return decodeStatusResponse(body, 0, time.Now())
}

// decodeStatusResponse is DecodeStatusResponse expecting about capHint
// statuses (the ids asked for), so Statuses is not regrown as it fills, and
// judging times against now. The common answer is decoded once; one the
// decoder refuses, or with an entry over MaxFieldBytes, is repaired
// (repairText) and decoded again.
func decodeStatusResponse(body []byte, capHint int, now time.Time) (*StatusResponse, error) {
	out, err := decodeAnswer(body, capHint, now)
	if err == nil && !out.oversized {
		return out, nil
	}
	fixed, fixes := repairText(body)
	if fixed == nil {
		return out, err
	}
	repaired, rerr := decodeAnswer(fixed, capHint, now)
	if rerr != nil {
		if err != nil {
			return nil, err // the first error says what is wrong with what was sent
		}
		return nil, rerr
	}
	repaired.Repaired = repairedEntries(repaired, fixes)
	return repaired, nil
}

// decodeAnswer decodes body: once, or again allowing a member name
// repeated within an entry (decodeRepeatedNames).
func decodeAnswer(body []byte, capHint int, now time.Time) (*StatusResponse, error) {
	out, err := decodeAnswerWith(body, capHint, now)
	if errors.Is(err, jsontext.ErrDuplicateName) {
		return decodeRepeatedNames(body, capHint, now, err)
	}
	return out, err
}

// decodeAnswerWith decodes body once, with the decoder's options opts.
func decodeAnswerWith(body []byte, capHint int, now time.Time, opts ...jsonv2.Options) (*StatusResponse, error) {
	var env struct {
		Data *struct {
			Statuses statuses         `json:"statuses"`
			NotFound []jsontext.Value `json:"requestIdsNotFound"`
		} `json:"data"`
	}
	out := &StatusResponse{Body: answer.Body(body)}
	if capHint > 0 {
		out.Statuses = make([]Status, 0, capHint)
	}
	err := jsonv2.Unmarshal(body, &env, append(opts, jsonv2.WithUnmarshalers(statusesUnmarshaler(out, now)))...)
	if err != nil {
		return nil, fmt.Errorf("lighthouse: status response: %w: %w", err, ErrMalformedResponse)
	}
	if env.Data == nil {
		return nil, malformed("status response has no data object")
	}
	if len(out.Statuses) == 0 && len(out.Invalid) > 0 && !slices.ContainsFunc(out.Invalid, InvalidStatus.implausible) {
		return nil, out.Invalid[0].Err
	}
	for i, raw := range env.Data.NotFound {
		id, err := decodeID(raw)
		if err != nil {
			return nil, malformed("requestIdsNotFound[%d]: %v", i, err)
		}
		out.NotFound = append(out.NotFound, id)
	}
	return out, nil
}

// repairedEntries names the statuses of r that hold one of fixes (offsets in
// r.Body), each once, in order.
func repairedEntries(r *StatusResponse, fixes []repair) []Repaired {
	var out []Repaired
	f := 0
	for _, s := range r.Statuses {
		start, _ := r.Body.Offset(s.Raw)
		for f < len(fixes) && fixes[f].at < start {
			f++
		}
		var kinds []string
		for ; f < len(fixes) && fixes[f].at < start+len(s.Raw); f++ {
			if !slices.Contains(kinds, fixes[f].kind) {
				kinds = append(kinds, fixes[f].kind)
			}
		}
		if len(kinds) > 0 {
			slices.Sort(kinds)
			out = append(out, Repaired{RequestID: s.RequestID, Kinds: kinds})
		}
	}
	return out
}

// statusesUnmarshaler reads the statuses array where the envelope's decoder
// finds it, each element once, straight into out's Statuses (with Raw the
// part of out.Body it was read from, found from the decoder's offset) or
// Invalid.
func statusesUnmarshaler(out *StatusResponse, now time.Time) *jsonv2.Unmarshalers {
	return jsonv2.UnmarshalFromFunc(func(dec *jsontext.Decoder, _ *statuses) error {
		tok, err := dec.ReadToken()
		switch {
		case err != nil:
			return err
		case tok.Kind() == 'n':
			return nil
		case tok.Kind() != '[':
			return fmt.Errorf("statuses is not an array but %s", kindName(tok.Kind()))
		}
		for i := 0; dec.PeekKind() != ']'; i++ {
			v, err := dec.ReadValue()
			if err != nil {
				return err
			}
			out.oversized = out.oversized || len(v) > MaxFieldBytes
			s, err := decodeStatus(v, now)
			if err != nil {
				out.Invalid = append(out.Invalid, InvalidStatus{Index: i, RequestID: s.RequestID,
					Implausible: errors.Is(err, errImplausible), Err: malformed("statuses[%d]: %v", i, err)})
				continue
			}
			end := int(dec.InputOffset())
			s.Raw = out.Body.Part(end-len(v), end)
			out.Statuses = append(out.Statuses, s)
		}
		_, err = dec.ReadToken()
		return err
	})
}

// kindName names a JSON value by the kind of its first token.
func kindName(k jsontext.Kind) string {
	switch k {
	case '{':
		return "an object"
	case '"':
		return "a string"
	case '0':
		return "a number"
	case 't', 'f':
		return "a boolean"
	}
	return "not a value"
}

// decodeStatus decodes one status object, judging its times against now;
// the caller sets Raw. On an error the status still carries its request id
// if that could be read.
func decodeStatus(raw []byte, now time.Time) (Status, error) {
	if len(raw) == 0 || raw[0] != '{' {
		return Status{}, errors.New("not an object")
	}
	var w wireStatus
	err := jsonv2.Unmarshal(raw, &w)
	id, idErr := decodeID(w.RequestID)
	if idErr != nil {
		id = ""
	}
	switch {
	case err != nil:
		return Status{RequestID: id}, err
	case idErr != nil:
		return Status{}, fmt.Errorf("requestId: %w", idErr)
	case w.Status == "":
		return Status{RequestID: id}, errors.New("no status")
	case hasNULEscape(raw):
		return Status{RequestID: id}, errors.New(`holds the escape \u0000, which Postgres's jsonb cannot store`)
	case !jsonbNumbers(raw):
		return Status{RequestID: id}, errors.New("holds a number Postgres's jsonb cannot store (out of numeric's range)")
	}
	s := Status{RequestID: id, Status: w.Status, Error: w.Error}
	if w.Time != nil {
		if s.StartTime, err = decodeMillis(w.Time.StartTime); err != nil {
			return Status{RequestID: id}, fmt.Errorf("time.startTime: %w", err)
		}
		if s.EndTime, err = decodeMillis(w.Time.EndTime); err != nil {
			return Status{RequestID: id}, fmt.Errorf("time.endTime: %w", err)
		}
		if err := plausibleTimes(s.StartTime, s.EndTime, now); err != nil {
			return Status{RequestID: id}, err
		}
	}
	return s, nil
}

// EarliestTime is the earliest plausible status time: one before it, or
// more than MaxTimeAhead after now, is no time Lighthouse can have seen (an
// endTime of 9999999999999999 is past Postgres's timestamp range and failed
// the whole batch's write), and neither is an end before its start.
var EarliestTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// MaxTimeAhead is how far ahead of the worker's clock a status time may be
// (clock skew between Lighthouse and the worker is seconds, not a day).
const MaxTimeAhead = 24 * time.Hour

// errImplausible marks an entry read whole whose times cannot be true.
var errImplausible = errors.New("implausible time")

// plausibleTimes says what is wrong with an entry's times, if anything.
func plausibleTimes(start, end *int64, now time.Time) error {
	lo, hi := EarliestTime.UnixMilli(), now.Add(MaxTimeAhead).UnixMilli()
	for _, t := range []struct {
		name string
		ms   *int64
	}{{"startTime", start}, {"endTime", end}} {
		if t.ms != nil && (*t.ms < lo || *t.ms > hi) {
			return fmt.Errorf("time.%s %d is before %s or more than %s ahead of now: %w",
				t.name, *t.ms, EarliestTime.Format(time.DateOnly), MaxTimeAhead, errImplausible)
		}
	}
	if start != nil && end != nil && *end < *start {
		return fmt.Errorf("time.endTime %d is before time.startTime %d: %w", *end, *start, errImplausible)
	}
	return nil
}

// hasNULEscape reports whether raw, valid JSON, holds the escape \u0000 in a
// string or member name. A backslash escaped by another one followed by
// "u0000" is text, not that escape.
func hasNULEscape(raw []byte) bool {
	for i := 0; ; {
		j := bytes.Index(raw[i:], []byte(`\u0000`))
		if j < 0 {
			return false
		}
		j += i
		backslashes := 0
		for k := j; k >= 0 && raw[k] == '\\'; k-- {
			backslashes++
		}
		if backslashes%2 == 1 {
			return true
		}
		i = j + 1
	}
}

// decodeID accepts a JSON integer (what the API sends) or a string of
// digits, a request id by ValidRequestID, and returns it as a decimal string.
func decodeID(raw []byte) (string, error) {
	var s string
	if len(raw) > 0 && raw[0] == '"' {
		if err := jsonv2.Unmarshal(raw, &s); err != nil {
			return "", err
		}
	} else {
		s = string(raw)
	}
	if !ValidRequestID(s) {
		return "", fmt.Errorf("%.40q is not a request id (a positive integer of int64)", string(raw))
	}
	return s, nil
}

// decodeMillis reads an epoch-ms integer; null or absent gives nil.
func decodeMillis(raw []byte) (*int64, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%.40q is not epoch milliseconds", string(raw))
	}
	return &n, nil
}

func malformed(format string, a ...any) error {
	return fmt.Errorf("lighthouse: %s: %w", fmt.Sprintf(format, a...), ErrMalformedResponse)
}

// GetUploadStatuses asks POST /uploads/status about requestIDs (the original
// system sends 100 per call). Ids Lighthouse does not know come back in
// NotFound, also when it answers 404 because it knows none of them.
func (c *Client) GetUploadStatuses(ctx context.Context, requestIDs []string) (*StatusResponse, error) {
	if len(requestIDs) == 0 {
		return nil, fmt.Errorf("lighthouse: uploads_status: no request ids: %w", ErrInvalidRequest)
	}
	// Lighthouse refuses the whole call for one id it cannot read: such an
	// id is the caller's to leave out, never worth a call.
	for i, id := range requestIDs {
		if !ValidRequestID(id) {
			return nil, fmt.Errorf("lighthouse: uploads_status: requestIds[%d] %.40q is not a request id: %w", i, id, ErrInvalidRequest)
		}
	}
	req, err := json.Marshal(map[string]any{"data": map[string]any{"requestIds": requestIDs}})
	if err != nil {
		return nil, fmt.Errorf("lighthouse: uploads_status: %w", err)
	}
	body, err := c.do(ctx, apiCall{
		endpoint: endpointUploadsStatus,
		method:   http.MethodPost,
		path:     "uploads/status",
		body: func() (io.Reader, string, error) {
			return bytes.NewReader(req), "application/json", nil
		},
	})
	if errors.Is(err, ErrNotFound) {
		out := &StatusResponse{NotFound: append([]string(nil), requestIDs...)}
		var apiErr *APIError
		if errors.As(err, &apiErr) {
			out.NotFoundErrors = apiErr.Errors
		}
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	resp, err := decodeStatusResponse(body, len(requestIDs), c.now())
	if err != nil {
		return nil, fmt.Errorf("lighthouse: uploads_status (%d ids): %w", len(requestIDs), err)
	}
	c.countRepaired(ctx, resp.Repaired)
	return resp, nil
}

// GetUploadStatus asks GET /uploads/{id}/status about one document. An id
// Lighthouse does not know gives an *APIError matching ErrNotFound.
func (c *Client) GetUploadStatus(ctx context.Context, requestID string) (*Status, error) {
	if !ValidRequestID(requestID) {
		return nil, fmt.Errorf("lighthouse: upload_status: request id is not a positive integer of int64: %w", ErrInvalidRequest)
	}
	body, err := c.do(ctx, apiCall{
		endpoint: endpointUploadStatus,
		method:   http.MethodGet,
		path:     "uploads/" + url.PathEscape(requestID) + "/status",
	})
	if err != nil {
		return nil, err
	}
	now := c.now()
	s, err := decodeOneStatus(body, now)
	if err != nil || len(s.Raw) > MaxFieldBytes {
		// As DecodeStatusResponse: repaired text, or a field cut.
		if fixed, fixes := repairText(body); fixed != nil {
			if rs, rerr := decodeOneStatus(fixed, now); rerr == nil {
				c.countRepaired(ctx, []Repaired{{RequestID: rs.RequestID, Kinds: repairKinds(fixes)}})
				return rs, nil
			}
		}
	}
	return s, err
}

// decodeOneStatus decodes the {"data": <status>} answer of GET
// /uploads/{id}/status.
func decodeOneStatus(body []byte, now time.Time) (*Status, error) {
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, malformed("upload_status: %v", err)
	}
	if len(env.Data) == 0 || string(env.Data) == "null" {
		return nil, malformed("upload_status: no data object")
	}
	s, err := decodeStatus(env.Data, now)
	if err != nil {
		return nil, malformed("upload_status: %v", err)
	}
	s.Raw = env.Data
	return &s, nil
}

// repairKinds are the kinds of fixes, each once, sorted.
func repairKinds(fixes []repair) []string {
	var kinds []string
	for _, f := range fixes {
		if !slices.Contains(kinds, f.kind) {
			kinds = append(kinds, f.kind)
		}
	}
	slices.Sort(kinds)
	return kinds
}

// countRepaired counts and logs the entries applied after repair.
func (c *Client) countRepaired(ctx context.Context, repaired []Repaired) {
	for _, r := range repaired {
		for _, k := range r.Kinds {
			c.m.repairedEntries.WithLabelValues(k).Inc()
		}
		c.log.WarnContext(ctx, "repaired a Lighthouse status entry before applying it",
			"lighthouse_document_request_id", r.RequestID, "repairs", r.Kinds)
	}
}
