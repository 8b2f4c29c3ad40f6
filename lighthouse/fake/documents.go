package fake

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
)

// Document statuses and steps as the API names them.
const (
	StatusInProgress = "IN_PROGRESS"
	StatusSuccess    = "SUCCESS"
	StatusFailed     = "FAILED"
	StatusNotStarted = "NOT_STARTED"

	StepClaimsEvidence = "CLAIMS_EVIDENCE"
	StepBGS            = "BENEFITS_GATEWAY_SERVICE"

	// DefaultErrorDetail is the detail Lighthouse gives failed documents.
	DefaultErrorDetail = "Workflow maximum step attempts exceeded for the current step"
)

var stepDescriptions = map[string]string{
	StepClaimsEvidence: "The workflow step that uploads the document to Claims Evidence",
	StepBGS:            "The workflow step that uploads the document to Benefits Gateway Service",
}

// Document is a document the fake knows. Scripted documents (AddDocument)
// reach Outcome at Ended (zero: at once); uploaded ones move through the
// steps over simulated time.
type Document struct {
	Outcome     string         `json:"outcome"`      // SUCCESS, FAILED, IN_PROGRESS (never ends) or any other verbatim status
	FailedStep  string         `json:"failed_step"`  // FAILED: the step that failed; default CLAIMS_EVIDENCE
	CurrentStep string         `json:"current_step"` // IN_PROGRESS: the step in progress; default CLAIMS_EVIDENCE
	ErrorDetail string         `json:"error_detail"` // FAILED: default DefaultErrorDetail
	Started     time.Time      `json:"started"`      // startTime; default now
	Ended       time.Time      `json:"ended"`        // endTime of SUCCESS/FAILED; default Started
	Extra       map[string]any `json:"extra"`        // extra fields added to the status object

	// Set for uploads received by POST /documents.
	DocType   string `json:"doc_type,omitempty"`
	FileName  string `json:"file_name,omitempty"`
	ClaimID   int64  `json:"claim_id,omitempty"`
	FileBytes int64  `json:"file_bytes,omitempty"`
}

// document is a Document with the times its steps end.
type document struct {
	Document
	id       string
	ceDone   time.Time // CLAIMS_EVIDENCE ends
	bgsDone  time.Time // BENEFITS_GATEWAY_SERVICE ends
	schedule bool      // steps follow ceDone/bgsDone (uploads); scripted ones jump to Outcome

	// The last status rendered, and the view it was rendered for (read and
	// written under the server's lock).
	rendered     []byte
	renderedView statusView
}

// AddDocument registers a scripted document and returns its request id.
func (s *Server) AddDocument(d Document) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d.Started.IsZero() {
		d.Started = s.now()
	}
	if d.Ended.IsZero() {
		d.Ended = d.Started
	}
	return s.addLocked(&document{Document: d, ceDone: d.Ended, bgsDone: d.Ended})
}

// addUpload registers an uploaded document whose fate is drawn now.
func (s *Server) addUpload(d Document) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	d.Started = now
	doc := &document{schedule: true}
	doc.ceDone = now.Add(s.opts.ClaimsEvidenceDuration)
	doc.bgsDone = doc.ceDone.Add(s.opts.BGSDuration)
	switch {
	case s.rng.Float64() < s.opts.FailClaimsEvidence:
		d.Outcome, d.FailedStep = StatusFailed, StepClaimsEvidence
	case s.rng.Float64() < s.opts.FailBGS:
		d.Outcome, d.FailedStep = StatusFailed, StepBGS
	default:
		d.Outcome = StatusSuccess
	}
	doc.Document = d
	return s.addLocked(doc)
}

func (s *Server) addLocked(d *document) string {
	d.id = strconv.FormatInt(s.nextID, 10)
	s.nextID++
	s.docs[d.id] = d
	return d.id
}

// Document returns a known document by request id.
func (s *Server) Document(id string) (Document, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.docs[id]
	if !ok {
		return Document{}, false
	}
	return d.Document, true
}

// wire types of the status object, in the API's key order.
type wireStatus struct {
	RequestID json.Number `json:"requestId"`
	Time      wireTime    `json:"time"`
	Status    string      `json:"status"`
	Steps     []wireStep  `json:"steps"`
	Error     *wireError  `json:"error,omitempty"`
}

type wireTime struct {
	StartTime int64  `json:"startTime"`
	EndTime   *int64 `json:"endTime"`
}

type wireStep struct {
	Name         string `json:"name"`
	NextStepName string `json:"nextStepName,omitempty"`
	Description  string `json:"description"`
	Status       string `json:"status"`
}

type wireError struct {
	Detail string `json:"detail"`
	Step   string `json:"step"`
}

// statusView is everything a status object's bytes depend on besides the
// document's fixed fields.
type statusView struct {
	status, ce, bgs string
	hasEnd          bool // endTime is not null
	endMs           int64
	failed          string
	withError       bool
}

// view is the document's status at time now, under faults f.
func (d *document) view(now time.Time, f Faults) statusView {
	v := statusView{status: d.Outcome, ce: StatusNotStarted, bgs: StatusNotStarted}
	var end *time.Time
	switch {
	case d.Outcome == StatusInProgress:
		v.ce = StatusInProgress
		if d.CurrentStep == StepBGS {
			v.ce, v.bgs = StatusSuccess, StatusInProgress
		}
	case d.Outcome != StatusSuccess && d.Outcome != StatusFailed:
		// a status the fake does not model: sent verbatim, steps not started
	case now.Before(d.ceDone):
		v.status, v.ce = StatusInProgress, StatusInProgress
	case d.Outcome == StatusFailed && d.FailedStep != StepBGS:
		v.status, v.ce, end, v.failed = StatusFailed, StatusFailed, &d.ceDone, StepClaimsEvidence
	case now.Before(d.bgsDone):
		v.status, v.ce, v.bgs = StatusInProgress, StatusSuccess, StatusInProgress
	case d.Outcome == StatusFailed:
		v.status, v.ce, v.bgs, end, v.failed = StatusFailed, StatusSuccess, StatusFailed, &d.bgsDone, StepBGS
	default:
		v.status, v.ce, v.bgs, end = StatusSuccess, StatusSuccess, StatusSuccess, &d.bgsDone
	}
	if end != nil && !(v.status == StatusSuccess && f.SuccessWithoutEndTime) {
		v.hasEnd, v.endMs = true, end.UnixMilli()
	}
	v.withError = v.failed != "" && !f.FailedWithoutError
	return v
}

// statusJSON renders the document's status object at time now. A document
// answers the same bytes for as long as its view holds (a bench asks a
// million of them), so the last rendering is kept.
func (d *document) statusJSON(now time.Time, f Faults) []byte {
	v := d.view(now, f)
	if d.rendered != nil && d.renderedView == v {
		return d.rendered
	}
	w := wireStatus{
		RequestID: json.Number(d.id),
		Time:      wireTime{StartTime: d.Started.UnixMilli()},
		Status:    v.status,
		Steps: []wireStep{
			{Name: StepClaimsEvidence, NextStepName: StepBGS, Description: stepDescriptions[StepClaimsEvidence], Status: v.ce},
			{Name: StepBGS, Description: stepDescriptions[StepBGS], Status: v.bgs},
		},
	}
	if v.hasEnd {
		w.Time.EndTime = &v.endMs
	}
	if v.withError {
		detail := d.ErrorDetail
		if detail == "" {
			detail = DefaultErrorDetail
		}
		w.Error = &wireError{Detail: detail, Step: v.failed}
	}
	b, _ := json.Marshal(w)
	if len(d.Extra) > 0 {
		extra, err := json.Marshal(d.Extra)
		if err == nil && len(extra) > 2 {
			b = append(append(b[:len(b)-1], ','), extra[1:]...)
		}
	}
	d.rendered, d.renderedView = b, v
	return b
}

// WarmStatuses renders every document's status as it stands now, so that the
// answers that follow cost the fake no rendering (the bench warms it: the real
// Lighthouse does not render on the machine being measured).
func (s *Server) WarmStatuses() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now, f := s.now(), s.faults
	for _, d := range s.docs {
		d.statusJSON(now, f)
	}
}

// StatusJSON is the status object the fake answers for request id now, byte
// for byte as a status call sends it (a spec compares what the worker stored
// with it); false when the fake does not know the id.
func (s *Server) StatusJSON(id string) (json.RawMessage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.docs[id]
	if !ok {
		return nil, false
	}
	return bytes.Clone(d.statusJSON(s.now(), s.faults)), true
}
