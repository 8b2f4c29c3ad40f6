package simulate

import "fmt"

// Goal is one of issue 17's goals for the adaptive strategy, and whether
// this run met it.
type Goal struct {
	Name   string `json:"name"`
	Met    bool   `json:"met"`
	Detail string `json:"detail"`
}

// The goals' thresholds: detection latency in minutes.
const (
	goalMedianMinutes = 10
	goalP90Minutes    = 60
)

func goals(fixed, adaptive *StrategyResult, budget int) []Goal {
	return []Goal{
		{
			Name:   fmt.Sprintf("median detection latency ≤ %d min", goalMedianMinutes),
			Met:    adaptive.LatencyP50 <= goalMedianMinutes,
			Detail: fmt.Sprintf("%.1f min (fixed %.1f)", adaptive.LatencyP50, fixed.LatencyP50),
		},
		{
			Name:   fmt.Sprintf("p90 detection latency ≤ %d min", goalP90Minutes),
			Met:    adaptive.LatencyP90 <= goalP90Minutes,
			Detail: fmt.Sprintf("%.1f min (fixed %.1f)", adaptive.LatencyP90, fixed.LatencyP90),
		},
		{
			Name:   "calls ≤ fixed's",
			Met:    adaptive.Calls <= fixed.Calls,
			Detail: fmt.Sprintf("%s a day against %s", thousands(adaptive.CallsPerDay), thousands(fixed.CallsPerDay)),
		},
		{
			Name:   fmt.Sprintf("peak calls a minute ≤ budget (%d)", budget),
			Met:    adaptive.PeakCallsPerMinute <= budget,
			Detail: fmt.Sprintf("%d", adaptive.PeakCallsPerMinute),
		},
		{
			Name:   "never-finishing uploads polled at least daily",
			Met:    adaptive.NeverFinishing == 0 || adaptive.NeverPolledDaily == 1,
			Detail: fmt.Sprintf("%s of %s; longest wait %s", percent(adaptive.NeverPolledDaily), thousands(float64(adaptive.NeverFinishing)), minutesText(adaptive.NeverLongestGap)),
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
