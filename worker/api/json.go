package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// errorsBody is a 400: the problems by field ("body" for the whole body).
type errorsBody struct {
	Errors map[string]string `json:"errors"`
}

// errorBody is any other refusal.
func errorBody(msg string) map[string]string { return map[string]string{"error": msg} }

// decodeJSON reads the JSON object of the request into v, strictly, with the
// JSON v2 decoder: member names match the struct's tags exactly (encoding/json
// would take "REQUEST_IDS" for "request_ids"), a name given twice, an unknown
// name, invalid UTF-8 and anything after the object are refused, so a
// caller's typo or a smuggled second value never passes silently. It returns
// the body's bytes and status 0 when v is filled, else the answer to send.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) ([]byte, int, any) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return nil, http.StatusUnsupportedMediaType, errorBody("send the body as application/json")
		}
	}
	if r.ContentLength > MaxBodyBytes {
		return nil, http.StatusRequestEntityTooLarge, errorBody(fmt.Sprintf("the body is larger than %d bytes", MaxBodyBytes))
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, http.StatusRequestEntityTooLarge, errorBody(fmt.Sprintf("the body is larger than %d bytes", MaxBodyBytes))
	case err != nil:
		return nil, http.StatusBadRequest, fieldError("body", "could not be read")
	case len(bytes.TrimSpace(body)) == 0:
		return nil, http.StatusBadRequest, fieldError("body", "is required: a JSON object")
	}
	dec := jsontext.NewDecoder(bytes.NewReader(body))
	if err := jsonv2.UnmarshalDecode(dec, v, jsonv2.RejectUnknownMembers(true)); err != nil {
		return nil, http.StatusBadRequest, decodeProblem(err)
	}
	if _, err := dec.ReadToken(); !errors.Is(err, io.EOF) {
		return nil, http.StatusBadRequest, fieldError("body", "must be one JSON object")
	}
	return body, 0, nil
}

// decodeProblem names the field a decoding error is about, and why.
func decodeProblem(err error) errorsBody {
	var (
		syn *jsontext.SyntacticError
		sem *jsonv2.SemanticError
	)
	switch {
	case errors.As(err, &syn) && errors.Is(syn.Err, jsontext.ErrDuplicateName):
		return fieldError(topField(syn.JSONPointer), "is given more than once")
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
		return fieldError("body", "is not valid JSON")
	case errors.As(err, &sem) && errors.Is(sem.Err, jsonv2.ErrUnknownName):
		return fieldError(topField(sem.JSONPointer), "is not a known field (names are matched exactly)")
	case errors.As(err, &sem) && sem.JSONPointer != "":
		return fieldError(topField(sem.JSONPointer), "must be "+kind(sem.GoType))
	case errors.As(err, &sem):
		return fieldError("body", "must be a JSON object")
	}
	return fieldError("body", "must be one JSON object")
}

// topField is the member of the body a JSON pointer is in ("/request_ids/3"
// is in request_ids).
func topField(p jsontext.Pointer) string {
	for tok := range p.Tokens() {
		return tok
	}
	return "body"
}

func fieldError(field, msg string) errorsBody {
	return errorsBody{Errors: map[string]string{field: msg}}
}

func kind(t reflect.Type) string {
	if t == nil {
		return "of another type"
	}
	list := false
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		list = list || t.Kind() == reflect.Slice
		t = t.Elem()
	}
	switch {
	case t.Kind() == reflect.String && list:
		return "a list of strings"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Int64 || t.Kind() == reflect.Int:
		return "a whole number"
	}
	return "of another type"
}

// positiveIDs names every id member the body gives as zero or negative:
// "form526_submission_id": 0 is an invalid id, not a missing one.
func positiveIDs(body []byte, fields ...string) map[string]string {
	var given map[string]jsontext.Value
	if jsonv2.Unmarshal(body, &given) != nil {
		return nil
	}
	problems := map[string]string{}
	for _, f := range fields {
		raw, ok := given[f]
		if !ok || raw.Kind() != '0' {
			continue
		}
		if s := strings.TrimSpace(string(raw)); s == "0" || strings.HasPrefix(s, "-") {
			problems[f] = "must be a positive id"
		}
	}
	return problems
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
