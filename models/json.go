package models

import (
	"bytes"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/go-json-experiment/json/jsontext"
)

// JSON is a jsonb column: raw JSON in Go, NULL when empty.
type JSON json.RawMessage

// Value stores the JSON, or NULL.
func (j JSON) Value() (driver.Value, error) {
	if len(j) == 0 {
		return nil, nil
	}
	return string(j), nil
}

// Scan reads a jsonb value.
func (j *JSON) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*j = nil
	case []byte:
		*j = append((*j)[:0], v...)
	case string:
		*j = JSON(v)
	default:
		return fmt.Errorf("models: cannot scan %T into JSON", src)
	}
	return nil
}

// MarshalJSON emits the raw value (null when empty).
func (j JSON) MarshalJSON() ([]byte, error) {
	if len(j) == 0 {
		return []byte("null"), nil
	}
	return j, nil
}

// UnmarshalJSON keeps the raw value.
func (j *JSON) UnmarshalJSON(b []byte) error {
	*j = append((*j)[:0], b...)
	return nil
}

// GormDataType makes GORM treat the column as jsonb.
func (JSON) GormDataType() string { return "jsonb" }

// JSONEqual compares two JSON documents as values, not as bytes: key order and
// white space do not matter, and numbers are compared exactly. Invalid or empty
// documents are equal only to the same bytes.
//
// It runs for every upload polled again while in progress (the stored status,
// as jsonb rewrote it, against the one just received), so it compares the
// RFC 8785 canonical forms of both, several times faster than decoding both
// into maps (BenchmarkJSONEqual). Canonical numbers are
// float64s, so a document with a number of 16 or more digits, which float64
// may not hold exactly, is decoded and compared the slow, exact way.
func JSONEqual(a, b []byte) bool {
	// Equal bytes are equal either way; an empty document (an upload never
	// polled) equals nothing else, and answering that without copying the
	// other one matters: it is every upload's first poll.
	if bytes.Equal(a, b) {
		return true
	}
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	if hasLongNumber(a) || hasLongNumber(b) {
		return exactEqual(a, b)
	}
	ca, cb := jsontext.Value(bytes.Clone(a)), jsontext.Value(bytes.Clone(b))
	if ca.Canonicalize() != nil || cb.Canonicalize() != nil {
		return false
	}
	return bytes.Equal(ca, cb)
}

// hasLongNumber reports whether b holds 16 or more digits in a row, a
// decimal point not breaking the row (in a number or not: a false alarm only
// costs the exact comparison).
func hasLongNumber(b []byte) bool {
	digits := 0
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			if digits++; digits >= 16 {
				return true
			}
		case c != '.':
			digits = 0
		}
	}
	return false
}

// exactEqual decodes both documents, keeping numbers as their text.
func exactEqual(a, b []byte) bool {
	va, erra := decodeExact(a)
	if erra != nil {
		return false
	}
	vb, errb := decodeExact(b)
	if errb != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

func decodeExact(b []byte) (any, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, fmt.Errorf("empty")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}
