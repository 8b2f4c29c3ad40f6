package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// errorsBody is a 400: the problems by field ("body" for the whole body).
type errorsBody struct {
	Errors map[string]string `json:"errors"`
}

// errorBody is any other refusal.
func errorBody(msg string) map[string]string { return map[string]string{"error": msg} }

// decodeJSON reads the JSON object of the request into v, strictly: unknown
// fields are refused, so a caller's typo never passes silently. It returns
// status 0 when v is filled, else the answer to send.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) (int, any) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return http.StatusUnsupportedMediaType, errorBody("send the body as application/json")
		}
	}
	if r.ContentLength > MaxBodyBytes {
		return http.StatusRequestEntityTooLarge, errorBody(fmt.Sprintf("the body is larger than %d bytes", MaxBodyBytes))
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if extra := dec.Decode(&json.RawMessage{}); !errors.Is(extra, io.EOF) {
			err = extra
			if err == nil {
				err = errors.New("trailing data after the JSON object")
			}
		}
	}
	if err == nil {
		return 0, nil
	}
	var (
		tooBig    *http.MaxBytesError
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge, errorBody(fmt.Sprintf("the body is larger than %d bytes", MaxBodyBytes))
	case errors.Is(err, io.EOF):
		return http.StatusBadRequest, errorsBody{Errors: map[string]string{"body": "is required: a JSON object"}}
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return http.StatusBadRequest, errorsBody{Errors: map[string]string{"body": "is not valid JSON"}}
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return http.StatusBadRequest, errorsBody{Errors: map[string]string{typeErr.Field: "must be " + kind(typeErr.Type.String())}}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return http.StatusBadRequest, errorsBody{Errors: map[string]string{name: "is not a known field"}}
	}
	return http.StatusBadRequest, errorsBody{Errors: map[string]string{"body": "must be one JSON object"}}
}

func kind(goType string) string {
	switch strings.TrimLeft(goType, "*[]") {
	case "string":
		if strings.HasPrefix(goType, "[]") {
			return "a list of strings"
		}
		return "a string"
	case "int64", "int":
		return "a whole number"
	}
	return "of another type"
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
