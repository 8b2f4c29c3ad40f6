// Package flipper reads a feature flag where VA.gov keeps its flags: the
// tables of Flipper's ActiveRecord adapter in its application database,
// flipper_features (key) and flipper_gates (feature_key, key, value), as the
// flipper gem 0.25 (Debian's ruby-flipper, what vets-api writes them with)
// stores and evaluates them.
//
// The worker asks it whether to email a veteran about a failed upload: the
// original calls
// Flipper.enabled?(:disability_compensation_email_veteran_on_polled_lighthouse_doc_failure)
// at each failure (../shared/reference/original-system.md, State machine and
// "VA.gov's production as it really is"), with no actor, so that operators
// turn the emails on and off at run time in Flipper's UI.
package flipper

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// FailureEmailsFeature is the flag of the failure emails, as the original
// names it.
const FailureEmailsFeature = "disability_compensation_email_veteran_on_polled_lighthouse_doc_failure"

// The gate keys Flipper 0.25 writes in flipper_gates.key (Flipper::Gates).
const (
	gateBoolean            = "boolean"
	gatePercentageOfTime   = "percentage_of_time"
	gatePercentageOfActors = "percentage_of_actors"
	gateActors             = "actors"
	gateGroups             = "groups"
)

// Gates is what Flipper's tables say of one feature.
type Gates struct {
	// TablesExist is false when the database has no Flipper tables (where
	// the worker's queries look: search_path).
	TablesExist bool
	// Known: the feature has its row in flipper_features, as Flipper's UI
	// lists it (Flipper adds it on the first enable or disable).
	Known bool
	// Boolean is the boolean gate: on for every check (Flipper.enable).
	// Flipper clears every gate when the feature is disabled.
	Boolean bool
	// PercentageOfTime is the percentage_of_time gate, 0 to 100: each check
	// is on with this chance (Flipper.enable_percentage_of_time).
	PercentageOfTime float64
	// The gates that open only for an actor: the original's check names
	// none, so for it they never open. Kept to say so in the log.
	PercentageOfActors float64
	Actors, Groups     int
	// Unreadable lists gate values Flipper's typecasts would not read as
	// the gate's type ("percentage_of_time=abc"): such a gate stays closed.
	Unreadable []string
}

// Enabled is Flipper.enabled?(feature) with no actor, with draw a number in
// [0, 1) drawn for this check: the boolean gate opens every check, the
// percentage_of_time gate when draw < percentage/100 (Flipper's
// `rand < value / 100.0`); the actor, group and percentage_of_actors gates
// need an actor, and the original's check gives none.
func (g Gates) Enabled(draw float64) bool {
	return g.Boolean || draw < g.PercentageOfTime/100
}

// Share is the share of checks that are on, 0 to 1.
func (g Gates) Share() float64 {
	switch {
	case g.Boolean:
		return 1
	case g.PercentageOfTime <= 0:
		return 0
	case g.PercentageOfTime >= 100:
		return 1
	}
	return g.PercentageOfTime / 100
}

// Emails says in a few words what the gates mean for a check with no actor
// ("on", "off", "25% of checks"), and why.
func (g Gates) Emails() (state, reason string) {
	switch {
	case !g.TablesExist:
		return "off", "Flipper's tables (flipper_features, flipper_gates) are not in this database"
	case g.Boolean:
		return "on", "boolean gate"
	case g.PercentageOfTime > 0:
		return fmt.Sprintf("%s%% of checks", strconv.FormatFloat(min(g.PercentageOfTime, 100), 'f', -1, 64)), "percentage_of_time gate"
	case !g.Known && g.Actors+g.Groups == 0 && g.PercentageOfActors <= 0:
		return "off", "the flag is not in flipper_features"
	case g.Actors+g.Groups > 0 || g.PercentageOfActors > 0:
		return "off", "only actor, group or percentage_of_actors gates are set, and the check names no actor"
	}
	return "off", "every gate is off"
}

// gateRow is one row of flipper_gates.
type gateRow struct{ key, value string }

// gatesOf reads a feature's gate rows as Flipper's adapter and typecasts
// do: the first row of a boolean or integer gate counts, every row of a
// set gate.
func gatesOf(known bool, rows []gateRow) Gates {
	g := Gates{TablesExist: true, Known: known}
	seen := map[string]bool{}
	for _, r := range rows {
		switch r.key {
		case gateActors:
			g.Actors++
			continue
		case gateGroups:
			g.Groups++
			continue
		}
		if seen[r.key] {
			continue
		}
		seen[r.key] = true
		switch r.key {
		case gateBoolean:
			// Flipper::Typecast.to_boolean: "true" and "1" are true.
			g.Boolean = r.value == "true" || r.value == "1"
		case gatePercentageOfTime, gatePercentageOfActors:
			pct, ok := percentage(r.value)
			if !ok {
				g.Unreadable = append(g.Unreadable, r.key+"="+strconv.Quote(r.value))
			}
			if r.key == gatePercentageOfTime {
				g.PercentageOfTime = pct
			} else {
				g.PercentageOfActors = pct
			}
		}
	}
	return g
}

// percentage reads a percentage gate's value, which Flipper writes as an
// integer or a decimal ("25", "12.5"); anything else reads as 0, closed.
func percentage(v string) (float64, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}
