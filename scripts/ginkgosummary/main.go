// Command ginkgosummary reads the JSON report of a ginkgo run (ginkgo
// --json-report) and prints one closing line, "N passed, N failed, N
// skipped", that CI reads as the test count. It exits 1 when any spec or
// suite failed, or when the report is missing or empty, so a run it
// sums up can never look green by accident.
//
//	go run ./scripts/ginkgosummary path/to/report.json
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/onsi/ginkgo/v2/types"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: ginkgosummary REPORT.json")
		os.Exit(2)
	}
	os.Exit(run(os.Args[1], os.Stdout, os.Stderr))
}

// counts is what the closing line says.
type counts struct {
	passed, failed, skipped int
}

func run(path string, stdout, stderr io.Writer) int {
	b, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(stderr, "ginkgosummary: %v\n", err)
		fmt.Fprintln(stdout, "0 passed, 1 failed")
		return 1
	}
	var reports []types.Report
	if err := json.Unmarshal(b, &reports); err != nil {
		fmt.Fprintf(stderr, "ginkgosummary: %s is not a ginkgo JSON report: %v\n", path, err)
		fmt.Fprintln(stdout, "0 passed, 1 failed")
		return 1
	}
	c := summarize(reports, stderr)
	fmt.Fprintf(stdout, "%d passed, %d failed, %d skipped\n", c.passed, c.failed, c.skipped)
	if c.failed > 0 || c.passed == 0 {
		return 1
	}
	return 0
}

// summarize counts It specs by outcome. A failed setup node (BeforeSuite and
// the like) counts as a failure, and so does a suite that failed with no
// failed spec at all (it did not compile, or --fail-on-pending tripped).
func summarize(reports []types.Report, stderr io.Writer) counts {
	var c counts
	for _, r := range reports {
		suiteFailures := 0
		for _, s := range r.SpecReports {
			switch {
			case s.State.Is(types.SpecStateFailureStates):
				suiteFailures++
				fmt.Fprintf(stderr, "FAILED %s: %s %s\n", r.SuiteDescription, s.FullText(), s.LeafNodeLocation)
			case s.LeafNodeType != types.NodeTypeIt:
				// Passed or skipped setup nodes are not specs.
			case s.State == types.SpecStatePassed:
				c.passed++
			case s.State.Is(types.SpecStateSkipped | types.SpecStatePending):
				c.skipped++
			}
		}
		if !r.SuiteSucceeded && suiteFailures == 0 {
			suiteFailures = 1
			fmt.Fprintf(stderr, "FAILED suite %s (%s): %v\n", r.SuiteDescription, r.SuitePath, r.SpecialSuiteFailureReasons)
		}
		c.failed += suiteFailures
	}
	return c
}
