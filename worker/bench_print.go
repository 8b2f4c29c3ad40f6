//go:build dev

package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/vagov/lighthouse526/worker/bench"
)

const mib = 1 << 20

// printBench prints the one-row table of a bench run, and what each figure is.
func printBench(w io.Writer, r *bench.Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := []string{"documents", "batches", "wall s", "docs/s", "µs/doc", "LH calls", "SQL/batch", "p50 batch s", "p99 batch s", "peak RSS MiB"}
	row := []string{
		fmt.Sprint(r.Documents), fmt.Sprint(r.Batches), fmt.Sprintf("%.2f", r.WallSeconds),
		fmt.Sprintf("%.0f", r.DocumentsPerSecond), fmt.Sprintf("%.1f", r.MicrosPerDocument),
		fmt.Sprint(r.Lighthouse.StatusCalls), fmt.Sprintf("%.2f", r.SQLStatementsPerBatch),
		seconds(r.BatchP50Seconds), seconds(r.BatchP99Seconds), fmt.Sprintf("%.1f", float64(r.PeakRSSMaxBytes)/mib),
	}
	if r.Floor != nil {
		head = append(head, "floor s", "x floor")
		row = append(row, fmt.Sprintf("%.2f", r.Floor.Seconds), fmt.Sprintf("%.2f", r.RatioToFloor))
	}
	if c := r.Lighthouse; c.LimitPerMinute > 0 {
		head = append(head, "limit/min", "calls/min", "of limit", "max in a minute", "429s")
		row = append(row, fmt.Sprint(c.LimitPerMinute), fmt.Sprintf("%.1f", c.PerMinute),
			fmt.Sprintf("%.1f%%", 100*c.FractionOfLimit), fmt.Sprint(c.MaxInOneMinute), fmt.Sprint(c.TooMany))
	}
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	_ = tw.Flush()

	rss := make([]string, len(r.PeakRSSBytes))
	for i, b := range r.PeakRSSBytes {
		rss[i] = fmt.Sprintf("%.1f", float64(b)/mib)
	}
	indexes := "with"
	if !r.RecommendedIndexes {
		indexes = "without"
	}
	fmt.Fprintf(w, "\nworkers %d x concurrency %d, batch size %d, %s the recommended indexes; seeded in %.1fs; fan-out done at %.2fs\n",
		r.Workers, r.Concurrency, r.BatchSize, indexes, r.SeedSeconds, r.FanOutSeconds)
	fmt.Fprintf(w, "polled %d: completed %d, failed %d, unknown %d; Lighthouse: %d status calls (%d not 200, %d answered 429), %d token calls\n",
		r.Polled, r.Completed, r.Failed, r.Unknown, r.Lighthouse.StatusCalls,
		r.Lighthouse.StatusCalls-r.Lighthouse.AnsweredOK, r.Lighthouse.TooMany, r.Lighthouse.TokenCalls)
	fmt.Fprintf(w, "CPU seconds during the cycle: workers %.2f, Postgres backends %.2f, bench process (fake Lighthouse) %.2f\n",
		r.CPU.Workers, r.CPU.Postgres, r.CPU.Bench)
	fmt.Fprintf(w, "SQL: %d statements; counted as %s\n", r.SQLStatements, r.SQLCountMethod)
	fmt.Fprintf(w, "batch seconds: %d batch tasks, from the workers' form526_worker_task_duration_seconds histogram (interpolated in its buckets)\n", r.BatchTasks)
	fmt.Fprintf(w, "peak RSS MiB of %s: %s\n", r.PeakRSSOf, strings.Join(rss, ", "))
	if f := r.Floor; f != nil {
		fmt.Fprintf(w, "floor: %.2fs bulk UPDATE of the same rows' polled-at and state (fresh copy of the seed) + %.2fs for %d Redis LPUSH and %d BRPOP round trips\n",
			f.DBSeconds, f.RedisSeconds, r.Batches, r.Batches)
	}
}

func seconds(s float64) string {
	if math.IsNaN(s) {
		return "-"
	}
	return fmt.Sprintf("%.3f", s)
}

// benchProgress shows the run's phases and, on a terminal, a progress bar of
// documents polled.
type benchProgress struct {
	w     io.Writer
	start time.Time
	tty   bool
	mu    sync.Mutex
	bar   *progressbar.ProgressBar
}

func newBenchProgress(w io.Writer) *benchProgress {
	p := &benchProgress{w: w, start: time.Now()}
	if f, ok := w.(*os.File); ok {
		p.tty = term.IsTerminal(int(f.Fd()))
	}
	return p
}

func (p *benchProgress) phase(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Finish()
		p.bar = nil
		fmt.Fprintln(p.w)
	}
	fmt.Fprintf(p.w, "bench: %6.1fs %s\n", time.Since(p.start).Seconds(), s)
}

func (p *benchProgress) update(polled, total int) {
	if !p.tty {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar == nil {
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription("polled"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("docs"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100_000_000),
		)
	}
	_ = p.bar.Set(polled)
}

func (p *benchProgress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Finish()
		p.bar = nil
		fmt.Fprintln(p.w)
	}
}
