package semanticlogger_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestSemanticLogger(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "SemanticLogger")
}

// lines decodes every line written to buf, failing on one that is not a
// JSON object.
func lines(buf *bytes.Buffer) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(buf.Bytes()))
	for sc.Scan() {
		var e map[string]any
		Expect(json.Unmarshal(sc.Bytes(), &e)).To(Succeed(), "line %q", sc.Text())
		out = append(out, e)
	}
	return out
}

// keysOf returns a JSON object's keys in the order they were written.
func keysOf(line []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(line))
	tok, err := dec.Token()
	Expect(err).NotTo(HaveOccurred())
	Expect(tok).To(Equal(json.Delim('{')))
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		Expect(err).NotTo(HaveOccurred())
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		Expect(dec.Decode(&skip)).To(Succeed())
	}
	return keys
}
