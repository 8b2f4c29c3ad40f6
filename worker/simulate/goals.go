package simulate

import "fmt"

// Goal is one of issue 17's goals for the adaptive strategy, and whether
// this run met it.
type Goal struct {
	Name   string `json:"name"`
	Met    bool   `json:"met"`
	Detail string `json:"detail"`
}

// The goals' thresholds (issue 17): detection latency in minutes.
const (
	GoalMedianMinutes = 10
	GoalP90Minutes    = 60
)

func goals(fixed, adaptive *StrategyResult, budget int) []Goal {
	return []Goal{
		{
			Name:   fmt.Sprintf("median detection latency ≤ %d min", GoalMedianMinutes),
			Met:    adaptive.LatencyP50 <= GoalMedianMinutes,
			Detail: fmt.Sprintf("%.1f min (fixed %.1f)", adaptive.LatencyP50, fixed.LatencyP50),
		},
		{
			Name:   fmt.Sprintf("p90 detection latency ≤ %d min", GoalP90Minutes),
			Met:    adaptive.LatencyP90 <= GoalP90Minutes,
			Detail: fmt.Sprintf("%.1f min (fixed %.1f)", adaptive.LatencyP90, fixed.LatencyP90),
		},
		{
			Name:   "calls ≤ fixed's",
			Met:    adaptive.Calls <= fixed.Calls,
			Detail: fmt.Sprintf("%s a day against %s", Thousands(adaptive.CallsPerDay), Thousands(fixed.CallsPerDay)),
		},
		{
			Name:   fmt.Sprintf("peak calls a minute ≤ budget (%d)", budget),
			Met:    adaptive.PeakCallsPerMinute <= budget,
			Detail: fmt.Sprintf("%d", adaptive.PeakCallsPerMinute),
		},
		{
			Name:   "never-finishing uploads polled at least daily",
			Met:    adaptive.NeverFinishing == 0 || adaptive.NeverPolledDaily == 1,
			Detail: fmt.Sprintf("%s of %s; longest wait %s", percent(adaptive.NeverPolledDaily), Thousands(float64(adaptive.NeverFinishing)), minutesText(adaptive.NeverLongestGap)),
		},
	}
}

// Met says whether every goal was met.
func (r *Result) Met() bool {
	for _, g := range r.Goals {
		if !g.Met {
			return false
		}
	}
	return true
}
