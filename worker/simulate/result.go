package simulate

import (
	"math"
	"slices"
	"time"

	"github.com/vagov/lighthouse526/config"
)

// Result is a run's figures for both strategies.
type Result struct {
	Options    Options          `json:"-"`
	Uploads    int              `json:"uploads"`
	Strategies []StrategyResult `json:"strategies"` // fixed, then adaptive
	Goals      []Goal           `json:"goals"`
}

// Fixed and Adaptive are the two strategies' figures.
func (r *Result) Fixed() *StrategyResult    { return &r.Strategies[0] }
func (r *Result) Adaptive() *StrategyResult { return &r.Strategies[1] }

// StrategyResult is one strategy's figures over the measured days. Times are
// in minutes.
type StrategyResult struct {
	Strategy config.Strategy `json:"strategy"`
	// Detection latency: from Lighthouse's end time to the worker's
	// transition, of every upload Lighthouse ended within the window.
	Finished   int     `json:"finished"`
	Undetected int     `json:"undetected"`
	LatencyP50 float64 `json:"latency_p50_minutes"`
	LatencyP90 float64 `json:"latency_p90_minutes"`
	LatencyP99 float64 `json:"latency_p99_minutes"`
	LatencyMax float64 `json:"latency_max_minutes"`

	Calls              int     `json:"calls"`
	CallsPerDay        float64 `json:"calls_per_day"`
	PeakCallsPerMinute int     `json:"peak_calls_per_minute"`
	// IDsPerCall is how full the calls were: polls over calls.
	IDsPerCall float64 `json:"ids_per_call"`
	// Polls per upload, from its creation to its transition, of the uploads
	// that finished within the window.
	PollsPerUploadMean float64 `json:"polls_per_upload_mean"`
	PollsPerUploadP99  int     `json:"polls_per_upload_p99"`

	// The oldest upload still pending at the window's end: its age and the
	// time between its last two polls.
	OldestPendingAge      float64 `json:"oldest_pending_age_minutes"`
	OldestPendingInterval float64 `json:"oldest_pending_interval_minutes"`
	// The never-finishing uploads pending at the window's end: how many, the
	// share polled at least daily within the window, and the longest wait
	// between two polls of any of them.
	NeverFinishing   int     `json:"never_finishing"`
	NeverPolledDaily float64 `json:"never_finishing_polled_daily_share"`
	NeverLongestGap  float64 `json:"never_finishing_longest_gap_minutes"`
	CallsPerHour     []int   `json:"calls_per_hour"`
	latencies        []float64
}

// Latencies are the detection latencies in minutes, sorted.
func (s *StrategyResult) Latencies() []float64 { return s.latencies }

func (e *engine) result() StrategyResult {
	r := StrategyResult{Strategy: e.strategy}
	var polls []int
	for i := range e.ups {
		u, s := &e.ups[i], &e.st[i]
		if !u.Finishes() || u.Ended.Before(e.start) || !u.Ended.Before(e.end) {
			continue
		}
		r.Finished++
		if !s.done {
			r.Undetected++
			continue
		}
		r.latencies = append(r.latencies, minutes(s.detected.Sub(u.Ended)))
		polls = append(polls, int(s.polls))
	}
	slices.Sort(r.latencies)
	slices.Sort(polls)
	r.LatencyP50 = percentile(r.latencies, 0.50)
	r.LatencyP90 = percentile(r.latencies, 0.90)
	r.LatencyP99 = percentile(r.latencies, 0.99)
	if n := len(r.latencies); n > 0 {
		r.LatencyMax = r.latencies[n-1]
	}
	var sum int
	for _, p := range polls {
		sum += p
	}
	if len(polls) > 0 {
		r.PollsPerUploadMean = float64(sum) / float64(len(polls))
		r.PollsPerUploadP99 = polls[rank(len(polls), 0.99)]
	}

	r.CallsPerHour = make([]int, (len(e.calls)+59)/60)
	for m, c := range e.calls {
		r.Calls += c
		r.CallsPerHour[m/60] += c
		r.PeakCallsPerMinute = max(r.PeakCallsPerMinute, c)
	}
	r.CallsPerDay = float64(r.Calls) / float64(e.o.Days)
	if r.Calls > 0 {
		r.IDsPerCall = float64(e.windowPolls) / float64(r.Calls)
	}

	if s := e.snap; s != nil {
		r.OldestPendingAge = minutes(s.oldestAge)
		r.OldestPendingInterval = minutes(s.oldestInterval)
		r.NeverFinishing = s.never
		if s.never > 0 {
			r.NeverPolledDaily = float64(s.neverDaily) / float64(s.never)
		}
		r.NeverLongestGap = minutes(s.longestNeverGap)
	}
	return r
}

func minutes(d time.Duration) float64 { return d.Minutes() }

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	return sorted[rank(len(sorted), p)]
}

func rank(n int, p float64) int {
	return min(max(int(math.Ceil(p*float64(n)))-1, 0), n-1)
}
