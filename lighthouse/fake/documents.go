package fake

import (
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

// statusJSON renders the document's status object at time now.
func (d *document) statusJSON(now time.Time, f Faults) []byte {
	ce, bgs, status := StatusNotStarted, StatusNotStarted, d.Outcome
	var end *time.Time
	failed := ""
	switch {
	case d.Outcome == StatusInProgress:
		ce = StatusInProgress
		if d.CurrentStep == StepBGS {
			ce, bgs = StatusSuccess, StatusInProgress
		}
	case d.Outcome != StatusSuccess && d.Outcome != StatusFailed:
		// a status the fake does not model: sent verbatim, steps not started
	case now.Before(d.ceDone):
		status, ce = StatusInProgress, StatusInProgress
	case d.Outcome == StatusFailed && d.FailedStep != StepBGS:
		status, ce, end, failed = StatusFailed, StatusFailed, &d.ceDone, StepClaimsEvidence
	case now.Before(d.bgsDone):
		status, ce, bgs = StatusInProgress, StatusSuccess, StatusInProgress
	case d.Outcome == StatusFailed:
		status, ce, bgs, end, failed = StatusFailed, StatusSuccess, StatusFailed, &d.bgsDone, StepBGS
	default:
		status, ce, bgs, end = StatusSuccess, StatusSuccess, StatusSuccess, &d.bgsDone
	}
	w := wireStatus{
		RequestID: json.Number(d.id),
		Time:      wireTime{StartTime: d.Started.UnixMilli()},
		Status:    status,
		Steps: []wireStep{
			{Name: StepClaimsEvidence, NextStepName: StepBGS, Description: stepDescriptions[StepClaimsEvidence], Status: ce},
			{Name: StepBGS, Description: stepDescriptions[StepBGS], Status: bgs},
		},
	}
	if end != nil && !(status == StatusSuccess && f.SuccessWithoutEndTime) {
		ms := end.UnixMilli()
		w.Time.EndTime = &ms
	}
	if failed != "" && !f.FailedWithoutError {
		detail := d.ErrorDetail
		if detail == "" {
			detail = DefaultErrorDetail
		}
		w.Error = &wireError{Detail: detail, Step: failed}
	}
	b, _ := json.Marshal(w)
	if len(d.Extra) > 0 {
		extra, err := json.Marshal(d.Extra)
		if err == nil && len(extra) > 2 {
			b = append(append(b[:len(b)-1], ','), extra[1:]...)
		}
	}
	return b
}
