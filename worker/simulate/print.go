package simulate

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/vagov/lighthouse526/config"
)

// WriteText prints the run's workload, policy, figures side by side and
// goals.
func WriteText(w io.Writer, r *Result) error {
	o := &r.Options
	fx, ad := r.Fixed(), r.Adaptive()
	p := &printer{w: w}
	p.f("simulated %d days after a %s warm-up (not measured), seed %d\n", o.Days, ShortDuration(o.Warmup), o.Seed)
	p.f("arrivals:   %s uploads in all, %s a day on average, weekday business-hours peak (Eastern)\n", Thousands(float64(r.Uploads)), Thousands(o.PerDay))
	p.f("processing: %s\n", o.Processing.Describe())
	p.f("policy:     budget %d calls/min, batch size %d; fixed: every %s at :%02d; adaptive: every minute, ladder %s, floor %s\n\n",
		o.Budget, o.BatchSize, ShortDuration(o.FixedPeriod), int((fixedOffset % o.FixedPeriod).Minutes()), ladderText(o.Schedule.Ladder), ShortDuration(o.Schedule.Floor))

	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', tabwriter.AlignRight)
	row := func(name, a, b string) { fmt.Fprintf(tw, "%s\t%s\t%s\t\n", name, a, b) }
	both := func(name string, v func(*StrategyResult) string) { row(name, v(fx), v(ad)) }
	row("", "fixed ("+ShortDuration(o.FixedPeriod)+")", "adaptive")
	both("uploads Lighthouse ended in the window", func(s *StrategyResult) string { return Thousands(float64(s.Finished)) })
	both("  of which not detected", func(s *StrategyResult) string { return strconv.Itoa(s.Undetected) })
	both("detection latency p50", func(s *StrategyResult) string { return minutesText(s.LatencyP50) })
	both("detection latency p90", func(s *StrategyResult) string { return minutesText(s.LatencyP90) })
	both("detection latency p99", func(s *StrategyResult) string { return minutesText(s.LatencyP99) })
	both("detection latency max", func(s *StrategyResult) string { return minutesText(s.LatencyMax) })
	both("calls per day", func(s *StrategyResult) string { return Thousands(s.CallsPerDay) })
	both("peak calls per minute", func(s *StrategyResult) string { return strconv.Itoa(s.PeakCallsPerMinute) })
	both("ids per call", func(s *StrategyResult) string { return fmt.Sprintf("%.1f", s.IDsPerCall) })
	both("polls per upload, mean", func(s *StrategyResult) string { return fmt.Sprintf("%.1f", s.PollsPerUploadMean) })
	both("polls per upload, p99", func(s *StrategyResult) string { return strconv.Itoa(s.PollsPerUploadP99) })
	both("oldest never-final upload: age", func(s *StrategyResult) string { return minutesText(s.OldestPendingAge) })
	both("oldest never-final upload: poll interval", func(s *StrategyResult) string { return minutesText(s.OldestPendingInterval) })
	both("never-finishing uploads pending", func(s *StrategyResult) string { return Thousands(float64(s.NeverFinishing)) })
	both("  polled at least daily", func(s *StrategyResult) string { return percent(s.NeverPolledDaily) })
	both("  longest wait between polls", func(s *StrategyResult) string { return minutesText(s.NeverLongestGap) })
	if err := tw.Flush(); err != nil {
		return err
	}

	p.f("\ngoals (adaptive):\n")
	for _, g := range r.Goals {
		mark := "met    "
		if !g.Met {
			mark = "NOT MET"
		}
		p.f("  %s  %s: %s\n", mark, g.Name, g.Detail)
	}
	if r.Met() {
		p.f("adaptive meets every goal\n")
	} else {
		p.f("adaptive misses a goal\n")
	}
	return p.err
}

// WriteJSON prints the run's figures as one JSON object.
func WriteJSON(w io.Writer, r *Result) error {
	out := struct {
		Seed       uint64  `json:"seed"`
		Days       int     `json:"days"`
		Warmup     string  `json:"warmup"`
		PerDay     float64 `json:"uploads_per_day"`
		Processing string  `json:"processing"`
		Budget     int     `json:"budget_per_minute"`
		BatchSize  int     `json:"batch_size"`
		Ladder     string  `json:"ladder"`
		Floor      string  `json:"floor"`
		Fixed      string  `json:"fixed_cron_period"`
		*Result
		AllGoalsMet bool `json:"all_goals_met"`
	}{
		r.Options.Seed, r.Options.Days, r.Options.Warmup.String(), r.Options.PerDay, r.Options.Processing.Describe(),
		r.Options.Budget, r.Options.BatchSize, ladderText(r.Options.Schedule.Ladder), r.Options.Schedule.Floor.String(),
		r.Options.FixedPeriod.String(), r, r.Met(),
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

type printer struct {
	w   io.Writer
	err error
}

func (p *printer) f(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

// ladderText writes l as ParseLadder reads it, without zero minutes and
// seconds: 10m:5m, not 10m0s:5m0s.
func ladderText(l config.Ladder) string {
	parts := make([]string, len(l))
	for i, r := range l {
		from := "0"
		if r.From > 0 {
			from = ShortDuration(r.From)
		}
		parts[i] = from + ":" + ShortDuration(r.Every)
	}
	return strings.Join(parts, ",")
}

// minutesText writes a time in minutes in the unit that reads best.
func minutesText(m float64) string {
	switch {
	case math.IsNaN(m):
		return "-"
	case m < 60:
		return fmt.Sprintf("%.1f min", m)
	case m < 48*60:
		return fmt.Sprintf("%.1f h", m/60)
	}
	return fmt.Sprintf("%.1f d", m/(24*60))
}

// Thousands writes v rounded, with thousands separators.
func Thousands(v float64) string {
	s := strconv.FormatInt(int64(math.Round(v)), 10)
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}
