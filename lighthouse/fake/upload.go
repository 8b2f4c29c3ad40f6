package fake

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
)

// maxUpload is the API's file size limit (under 150 MB).
const maxUpload = 150 << 20

const detailOneIdentifier = "Exactly one identifier, fileNumber or participantId, must be set."

// uploadParameters is the "parameters" part of POST /documents.
type uploadParameters struct {
	Data struct {
		SystemName     string  `json:"systemName"`
		DocType        string  `json:"docType"`
		ClaimID        int64   `json:"claimId"`
		ParticipantID  *string `json:"participantId"`
		FileNumber     *string `json:"fileNumber"`
		FileName       string  `json:"fileName"`
		TrackedItemIDs []int64 `json:"trackedItemIds"`
	} `json:"data"`
}

// serveUpload answers POST /documents: multipart with "parameters" (JSON)
// and "file". The file is read and counted, not kept.
func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxUpload)
	mr, err := r.MultipartReader()
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, "Request must be multipart/form-data")
		return
	}
	var params *uploadParameters
	var fileBytes int64
	gotFile := false
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeGateway(w, http.StatusRequestEntityTooLarge)
			return
		}
		if err != nil {
			writeAPIError(w, http.StatusBadRequest, "Malformed multipart body")
			return
		}
		switch part.FormName() {
		case "parameters":
			params = &uploadParameters{}
			if err := json.NewDecoder(io.LimitReader(part, 1<<20)).Decode(params); err != nil {
				writeAPIError(w, http.StatusBadRequest, "parameters is not valid JSON")
				return
			}
		case "file":
			gotFile = true
			n, err := io.Copy(io.Discard, part)
			if errors.As(err, &tooBig) {
				writeGateway(w, http.StatusRequestEntityTooLarge)
				return
			}
			if err != nil {
				writeAPIError(w, http.StatusBadRequest, "Malformed multipart body")
				return
			}
			fileBytes = n
		}
	}
	if detail := validateUpload(params, gotFile); detail != "" {
		writeAPIError(w, http.StatusBadRequest, detail)
		return
	}
	p := params.Data
	id := s.addUpload(Document{DocType: p.DocType, FileName: p.FileName, ClaimID: p.ClaimID, FileBytes: fileBytes})
	writeRawJSON(w, http.StatusOK, []byte(`{"data":{"success":true,"requestId":`+id+`}}`))
}

// validateUpload returns the 400 detail for bad parameters, "" when fine.
func validateUpload(p *uploadParameters, gotFile bool) string {
	switch {
	case p == nil:
		return "parameters part is required"
	case !gotFile:
		return "file part is required"
	case strings.TrimSpace(p.Data.SystemName) == "":
		return "systemName is required"
	case strings.TrimSpace(p.Data.DocType) == "":
		return "docType is required"
	case strings.TrimSpace(p.Data.FileName) == "":
		return "fileName is required"
	case p.Data.ClaimID <= 0:
		return "claimId is required"
	case present(p.Data.ParticipantID) == present(p.Data.FileNumber):
		return detailOneIdentifier
	}
	return ""
}

func present(s *string) bool { return s != nil && *s != "" }
