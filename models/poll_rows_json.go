package models

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// marshalPollRows encodes rows as encoding/json would (same keys, same
// values), without reflection and without re-validating and compacting the
// raw JSON values, which encoding/json does for every json.Marshaler: the
// status documents are most of the bytes, and they were validated when the
// Lighthouse answer was decoded. PostgreSQL parses the result as jsonb, so a
// document that is not JSON still fails the statement.
func marshalPollRows(rows []pollRow) ([]byte, error) {
	size := 2
	for i := range rows {
		size += 320 + len(rows[i].ErrorMessage) + len(rows[i].LastStatusResponse) + len(rows[i].NotificationPayload)
	}
	b := make([]byte, 0, size)
	b = append(b, '[')
	for i := range rows {
		r := &rows[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = strconv.AppendInt(b, r.ID, 10)
		b = append(b, `,"new_state":`...)
		b = appendString(b, r.NewState)
		b = append(b, `,"save_status":`...)
		b = strconv.AppendBool(b, r.SaveStatus)
		var err error
		b = append(b, `,"started_at":`...)
		if b, err = appendTime(b, r.StartedAt); err != nil {
			return nil, err
		}
		b = append(b, `,"ended_at":`...)
		if b, err = appendTime(b, r.EndedAt); err != nil {
			return nil, err
		}
		b = append(b, `,"error_message":`...)
		b = appendRaw(b, r.ErrorMessage)
		b = append(b, `,"last_status_response":`...)
		b = appendRaw(b, r.LastStatusResponse)
		b = append(b, `,"unknown":`...)
		b = strconv.AppendBool(b, r.Unknown)
		b = append(b, `,"notification_type":`...)
		if r.NotificationType == nil {
			b = append(b, "null"...)
		} else {
			b = appendString(b, *r.NotificationType)
		}
		b = append(b, `,"notification_payload":`...)
		b = appendRaw(b, r.NotificationPayload)
		b = append(b, '}')
	}
	return append(b, ']'), nil
}

// appendString appends s as a JSON string; only plain ASCII is copied as is.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendTime appends t as time.Time's MarshalJSON does (RFC 3339, nanoseconds
// when present), or null.
func appendTime(b []byte, t *time.Time) ([]byte, error) {
	if t == nil {
		return append(b, "null"...), nil
	}
	if y := t.Year(); y < 0 || y > 9999 {
		return nil, fmt.Errorf("models: encode poll results: year %d outside of [0,9999]", y)
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), nil
}

// appendRaw appends a raw JSON value, or null when empty (JSON.MarshalJSON).
func appendRaw(b []byte, j JSON) []byte {
	if len(j) == 0 {
		return append(b, "null"...)
	}
	return append(b, j...)
}
