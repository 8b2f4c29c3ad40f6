package datadog_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// payloadFields are fields the worker logs that operators are told to read
// (and only log lines carry: metric labels such as reason or task_type
// are left out). In vets-api's semantic_logger envelope they sit under
// payload (docs/operations.md, "Logs"), so a text naming one bare sends
// the reader to a facet that does not exist.
var payloadFields = []string{
	"kind", "response_status", "response_body", "instance", "diagnostics", "error_class", "error_message",
	"upload_id", "lighthouse_document_request_id", "lighthouse_document_request_ids", "job_id",
}

// bareField is a payload field named without its payload. prefix: not
// after a dot or a word character, and not followed by one.
var bareField = regexp.MustCompile(`(^|[^.\w])(` + strings.Join(payloadFields, "|") + `)([^\w]|$)`)

// operatorTexts are what tells an operator which log fields to search:
// the alerts' annotations, the runbook, the Datadog monitors' messages and
// operations.md's alert table, each with where it comes from.
func operatorTexts() map[string]string {
	GinkgoHelper()
	out := map[string]string{}
	alerts, err := os.ReadFile("../prometheus/alerts.yml")
	Expect(err).NotTo(HaveOccurred())
	for i, l := range strings.Split(string(alerts), "\n") {
		if t := strings.TrimSpace(l); strings.HasPrefix(t, "runbook:") || strings.HasPrefix(t, "summary:") || strings.HasPrefix(t, "description:") {
			out["alerts.yml:"+strconv.Itoa(i+1)] = t
		}
	}
	runbook, err := os.ReadFile("../prometheus/runbook.md")
	Expect(err).NotTo(HaveOccurred())
	for i, l := range strings.Split(string(runbook), "\n") {
		out["runbook.md:"+strconv.Itoa(i+1)] = l
	}
	ops, err := os.ReadFile("../../docs/operations.md")
	Expect(err).NotTo(HaveOccurred())
	for i, l := range strings.Split(string(ops), "\n") {
		if strings.HasPrefix(l, "| Form526") {
			out["operations.md:"+strconv.Itoa(i+1)] = l
		}
	}
	files, err := filepath.Glob("monitors/*.json")
	Expect(err).NotTo(HaveOccurred())
	Expect(files).NotTo(BeEmpty())
	for _, f := range files {
		b, err := os.ReadFile(f)
		Expect(err).NotTo(HaveOccurred())
		var m struct {
			Message string `json:"message"`
		}
		Expect(json.Unmarshal(b, &m)).To(Succeed(), f)
		out[f] = m.Message
	}
	return out
}

var _ = Describe("The log fields operators are told to search", func() {
	It("are named as the semantic_logger envelope holds them: payload.<field>, never bare or key=value", func() {
		var bare []string
		for where, text := range operatorTexts() {
			for _, m := range bareField.FindAllStringSubmatch(text, -1) {
				bare = append(bare, where+": "+m[2])
			}
			if strings.Contains(text, "warn logs") || strings.Contains(text, "kind=") {
				bare = append(bare, where+": a level or field as the slog lines wrote it")
			}
		}
		Expect(bare).To(BeEmpty(), "name them payload.<field> (Datadog: @payload.<field>), the message as message, the level lower-case")
	})
})
