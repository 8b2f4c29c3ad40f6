package datadog_test

import (
	"os"
	"regexp"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/yaml"
)

// runbookRow is a line of the runbook's Datadog table: monitor file, alert.
var runbookRow = regexp.MustCompile("^\\| `([a-z0-9-]+\\.json)` \\| ([A-Za-z0-9]+) \\|")

var _ = Describe("deploy/prometheus in step with the monitors", func() {
	It("has one runbook line per monitor, naming an alert of alerts.yml", func() {
		b, err := os.ReadFile("../prometheus/alerts.yml")
		Expect(err).NotTo(HaveOccurred())
		var rules struct {
			Groups []struct {
				Rules []struct {
					Alert string `json:"alert"`
				} `json:"rules"`
			} `json:"groups"`
		}
		Expect(yaml.Unmarshal(b, &rules)).To(Succeed())
		alerts := map[string]bool{}
		for _, g := range rules.Groups {
			for _, r := range g.Rules {
				alerts[r.Alert] = true
			}
		}
		Expect(alerts).NotTo(BeEmpty())

		runbook, err := os.ReadFile("../prometheus/runbook.md")
		Expect(err).NotTo(HaveOccurred())
		lines := map[string]string{}
		for _, l := range strings.Split(string(runbook), "\n") {
			if m := runbookRow.FindStringSubmatch(l); m != nil {
				Expect(lines).NotTo(HaveKey(m[1]), "two runbook lines for %s", m[1])
				lines[m[1]] = m[2]
			}
		}

		monitors, err := loadMonitors("monitors")
		Expect(err).NotTo(HaveOccurred())
		Expect(lines).To(HaveLen(len(monitors)), "runbook lines for monitors that do not exist")
		for _, m := range monitors {
			Expect(lines).To(HaveKey(m.Name), "no runbook line for %s", m.Name)
			Expect(alerts).To(HaveKey(lines[m.Name]), "%s: no alert %s in alerts.yml", m.Name, lines[m.Name])
		}
	})
})
