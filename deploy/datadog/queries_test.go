package datadog_test

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV1"
)

// metricName is a metric in a query: the name right before its scope,
// e.g. sum:<name>{*}.as_count().
var metricName = regexp.MustCompile(`([A-Za-z][A-Za-z0-9_.]*)\{`)

// scopedMetric is a metric in a query with its space aggregator and its
// scope: <aggregator>:<name>{<tag>,<tag>}.
var scopedMetric = regexp.MustCompile(`(?:(sum|avg|max|min):)?([A-Za-z][A-Za-z0-9_.]*)\{([^}]*)\}`)

// scoped is one metric of a query.
type scoped struct {
	Aggregator string // space aggregation: sum, avg, max, min
	Name       string
	Tags       []string // the scope's tags; none for {*}
}

func scopedMetrics(q string) []scoped {
	var out []scoped
	for _, m := range scopedMetric.FindAllStringSubmatch(q, -1) {
		s := scoped{Aggregator: m[1], Name: m[2]}
		for _, t := range strings.Split(m[3], ",") {
			if t = strings.TrimSpace(t); t != "" && t != "*" {
				s.Tags = append(s.Tags, t)
			}
		}
		out = append(out, s)
	}
	return out
}

// logSearch is a log monitor's search, unquoted.
func logSearch(q string) (string, error) {
	s := logsSearch.FindStringSubmatch(q)
	if s == nil {
		return "", fmt.Errorf("log alert query is not logs(\"...\"): %s", q)
	}
	return strconv.Unquote(s[1])
}

// searchTags are the tag filters of a log search: its key:value terms
// outside quoted phrases that are not attributes (@...).
func searchTags(search string) []string {
	var out []string
	for _, term := range strings.Fields(quoted.ReplaceAllString(search, " ")) {
		if !strings.HasPrefix(term, "@") && strings.Contains(term, ":") {
			out = append(out, term)
		}
	}
	return out
}

// logsSearch is the search of a log monitor's query: logs("<search>")...
var logsSearch = regexp.MustCompile(`^logs\(("(?:[^"\\]|\\.)*")\)\.`)

// quoted is a quoted phrase of a log search.
var quoted = regexp.MustCompile(`"((?:[^"\\]|\\.)*)"`)

// used is what a monitor or the dashboard queries.
type used struct {
	Metrics []string
	// Scoped are the metrics with their aggregators and scopes.
	Scoped []scoped
	// Phrases are the quoted phrases of log searches: log messages.
	Phrases []string
}

// monitorQueries is what one monitor queries. A log monitor must match on
// at least one quoted log message; a metric monitor must name a metric.
func monitorQueries(m datadogV1.Monitor) (used, error) {
	var u used
	switch m.Type {
	case datadogV1.MONITORTYPE_LOG_ALERT:
		search, err := logSearch(m.Query)
		if err != nil {
			return u, err
		}
		u.Phrases = phrases(search)
		if len(u.Phrases) == 0 {
			return u, fmt.Errorf("log search %s matches no quoted message", search)
		}
	case datadogV1.MONITORTYPE_QUERY_ALERT, datadogV1.MONITORTYPE_METRIC_ALERT:
		u.Metrics, u.Scoped = metricNames(m.Query), scopedMetrics(m.Query)
		if len(u.Metrics) == 0 {
			return u, fmt.Errorf("metric query names no metric: %s", m.Query)
		}
	default:
		return u, fmt.Errorf("monitor type %q is not checked against the code", m.Type)
	}
	return u, nil
}

// dashboardQueries is every query of the dashboard's widgets, read from the
// file (already decoded strictly) by data source: metrics queries and log
// stream searches. Any other data source fails: it would go unchecked.
func dashboardQueries(file string) (used, error) {
	var u used
	b, err := os.ReadFile(file)
	if err != nil {
		return u, err
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		return u, err
	}
	var walk func(v any) error
	walk = func(v any) error {
		switch v := v.(type) {
		case []any:
			for _, e := range v {
				if err := walk(e); err != nil {
					return err
				}
			}
		case map[string]any:
			if src, ok := v["data_source"].(string); ok {
				switch src {
				case "metrics":
					q, _ := v["query"].(string)
					names := metricNames(q)
					if len(names) == 0 {
						return fmt.Errorf("metric query names no metric: %q", q)
					}
					u.Metrics = append(u.Metrics, names...)
					u.Scoped = append(u.Scoped, scopedMetrics(q)...)
				case "logs_stream":
					q, _ := v["query_string"].(string)
					p := phrases(q)
					if len(p) == 0 {
						return fmt.Errorf("log stream %q matches no quoted message", q)
					}
					u.Phrases = append(u.Phrases, p...)
				default:
					return fmt.Errorf("data source %q is not checked against the code", src)
				}
			}
			for _, e := range v {
				if err := walk(e); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return u, walk(doc)
}

func metricNames(q string) []string {
	var out []string
	for _, m := range metricName.FindAllStringSubmatch(q, -1) {
		out = append(out, m[1])
	}
	return out
}

func phrases(search string) []string {
	var out []string
	for _, m := range quoted.FindAllStringSubmatch(search, -1) {
		out = append(out, strings.ReplaceAll(m[1], `\"`, `"`))
	}
	return out
}

// unknown lists the names of got that are not in known.
func unknown(got, known []string) []string {
	var out []string
	for _, g := range got {
		if !slices.Contains(known, g) {
			out = append(out, g)
		}
	}
	return out
}
