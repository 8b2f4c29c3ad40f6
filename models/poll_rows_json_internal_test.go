package models

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// The hand-written encoder of the batch document must give the values
// encoding/json gives, or the bulk write would store something else.
func TestMarshalPollRowsMatchesEncodingJSON(t *testing.T) {
	started := time.Date(2024, 6, 20, 16, 20, 51, 0, time.UTC)
	ended := started.Add(90*time.Minute + 123*time.Millisecond)
	kind := "form526:form0781_upload_failure_email"
	rows := []pollRow{
		{PollResult: PollResult{ID: 1, NewState: StatePending, Unknown: true}},
		{PollResult: PollResult{ID: 2, NewState: StateCompleted, SaveStatus: true, StartedAt: &started, EndedAt: &ended,
			LastStatusResponse: JSON(`{"requestId":22,"status":"SUCCESS","note":"<a&b> \"q\" \u00e9"}`)}},
		{PollResult: PollResult{ID: 3, NewState: "odd \"state\"\n\u00e9", SaveStatus: true, StartedAt: &started, EndedAt: &ended,
			ErrorMessage: JSON(`{"detail":"x","step":"CLAIMS_EVIDENCE"}`)},
			NotificationType: &kind, NotificationPayload: JSON(`{"form526_submission_id":7}`)},
	}
	got, err := marshalPollRows(rows)
	if err != nil {
		t.Fatal(err)
	}
	want, err := json.Marshal(rows)
	if err != nil {
		t.Fatal(err)
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("values differ:\n got %s\nwant %s", got, want)
	}
}
