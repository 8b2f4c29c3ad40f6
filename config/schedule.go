package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// ParseSchedule parses POLL_CRON the one way both `worker config` and
// `worker run` read it, so that they accept exactly the same schedules: with
// robfig/cron's standard parser (the one asynq's own scheduler uses: five
// fields, minute to day of week, or a descriptor such as @hourly or
// @every 2h), in UTC unless the spec starts with CRON_TZ=<zone> (or TZ=).
//
// It refuses a schedule that never fires (the parser finds no activation in
// the five years after now: `0 0 30 2 *`), which would leave the worker
// without cycles, and, unless allowSubMinute, one that fires more often than
// once a minute (with this parser only @every can), which would start cycles
// faster than a cycle can fan out and its batches run, and one that leaves
// more than MaxCronGap between two firings in the coming year (`@every
// 1000000h` fires within 5 years, once).
func ParseSchedule(spec string, allowSubMinute bool, now time.Time) (cron.Schedule, error) {
	full := spec
	if !strings.HasPrefix(spec, "CRON_TZ=") && !strings.HasPrefix(spec, "TZ=") {
		full = "CRON_TZ=UTC " + spec
	}
	s, err := cron.ParseStandard(full)
	if err != nil {
		return nil, fmt.Errorf("not a cron schedule (5 fields, or a descriptor such as @hourly; CRON_TZ=<zone> first for a time zone): %w", err)
	}
	first := s.Next(now)
	if first.IsZero() {
		return nil, fmt.Errorf("never fires: no time in the next 5 years matches %q", spec)
	}
	if second := s.Next(first); !second.IsZero() && second.Sub(first) < time.Minute && !allowSubMinute {
		return nil, fmt.Errorf("fires every %s, more often than once a minute (POLL_CRON_ALLOW_SUBMINUTE=true allows it)", second.Sub(first))
	}
	if at, gap := longestGap(s, now); gap > MaxCronGap {
		return nil, fmt.Errorf("leaves %s without a cycle after %s; it must fire at least once a day (no gap over %s)",
			gap.Round(time.Minute), at.UTC().Format(time.RFC3339), MaxCronGap)
	}
	return s, nil
}

// MaxCronGap is the longest POLL_CRON may leave between two cycles: a day,
// plus the hour a daily time in a zone with daylight saving gains once a
// year. Longer, a failed document waits more than a day to be seen and its
// veteran to be told; under the adaptive strategy a claimed upload's lease
// (one cron period: polling.LeaseFor) outlives POLL_FLOOR's daily promise;
// and a cycle's task id, kept 24 hours, no longer stops a restart's
// catch-up from running a tick that already ran.
const MaxCronGap = 25 * time.Hour

// longestGap looks a year ahead of now for the longest wait until s next
// fires, and returns it with where it starts: a cron spec's gaps repeat
// within a year (leap days aside). It samples every 30 minutes over the
// first 8 days, which holds every daily and weekly pattern, and every 6
// hours after, for patterns of days of the month and months: a gap over
// MaxCronGap + 30 minutes in the coming week is found, and one over
// MaxCronGap + 6 hours in the coming year; none under MaxCronGap is
// reported. About 1,800 samples (a few milliseconds) for a spec that fires
// every minute; one for `@every 1000000h`.
func longestGap(s cron.Schedule, now time.Time) (time.Time, time.Duration) {
	var at time.Time
	var longest time.Duration
	fine, end := now.AddDate(0, 0, 8), now.AddDate(1, 0, 0)
	for t := now; t.Before(end); {
		next := s.Next(t)
		if next.IsZero() {
			return t, end.Sub(t) // stops firing within the year
		}
		if gap := next.Sub(t); gap > longest {
			at, longest = t, gap
		}
		step := 30 * time.Minute
		if t.After(fine) {
			step = 6 * time.Hour
		}
		// Between t and next nothing fires: no sample there can find a
		// longer gap than t's.
		t = t.Add(step)
		if next.After(t) {
			t = next
		}
	}
	return at, longest
}
