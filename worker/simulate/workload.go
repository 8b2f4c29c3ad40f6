package simulate

import (
	"math"
	"math/rand/v2"
	"time"
)

// Upload is one simulated upload and what Lighthouse will do with it: it
// starts processing when it is created, its status moves from
// CLAIMS_EVIDENCE to BENEFITS_GATEWAY_SERVICE half-way, and it ends (SUCCESS,
// or FAILED when Failed) at Ended, or never when Ended is zero.
type Upload struct {
	ID      int64
	Created time.Time
	Moved   time.Time // zero: stays at CLAIMS_EVIDENCE
	Ended   time.Time // zero: never finishes
	Failed  bool
}

// Finishes says whether Lighthouse ever ends the upload's processing.
func (u *Upload) Finishes() bool { return !u.Ended.IsZero() }

// eastern is the arrivals' clock: US Eastern standard time. The simulated
// fortnight lies in January (see measureStart), when Eastern is UTC-5 all
// through, so a fixed zone is exact and needs no time zone database.
var eastern = time.FixedZone("EST", -5*60*60)

// measureStart is the first measured instant: a Monday, 00:00 Eastern. The
// warm-up runs before it, so the measured days are whole weeks from Monday
// whatever the warm-up.
var measureStart = time.Date(2026, time.January, 12, 0, 0, 0, 0, eastern)

// Arrival weights of each Eastern hour, relative to a weekday's busiest
// hours: a business-hours peak, quiet nights, quieter weekends.
var (
	weekdayHours = [24]float64{
		0.05, 0.04, 0.04, 0.04, 0.05, 0.08, 0.15, 0.35, 0.70, 0.95, 1, 1,
		0.95, 1, 1, 0.95, 0.85, 0.65, 0.45, 0.35, 0.28, 0.2, 0.12, 0.08,
	}
	weekendHours = [24]float64{
		0.04, 0.03, 0.03, 0.03, 0.03, 0.04, 0.05, 0.08, 0.12, 0.15, 0.17, 0.18,
		0.18, 0.18, 0.18, 0.17, 0.16, 0.15, 0.14, 0.13, 0.12, 0.1, 0.07, 0.05,
	}
)

func hourWeight(t time.Time) float64 {
	t = t.In(eastern)
	if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
		return weekendHours[t.Hour()]
	}
	return weekdayHours[t.Hour()]
}

// weeklyWeight is the sum of hourWeight over a week.
func weeklyWeight() float64 {
	var wd, we float64
	for h := range 24 {
		wd += weekdayHours[h]
		we += weekendHours[h]
	}
	return 5*wd + 2*we
}

// arrivals draws upload creation times in [from, to) from a nonhomogeneous
// Poisson process whose rate is constant within each Eastern hour
// (hourWeight), scaled so that a week averages perDay a day. Within an hour
// the gaps are exponential; at an hour's end the draw restarts at the next
// rate, which memorylessness makes exact.
func arrivals(r *rand.Rand, from, to time.Time, perDay float64) []time.Time {
	perHourUnit := perDay * 7 / weeklyWeight() // arrivals an hour at weight 1
	var out []time.Time
	t := from
	for t.Before(to) {
		hourEnd := t.Truncate(time.Hour).Add(time.Hour)
		if hourEnd.After(to) {
			hourEnd = to
		}
		rate := perHourUnit * hourWeight(t) // per hour
		if rate <= 0 {
			t = hourEnd
			continue
		}
		next := t.Add(time.Duration(r.ExpFloat64() / rate * float64(time.Hour)))
		if !next.Before(hourEnd) {
			t = hourEnd
			continue
		}
		out = append(out, next)
		t = next
	}
	return out
}

// Processing draws how long Lighthouse takes with one upload: its
// processing time, whether it ever finishes, and whether it ends FAILED.
type Processing interface {
	Draw(r *rand.Rand) (d time.Duration, finishes, failed bool)
	// Describe says in one line what the distribution is.
	Describe() string
}

// workload makes the uploads of a run: arrivals over the warm-up and the
// measured days, each with a processing time drawn from p.
func workload(o *Options) []Upload {
	r := rand.New(rand.NewPCG(o.Seed, 0x5eed_1a2b_3c4d))
	start, end := o.window()
	times := arrivals(r, start.Add(-o.Warmup), end, o.PerDay)
	ups := make([]Upload, len(times))
	for i, created := range times {
		u := Upload{ID: int64(i + 1), Created: created}
		d, finishes, failed := o.Processing.Draw(r)
		if finishes {
			d = max(d, time.Second)
			u.Moved = created.Add(d / 2)
			u.Ended = created.Add(d)
			u.Failed = failed
		}
		ups[i] = u
	}
	return ups
}

// lognormalBetween draws from a lognormal of the given median and log
// standard deviation sigma, restricted to [lo, hi] (lo may be 0), by
// inverting its distribution function over that range.
func lognormalBetween(r *rand.Rand, median time.Duration, sigma float64, lo, hi time.Duration) time.Duration {
	mu := math.Log(float64(median))
	cdf := func(d time.Duration) float64 {
		if d <= 0 {
			return 0
		}
		return 0.5 * math.Erfc(-(math.Log(float64(d))-mu)/(sigma*math.Sqrt2))
	}
	a, b := cdf(lo), cdf(hi)
	p := a + r.Float64()*(b-a)
	p = min(max(p, 1e-12), 1-1e-12)
	x := math.Exp(mu + sigma*math.Sqrt2*math.Erfinv(2*p-1))
	return min(max(time.Duration(x), lo), hi)
}
