package bench

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sort"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/vagov/lighthouse526/tasks"
)

const taskDurationMetric = "form526_worker_task_duration_seconds"

// histogram is a cumulative histogram merged over workers: upper bound ->
// count of observations at or below it.
type histogram struct {
	bounds []float64
	counts map[float64]float64
	total  float64
}

// scrapeBatchDurations merges every worker's histogram of status batch task
// durations from /metrics.
func scrapeBatchDurations(ctx context.Context, addrs []string) (*histogram, error) {
	h := &histogram{counts: map[float64]float64{}}
	for _, addr := range addrs {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, fmt.Errorf("bench: scrape %s: %w", addr, err)
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := parser.TextToMetricFamilies(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("bench: parse /metrics of %s: %w", addr, err)
		}
		fam, ok := fams[taskDurationMetric]
		if !ok {
			continue
		}
		for _, m := range fam.GetMetric() {
			if label(m, "task_type") != tasks.TypeStatusBatch || m.GetHistogram() == nil {
				continue
			}
			hist := m.GetHistogram()
			h.total += float64(hist.GetSampleCount())
			for _, b := range hist.GetBucket() {
				if _, seen := h.counts[b.GetUpperBound()]; !seen {
					h.bounds = append(h.bounds, b.GetUpperBound())
				}
				h.counts[b.GetUpperBound()] += float64(b.GetCumulativeCount())
			}
		}
	}
	sort.Float64s(h.bounds)
	return h, nil
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// quantile estimates the q-quantile as Prometheus's histogram_quantile does:
// linear interpolation inside the bucket that holds it. Past the last finite
// bound it returns that bound.
func (h *histogram) quantile(q float64) float64 {
	if h == nil || h.total == 0 || len(h.bounds) == 0 {
		return math.NaN()
	}
	rank := q * h.total
	lower, below := 0.0, 0.0
	for _, ub := range h.bounds {
		c := h.counts[ub]
		if c >= rank {
			if math.IsInf(ub, 1) {
				return lower
			}
			if c == below {
				return ub
			}
			return lower + (ub-lower)*(rank-below)/(c-below)
		}
		lower, below = ub, c
	}
	return lower
}
