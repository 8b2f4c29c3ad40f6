package config

import (
	"fmt"
	"strings"
	"time"
)

// Strategy is how pending uploads are scheduled for polling (POLL_STRATEGY).
type Strategy string

const (
	// StrategyFixed polls every pending upload once per cron cycle, as the
	// original does (hourly by default).
	StrategyFixed Strategy = "fixed"
	// StrategyAdaptive polls each pending upload when its own next-poll time
	// comes, set by a Schedule after each poll.
	StrategyAdaptive Strategy = "adaptive"
)

// ParseStrategy reads a POLL_STRATEGY value.
func ParseStrategy(s string) (Strategy, error) {
	switch st := Strategy(strings.TrimSpace(s)); st {
	case StrategyFixed, StrategyAdaptive:
		return st, nil
	}
	return "", fmt.Errorf("poll strategy %q: want %q or %q", s, StrategyFixed, StrategyAdaptive)
}

// Rung is one step of a Ladder: from an age of From on, poll every Every.
type Rung struct {
	From, Every time.Duration
}

// MinInterval is the shortest poll interval a rung or the floor may have.
// Shorter cannot be honoured: a cycle fires at most once a second, and the
// due scan counts intervals in Postgres's microseconds, where 999ns is zero
// (POLL_FLOOR=999ns failed every adaptive cycle with "stride must be
// greater than zero").
const MinInterval = time.Second

// Ladder says how often to poll an upload by its age: the time since it was
// created or its Lighthouse status last moved, whichever is later. Rungs are
// in increasing From order, the first from 0, each interval at least the
// one before.
type Ladder []Rung

// DefaultLadder polls a new upload every 10 minutes for its first half
// hour (most documents finish within the hour, median 15 minutes), every
// 30 minutes to 2 hours, hourly to 8 hours, every 4 hours to a week and
// daily after. `worker simulate` chose it (docs/scheduling.md): on the
// default workload it notices a finished document in 7 minutes on median
// and 46 at p90, against fixed hourly polling's 30 and 54, in fewer calls.
// Its rungs are multiples of each other, so uploads on different rungs
// fall due at the same grid points and share calls.
const DefaultLadder = "0:10m,30m:30m,2h:1h,8h:4h,168h:24h"

// ParseLadder reads a ladder written as comma-separated from:every pairs of
// Go durations, e.g. "0:2m,10m:5m,1h:20m" (POLL_LADDER).
func ParseLadder(s string) (Ladder, error) {
	var l Ladder
	for i, part := range strings.Split(s, ",") {
		from, every, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok {
			return nil, fmt.Errorf("poll ladder rung %d %q: want from:every, e.g. 10m:5m", i+1, part)
		}
		r, err := parseRung(from, every)
		if err != nil {
			return nil, fmt.Errorf("poll ladder rung %d %q: %w", i+1, part, err)
		}
		l = append(l, r)
	}
	return l, l.Validate()
}

func parseRung(from, every string) (Rung, error) {
	var r Rung
	var err error
	if from = strings.TrimSpace(from); from != "0" {
		if r.From, err = time.ParseDuration(from); err != nil {
			return r, err
		}
	}
	if r.Every, err = time.ParseDuration(strings.TrimSpace(every)); err != nil {
		return r, err
	}
	return r, nil
}

// Validate says what is wrong with l, if anything.
func (l Ladder) Validate() error {
	if len(l) == 0 {
		return fmt.Errorf("poll ladder: no rungs")
	}
	if l[0].From != 0 {
		return fmt.Errorf("poll ladder: the first rung must start at 0, not %s", l[0].From)
	}
	for i, r := range l {
		if r.Every < MinInterval {
			return fmt.Errorf("poll ladder rung %d: interval %s is under the minimum of %s", i+1, r.Every, MinInterval)
		}
		if i > 0 && r.From <= l[i-1].From {
			return fmt.Errorf("poll ladder rung %d: starts at %s, not after %s", i+1, r.From, l[i-1].From)
		}
		if i > 0 && r.Every < l[i-1].Every {
			return fmt.Errorf("poll ladder rung %d: interval %s is shorter than the rung before's %s", i+1, r.Every, l[i-1].Every)
		}
	}
	return nil
}

// String writes l as ParseLadder reads it.
func (l Ladder) String() string {
	parts := make([]string, len(l))
	for i, r := range l {
		parts[i] = durationText(r.From) + ":" + durationText(r.Every)
	}
	return strings.Join(parts, ",")
}

func durationText(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	return d.String()
}
