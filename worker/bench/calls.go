package bench

import (
	"net/http"
	"time"

	"github.com/vagov/lighthouse526/lighthouse/fake"
)

// Calls is what the fake's request log says about the run.
type Calls struct {
	// StatusCalls is every POST /uploads/status, whatever its answer.
	StatusCalls int `json:"status_calls"`
	// TooMany is every API answer 429.
	TooMany int `json:"too_many_requests"`
	// TokenCalls is every call of the token endpoint.
	TokenCalls int `json:"token_calls"`
	// Rate-limited mode only: calls answered 200 per minute between the first
	// and the last of them, as a fraction of the limit, and the most calls
	// the fake counted in one of its calendar-minute windows.
	PerMinute        float64 `json:"per_minute,omitempty"`
	FractionOfLimit  float64 `json:"fraction_of_limit,omitempty"`
	MaxInOneMinute   int     `json:"max_in_one_minute,omitempty"`
	FirstToLastSecs  float64 `json:"first_to_last_seconds,omitempty"`
	LimitPerMinute   int     `json:"limit_per_minute,omitempty"`
	AnsweredOK       int     `json:"answered_ok"`
	OtherErrorStatus int     `json:"other_error_status"`
}

// countCalls reads the request log.
func countCalls(reqs []fake.Request, limit int) Calls {
	var c Calls
	var first, last time.Time
	perWindow := map[time.Time]int{}
	for _, r := range reqs {
		switch {
		case r.Path == fake.TokenPath:
			c.TokenCalls++
			continue
		case r.StatusCode == http.StatusTooManyRequests:
			c.TooMany++
		}
		if r.Path != fake.APIPrefix+"/uploads/status" {
			continue
		}
		c.StatusCalls++
		switch {
		case r.StatusCode == http.StatusOK:
			c.AnsweredOK++
			if first.IsZero() || r.At.Before(first) {
				first = r.At
			}
			if r.At.After(last) {
				last = r.At
			}
			perWindow[r.At.Truncate(time.Minute)]++
		case r.StatusCode != http.StatusTooManyRequests:
			c.OtherErrorStatus++
		}
	}
	if limit > 0 {
		c.LimitPerMinute = limit
		for _, n := range perWindow {
			c.MaxInOneMinute = max(c.MaxInOneMinute, n)
		}
		if span := last.Sub(first); c.AnsweredOK > 1 && span > 0 {
			c.FirstToLastSecs = span.Seconds()
			// n calls spaced evenly over span: n-1 intervals.
			c.PerMinute = float64(c.AnsweredOK-1) / span.Minutes()
			c.FractionOfLimit = c.PerMinute / float64(limit)
		}
	}
	return c
}
