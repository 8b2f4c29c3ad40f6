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
// faster than a cycle can fan out and its batches run.
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
	return s, nil
}
