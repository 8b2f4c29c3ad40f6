package fake

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// serveAPI runs the checks every API call goes through, then the route.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, rec *Request) {
	path := strings.TrimPrefix(r.URL.Path, APIPrefix)
	endpoint, id := route(r.Method, path)
	if endpoint == "" {
		writeGateway(w, http.StatusNotFound)
		return
	}
	// Status ids are read first so that every answer, faults included, is
	// recorded with the ids it was asked.
	var ids []string
	var badIDs string
	switch endpoint {
	case "uploads_status":
		ids, rec.RequestIDs, badIDs = readIDs(w, r, s.opts.MaxRequestID)
	case "upload_status":
		rec.RequestIDs = []string{id}
	}
	var bodyFault *Fault
	if f, ok := s.takeNext(endpoint); ok {
		if f.Status < 200 || f.Status > 299 {
			answerFault(w, r, f)
			return
		}
		bodyFault = &f
	}
	faults := s.currentFaults()
	if s.chance(faults.SlowRate) && !sleepCtx(r, faults.SlowDelay) {
		return
	}
	if endpoint == "uploads_status" && faults.MaxRequestIDs > 0 && len(ids) > faults.MaxRequestIDs {
		writeGateway(w, http.StatusRequestEntityTooLarge)
		return
	}
	if faults.RateLimitStorm {
		s.rateHeaders(w, true)
		writeGateway(w, http.StatusTooManyRequests)
		return
	}
	if !s.authorized(r) {
		writeGateway(w, http.StatusUnauthorized)
		return
	}
	if !s.rateHeaders(w, false) {
		writeGateway(w, http.StatusTooManyRequests)
		return
	}
	if s.chance(faults.ErrorRate) {
		shapes := faults.ErrorShapes
		if len(shapes) == 0 {
			shapes = []string{ShapeAPI, ShapeGateway, ShapeFramework, ShapeHTML, ShapeEmpty}
		}
		codes := faults.StatusCodes
		if len(codes) == 0 {
			codes = []int{500, 502, 503, 504}
		}
		writeShape(w, codes[s.pick(len(codes))], shapes[s.pick(len(shapes))])
		return
	}
	switch endpoint {
	case "uploads_status":
		if badIDs != "" {
			writeAPIError(w, http.StatusBadRequest, badIDs)
			return
		}
		s.serveStatuses(w, ids, faults, bodyFault)
	case "upload_status":
		s.serveStatus(w, id, faults, bodyFault)
	case "documents":
		s.serveUpload(w, r)
	}
}

// route names the endpoint of an API path ("" = no route) and the id in it.
func route(method, path string) (endpoint, id string) {
	switch {
	case method == http.MethodPost && path == "/uploads/status":
		return "uploads_status", ""
	case method == http.MethodPost && path == "/documents":
		return "documents", ""
	case method == http.MethodGet && strings.HasPrefix(path, "/uploads/") && strings.HasSuffix(path, "/status"):
		id = strings.TrimSuffix(strings.TrimPrefix(path, "/uploads/"), "/status")
		if id != "" && !strings.Contains(id, "/") {
			return "upload_status", id
		}
	}
	return "", ""
}

// rateHeaders counts the call in the current minute (unless storm) and sets
// the rate-limit headers; false when the call is over the limit.
func (s *Server) rateHeaders(w http.ResponseWriter, storm bool) bool {
	limit := s.opts.RateLimitPerMinute
	now := s.now()
	s.mu.Lock()
	if win := now.Truncate(time.Minute); !win.Equal(s.window) {
		s.window, s.inWindow = win, 0
	}
	allowed := !storm && (limit == 0 || s.inWindow < limit)
	if allowed {
		s.inWindow++
	}
	remaining := max(limit-s.inWindow, 0)
	reset := int((s.window.Add(time.Minute).Sub(now) + time.Second - 1) / time.Second)
	s.mu.Unlock()
	if limit == 0 && !storm {
		return true
	}
	if storm {
		remaining = 0
	}
	h := w.Header()
	h.Set("X-RateLimit-Limit-Minute", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining-Minute", strconv.Itoa(remaining))
	h.Set("RateLimit-Limit", strconv.Itoa(limit))
	h.Set("RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("RateLimit-Reset", strconv.Itoa(max(reset, 1)))
	return allowed
}

// readIDs reads the ids of a POST /uploads/status body: the ids as numbers'
// decimal strings, the ids as sent (for the request log, whatever they are),
// and the 400 detail when the body is not right. One id that is not an
// integer, or past maxID (0: int64's largest), refuses the whole call, as the
// real API does.
func readIDs(w http.ResponseWriter, r *http.Request, maxID int64) (ids, sent []string, detail string) {
	var req struct {
		Data struct {
			RequestIDs []json.RawMessage `json:"requestIds"`
		} `json:"data"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		return nil, nil, "Request body is not valid JSON"
	}
	ids = make([]string, 0, len(req.Data.RequestIDs))
	sent = make([]string, 0, len(req.Data.RequestIDs))
	for _, raw := range req.Data.RequestIDs {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			s = string(raw)
		}
		sent = append(sent, s)
		id, ok := parseID(raw, maxID)
		if !ok {
			detail = "requestIds must be integers"
			continue
		}
		ids = append(ids, id)
	}
	switch {
	case detail != "":
		return nil, sent, detail
	case len(ids) == 0:
		return nil, sent, "requestIds must not be empty"
	}
	return ids, sent, ""
}

// serveStatuses answers POST /uploads/status.
func (s *Server) serveStatuses(w http.ResponseWriter, ids []string, f Faults, bodyFault *Fault) {
	now := s.now()
	var statuses []json.RawMessage
	var notFound []json.Number
	s.mu.Lock()
	for _, id := range ids {
		d, ok := s.docs[id]
		if !ok {
			notFound = append(notFound, json.Number(id))
			continue
		}
		st := d.statusJSON(now, f)
		statuses = append(statuses, st)
		if f.DuplicateEntries {
			statuses = append(statuses, st)
		}
	}
	s.mu.Unlock()
	if len(statuses) == 0 {
		writeAPIError(w, http.StatusNotFound, "Upload Request Async Status Not Found")
		return
	}
	if f.HostileRate > 0 {
		statuses = s.makeHostile(statuses, f)
	}
	for i := range f.ExtraUnaskedIDs {
		ghost := &document{Document: Document{Outcome: StatusSuccess, Started: now}, id: strconv.Itoa(900000 + i), ceDone: now, bgsDone: now}
		statuses = append(statuses, ghost.statusJSON(now, f))
	}
	buf := bodyBuffers.Get().(*[]byte)
	*buf = statusesBody((*buf)[:0], statuses, notFound)
	writeRawJSON(w, http.StatusOK, s.alterBody(bodyFault, *buf))
	bodyBuffers.Put(buf)
}

// bodyBuffers keep status answers' buffers between calls: a bench's answers
// are over half a megabyte each.
var bodyBuffers = sync.Pool{New: func() any { return new([]byte) }}

// statusesBody assembles {"data":{"statuses":[...],"requestIdsNotFound":[...]}}
// from the rendered status objects as they are: a bench's thousand-status
// answer must not cost the fake a re-validation of every object.
func statusesBody(b []byte, statuses []json.RawMessage, notFound []json.Number) []byte {
	n := 64
	for _, st := range statuses {
		n += len(st) + 1
	}
	for _, id := range notFound {
		n += len(id) + 1
	}
	b = slices.Grow(b[:0], n)
	b = append(b, `{"data":{"statuses":[`...)
	for i, st := range statuses {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, st...)
	}
	b = append(b, ']')
	if len(notFound) > 0 {
		b = append(b, `,"requestIdsNotFound":[`...)
		for i, id := range notFound {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, id...)
		}
		b = append(b, ']')
	}
	return append(b, `}}`...)
}

// serveStatus answers GET /uploads/{id}/status.
func (s *Server) serveStatus(w http.ResponseWriter, id string, f Faults, bodyFault *Fault) {
	s.mu.Lock()
	d, ok := s.docs[id]
	var st []byte
	if ok {
		st = d.statusJSON(s.now(), f)
	}
	s.mu.Unlock()
	if !ok {
		writeAPIError(w, http.StatusNotFound, "Upload Request Async Status Not Found")
		return
	}
	b, _ := json.Marshal(map[string]json.RawMessage{"data": st})
	writeRawJSON(w, http.StatusOK, s.alterBody(bodyFault, b))
}

// parseID accepts an id as a JSON integer or a string of digits, up to maxID
// (0: int64's largest).
func parseID(raw json.RawMessage, maxID int64) (string, bool) {
	var s string
	if len(raw) > 0 && raw[0] == '"' {
		if json.Unmarshal(raw, &s) != nil {
			return "", false
		}
	} else {
		s = string(raw)
	}
	n, err := strconv.ParseUint(s, 10, 63)
	if err != nil || (maxID > 0 && n > uint64(maxID)) {
		return "", false
	}
	return strconv.FormatUint(n, 10), true
}
