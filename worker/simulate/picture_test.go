package simulate_test

import (
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/worker/simulate"
	"github.com/vagov/lighthouse526/worker/simulate/picture"
)

var _ = Describe("picture.Write", func() {
	var res *simulate.Result

	BeforeEach(func() {
		res = run(small())
	})

	It("writes an SVG with both panels", func() {
		path := filepath.Join(GinkgoT().TempDir(), "simulation.svg")
		Expect(picture.Write(path, res)).To(Succeed())
		b, err := os.ReadFile(path)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(b)).To(ContainSubstring("<svg"))
		Expect(string(b)).To(HaveSuffix("</svg>\n"))
		Expect(string(b)).To(ContainSubstring("Detection latency"))
		Expect(string(b)).To(ContainSubstring("calls per hour"))
	})

	It("writes a PNG when the name ends .png", func() {
		path := filepath.Join(GinkgoT().TempDir(), "simulation.PNG")
		Expect(picture.Write(path, res)).To(Succeed())
		b, err := os.ReadFile(path)
		Expect(err).NotTo(HaveOccurred())
		Expect(len(b)).To(BeNumerically(">", 10_000))
		Expect(b[:8]).To(Equal([]byte("\x89PNG\r\n\x1a\n")))
	})

	It("refuses another format and writes nothing", func() {
		path := filepath.Join(GinkgoT().TempDir(), "simulation.gif")
		Expect(picture.Write(path, res)).To(MatchError(ContainSubstring("want a .svg or .png file")))
		Expect(path).NotTo(BeAnExistingFile())
	})
})
