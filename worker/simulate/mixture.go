package simulate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Component is one part of a Mixture: Share of all uploads finish after
// the previous component's Within and by their own Within, with the given
// Median.
type Component struct {
	Share          float64
	Within, Median time.Duration
}

// Mixture is the default model of Lighthouse's processing times: each
// component a lognormal truncated to its window (from the previous
// component's Within to its own), drawn half the time below its median and
// half above it so that the median is exactly Median; Never of the uploads
// never finish, and Failed of those that finish end FAILED.
type Mixture struct {
	Components    []Component
	Never, Failed float64
}

// DefaultMixture is the default --mixture: 60% finish within an hour
// (median 15 minutes), 30% within a day (median 4 hours), 8% within a week
// (median 2 days); with DefaultNever, 2% never.
const DefaultMixture = "0.60:1h:15m,0.30:24h:4h,0.08:168h:48h"

// Default shares of never-finishing uploads and of failures among those
// that finish.
const (
	DefaultNever  = 0.02
	DefaultFailed = 0.05
)

// ParseMixture reads components written as comma-separated
// share:within:median, e.g. "0.6:1h:15m,0.3:24h:4h" (--mixture); never and
// failed are the other two shares. The shares and never must add up to 1.
func ParseMixture(s string, never, failed float64) (*Mixture, error) {
	m := &Mixture{Never: never, Failed: failed}
	for i, part := range strings.Split(s, ",") {
		fields := strings.Split(strings.TrimSpace(part), ":")
		if len(fields) != 3 {
			return nil, fmt.Errorf("mixture component %d %q: want share:within:median, e.g. 0.6:1h:15m", i+1, part)
		}
		var c Component
		var err error
		if c.Share, err = strconv.ParseFloat(fields[0], 64); err != nil {
			return nil, fmt.Errorf("mixture component %d %q: share: %w", i+1, part, err)
		}
		if c.Within, err = time.ParseDuration(fields[1]); err != nil {
			return nil, fmt.Errorf("mixture component %d %q: within: %w", i+1, part, err)
		}
		if c.Median, err = time.ParseDuration(fields[2]); err != nil {
			return nil, fmt.Errorf("mixture component %d %q: median: %w", i+1, part, err)
		}
		m.Components = append(m.Components, c)
	}
	return m, m.Validate()
}

// Validate says what is wrong with m, if anything.
func (m *Mixture) Validate() error {
	if m.Never < 0 || m.Never > 1 {
		return fmt.Errorf("never-finishing share %g: want between 0 and 1", m.Never)
	}
	if m.Failed < 0 || m.Failed > 1 {
		return fmt.Errorf("failed share %g: want between 0 and 1", m.Failed)
	}
	sum := m.Never
	var prev time.Duration
	for i, c := range m.Components {
		if c.Share <= 0 {
			return fmt.Errorf("mixture component %d: share %g is not positive", i+1, c.Share)
		}
		if c.Within <= prev {
			return fmt.Errorf("mixture component %d: window end %s is not after the previous one's %s", i+1, c.Within, prev)
		}
		if c.Median <= prev || c.Median >= c.Within {
			return fmt.Errorf("mixture component %d: median %s is not inside its window (%s, %s)", i+1, c.Median, prev, c.Within)
		}
		sum += c.Share
		prev = c.Within
	}
	if math.Abs(sum-1) > 1e-6 {
		return fmt.Errorf("mixture shares and the never-finishing share add up to %g, not 1", sum)
	}
	return nil
}

// Draw implements Processing.
func (m *Mixture) Draw(r *rand.Rand) (time.Duration, bool, bool) {
	u := r.Float64()
	if u < m.Never {
		return 0, false, false
	}
	u -= m.Never
	i := 0
	for i < len(m.Components)-1 && u >= m.Components[i].Share {
		u -= m.Components[i].Share
		i++
	}
	c := m.Components[i]
	var lo time.Duration
	if i > 0 {
		lo = m.Components[i-1].Within
	}
	// A log standard deviation that puts the window's end two of them above
	// the median.
	sigma := math.Log(float64(c.Within)/float64(c.Median)) / 2
	var d time.Duration
	if r.Float64() < 0.5 {
		d = lognormalBetween(r, c.Median, sigma, lo, c.Median)
	} else {
		d = lognormalBetween(r, c.Median, sigma, c.Median, c.Within)
	}
	return d, true, r.Float64() < m.Failed
}

// Describe implements Processing.
func (m *Mixture) Describe() string {
	parts := make([]string, 0, len(m.Components)+1)
	for _, c := range m.Components {
		parts = append(parts, fmt.Sprintf("%s within %s (median %s)", percent(c.Share), ShortDuration(c.Within), ShortDuration(c.Median)))
	}
	parts = append(parts, percent(m.Never)+" never")
	return fmt.Sprintf("mixture: %s; %s of finishes FAILED", strings.Join(parts, ", "), percent(m.Failed))
}

func percent(f float64) string {
	return strconv.FormatFloat(math.Round(1000*f)/10, 'f', -1, 64) + "%"
}

// ShortDuration writes d without zero minutes and seconds: 4h, not 4h0m0s.
func ShortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
