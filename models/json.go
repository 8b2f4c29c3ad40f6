package models

import (
	"bytes"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"reflect"
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
func JSONEqual(a, b []byte) bool {
	// Equal bytes are equal either way; and when a is empty or invalid
	// (an upload never polled) the answer is bytes.Equal whatever b is, so b
	// is not decoded: this runs once per document polled.
	if bytes.Equal(a, b) {
		return true
	}
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
