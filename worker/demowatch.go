//go:build dev

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vagov/lighthouse526/db"
	"github.com/vagov/lighthouse526/models"
)

func demoWatchCmd(ctx context.Context, args []string, stdout, _ io.Writer) error {
	fs := flag.NewFlagSet("demo-watch", flag.ContinueOnError)
	expect := fs.Int64("expect", 0, "wait until at least this many uploads are tracked")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	interval := fs.Duration("interval", time.Second, "refresh period")
	if err := parseFlags(fs, args, stdout, "demo-watch [--expect N] [--timeout 5m] [--interval 1s]", 0); err != nil {
		return err
	}
	var check flagCheck
	check.notNegative("expect", *expect)
	check.positiveDuration("timeout", *timeout)
	check.positiveDuration("interval", *interval)
	if err := check.err(); err != nil {
		return err
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	gdb, err := openDB(ctx, cfg, newLogger(cfg), "lighthouse526-demo-watch")
	if err != nil {
		return err
	}
	defer db.Close(gdb)

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	start := time.Now()
	tick := time.NewTicker(*interval)
	defer tick.Stop()
	var counts []models.StateCount
	last := ""
	for {
		if counts, err = models.CountByState(ctx, gdb); err != nil && ctx.Err() == nil {
			return err
		}
		t := totals(counts)
		line := fmt.Sprintf("tracked %4d   pending %4d   completed %4d   failed %4d",
			t["total"], t[models.StatePending], t[models.StateCompleted], t[models.StateFailed])
		if line != last {
			fmt.Fprintf(stdout, "[%5.0fs] %s\n", time.Since(start).Seconds(), line)
			last = line
		}
		if t["total"] >= max(*expect, 1) && t[models.StatePending] == 0 {
			break
		}
		select {
		case <-ctx.Done():
			printFinalTable(stdout, counts)
			return fmt.Errorf("uploads still pending after %s", *timeout)
		case <-tick.C:
		}
	}
	printFinalTable(stdout, counts)
	return nil
}

func totals(counts []models.StateCount) map[string]int64 {
	t := map[string]int64{}
	for _, c := range counts {
		t[c.AasmState] += c.Count
		t["total"] += c.Count
	}
	return t
}

// printFinalTable prints uploads per document type and state, failures by step.
func printFinalTable(w io.Writer, counts []models.StateCount) {
	type row struct{ pending, completed, failedCE, failedBGS, failedOther int64 }
	rows := map[string]*row{}
	for _, c := range counts {
		r := rows[c.DocumentType]
		if r == nil {
			r = &row{}
			rows[c.DocumentType] = r
		}
		switch {
		case c.AasmState == models.StatePending:
			r.pending += c.Count
		case c.AasmState == models.StateCompleted:
			r.completed += c.Count
		case c.FailedStep == "claims_evidence":
			r.failedCE += c.Count
		case c.FailedStep == "benefits_gateway_service":
			r.failedBGS += c.Count
		default:
			r.failedOther += c.Count
		}
	}
	types := make([]string, 0, len(rows))
	for t := range rows {
		types = append(types, t)
	}
	sort.Strings(types)
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "document type\tpending\tcompleted\tfailed: claims evidence\tfailed: BGS\tfailed: other\ttotal\t")
	var sum row
	for _, t := range types {
		r := rows[t]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t\n", t, r.pending, r.completed, r.failedCE, r.failedBGS, r.failedOther,
			r.pending+r.completed+r.failedCE+r.failedBGS+r.failedOther)
		sum.pending, sum.completed = sum.pending+r.pending, sum.completed+r.completed
		sum.failedCE, sum.failedBGS, sum.failedOther = sum.failedCE+r.failedCE, sum.failedBGS+r.failedBGS, sum.failedOther+r.failedOther
	}
	fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t\n", strings.Repeat("-", 5)+" all", sum.pending, sum.completed, sum.failedCE, sum.failedBGS, sum.failedOther,
		sum.pending+sum.completed+sum.failedCE+sum.failedBGS+sum.failedOther)
	_ = tw.Flush()
}
