package config_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/config"
)

var _ = Describe("The enqueue API and monitor variables", func() {
	Context("when the monitor has no authentication", func() {
		It("refuses to serve it unless MONITOR_AUTH=none on a loopback address", func() {
			cfg, err := config.Load(nil)
			Expect(err).NotTo(HaveOccurred())
			Expect(problemVars(cfg.RequireMonitor())).To(ConsistOf("MONITOR_USERNAME"))

			cfg, err = config.Load([]string{"MONITOR_AUTH=none"})
			Expect(err).NotTo(HaveOccurred())
			Expect(cfg.RequireMonitor()).To(Succeed())

			_, err = config.Load([]string{"MONITOR_AUTH=none", "MONITOR_ADDR=0.0.0.0:9480"})
			Expect(problemVars(err)).To(ConsistOf("MONITOR_AUTH"))
		})

		It("wants the user and password together", func() {
			_, err := config.Load([]string{"MONITOR_USERNAME=ops"})
			Expect(problemVars(err)).To(ConsistOf("MONITOR_PASSWORD"))
		})
	})

	Context("when the API is configured", func() {
		It("needs a key, an issuer and an audience to serve it", func() {
			cfg, err := config.Load(nil)
			Expect(err).NotTo(HaveOccurred())
			Expect(problemVars(cfg.RequireAPI())).To(ConsistOf("API_JWT_PUBLIC_KEY", "API_JWT_ISSUER", "API_JWT_AUDIENCE"))
		})

		It("parses an RS256 public key and refuses a short HS256 secret", func() {
			key, err := rsa.GenerateKey(rand.Reader, 2048)
			Expect(err).NotTo(HaveOccurred())
			der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
			Expect(err).NotTo(HaveOccurred())
			pub := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
			cfg, err := config.Load([]string{"API_JWT_PUBLIC_KEY=" + pub, "API_JWT_ISSUER=i", "API_JWT_AUDIENCE=a"})
			Expect(err).NotTo(HaveOccurred())
			Expect(cfg.APIPublicKey.N).To(Equal(key.N))
			Expect(cfg.RequireAPI()).To(Succeed())

			_, err = config.Load([]string{"API_JWT_HS256_SECRET=short"})
			Expect(problemVars(err)).To(ConsistOf("API_JWT_HS256_SECRET"))
		})
	})

	It("never prints the API secret or the monitor's credentials", func() {
		cfg, err := config.Load([]string{
			"API_JWT_HS256_SECRET=" + strongHS256Secret, "MONITOR_USERNAME=ops",
			"MONITOR_PASSWORD=monitor-pass-0123456789", "MONITOR_TOKEN=monitor-token-0123456789",
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.String()).NotTo(ContainSubstring(strongHS256Secret))
		Expect(cfg.String()).NotTo(ContainSubstring("monitor-pass-0123456789"))
		Expect(cfg.String()).NotTo(ContainSubstring("monitor-token-0123456789"))
		Expect(cfg.String()).To(ContainSubstring("MONITOR_USERNAME=ops"))
	})
})

var _ = Describe("MONITOR_OPS_ADDR", func() {
	It("is off by default, and a host:port other than MONITOR_ADDR when set", func() {
		cfg, err := config.Load(nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.MonitorOpsAddr).To(BeEmpty())

		cfg, err = config.Load([]string{"MONITOR_OPS_ADDR=0.0.0.0:9464"})
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.MonitorOpsAddr).To(Equal("0.0.0.0:9464"))

		_, err = config.Load([]string{"MONITOR_OPS_ADDR=9464"})
		Expect(problemVars(err)).To(ConsistOf("MONITOR_OPS_ADDR"))
		_, err = config.Load([]string{"MONITOR_ADDR=127.0.0.1:9480", "MONITOR_OPS_ADDR=127.0.0.1:9480"})
		Expect(problemVars(err)).To(ConsistOf("MONITOR_OPS_ADDR"))
	})
})
