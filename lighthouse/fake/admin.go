package fake

import (
	"encoding/json"
	"net/http"
)

// serveAdmin serves the /_fake/ endpoints listed in the package doc.
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	switch r.Method + " " + r.URL.Path {
	case "GET /_fake/requests":
		writeJSON(w, http.StatusOK, s.Requests())
	case "DELETE /_fake/requests":
		s.ResetRequests()
		w.WriteHeader(http.StatusNoContent)
	case "GET /_fake/faults":
		writeJSON(w, http.StatusOK, s.currentFaults())
	case "PUT /_fake/faults":
		var f Faults
		if !decodeAdmin(w, r, &f) {
			return
		}
		s.SetFaults(f)
		writeJSON(w, http.StatusOK, f)
	case "POST /_fake/documents":
		var d Document
		if !decodeAdmin(w, r, &d) {
			return
		}
		writeJSON(w, http.StatusCreated, map[string]string{"request_id": s.AddDocument(d)})
	case "POST /_fake/expire-tokens":
		s.ExpireTokens()
		w.WriteHeader(http.StatusNoContent)
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "no such admin endpoint"})
	}
}

func decodeAdmin(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": err.Error()})
		return false
	}
	return true
}
