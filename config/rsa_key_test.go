package config_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/config"
)

// Keys are slow to generate: one of each size for the whole suite.
var (
	rsaKey   *rsa.PrivateKey
	shortKey *rsa.PrivateKey
)

var _ = BeforeSuite(func() {
	var err error
	rsaKey, err = rsa.GenerateKey(rand.Reader, 2048)
	Expect(err).NotTo(HaveOccurred())
	shortKey, err = rsa.GenerateKey(rand.Reader, 1024)
	Expect(err).NotTo(HaveOccurred())
})

func pkcs1PEM(key *rsa.PrivateKey) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
}

func pkcs8PEM(key *rsa.PrivateKey) string {
	GinkgoHelper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	Expect(err).NotTo(HaveOccurred())
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

var _ = Describe("LIGHTHOUSE_RSA_KEY", func() {
	var environ []string

	BeforeEach(func() {
		environ = []string{"LIGHTHOUSE_CLIENT_ID=0oa-test-client"}
	})

	Context("when it holds PKCS#1 PEM text", func() {
		BeforeEach(func() {
			environ = append(environ, "LIGHTHOUSE_RSA_KEY="+pkcs1PEM(rsaKey))
		})

		It("parses the key and is configured to call Lighthouse", func() {
			cfg, err := config.Load(environ)
			Expect(err).NotTo(HaveOccurred())

			Expect(cfg.LighthousePrivateKey.Equal(rsaKey)).To(BeTrue())
			Expect(cfg.LighthouseConfigured()).To(BeTrue())
		})
	})

	Context("when it holds PKCS#8 PEM text", func() {
		BeforeEach(func() {
			environ = append(environ, "LIGHTHOUSE_RSA_KEY="+pkcs8PEM(rsaKey))
		})

		It("parses the key", func() {
			cfg, err := config.Load(environ)
			Expect(err).NotTo(HaveOccurred())

			Expect(cfg.LighthousePrivateKey.Equal(rsaKey)).To(BeTrue())
		})
	})

	Context("when it is the path of a PEM file", func() {
		BeforeEach(func() {
			path := filepath.Join(GinkgoT().TempDir(), "lighthouse.pem")
			Expect(os.WriteFile(path, []byte(pkcs1PEM(rsaKey)), 0o600)).To(Succeed())
			environ = append(environ, "LIGHTHOUSE_RSA_KEY="+path)
		})

		It("reads the key from the file", func() {
			cfg, err := config.Load(environ)
			Expect(err).NotTo(HaveOccurred())

			Expect(cfg.LighthousePrivateKey.Equal(rsaKey)).To(BeTrue())
		})
	})

	Context("when the PEM text is not a key", func() {
		var value string

		BeforeEach(func() {
			value = "-----BEGIN RSA PRIVATE KEY-----\nbm90LWEta2V5LXNlY3JldC1tYXRlcmlhbA==\n-----END RSA PRIVATE KEY-----\n"
			environ = append(environ, "LIGHTHOUSE_RSA_KEY="+value)
		})

		It("names the variable without its content", func() {
			_, err := config.Load(environ)

			Expect(problemVars(err)).To(ConsistOf("LIGHTHOUSE_RSA_KEY"))
			Expect(err.Error()).NotTo(ContainSubstring("bm90LWEta2V5LXNlY3JldC1tYXRlcmlhbA"))
			Expect(err.Error()).NotTo(ContainSubstring("BEGIN"))
		})
	})

	Context("when it names a file that does not exist", func() {
		var path string

		BeforeEach(func() {
			path = filepath.Join(GinkgoT().TempDir(), "missing-secret-key.pem")
			environ = append(environ, "LIGHTHOUSE_RSA_KEY="+path)
		})

		It("names the variable without the path", func() {
			_, err := config.Load(environ)

			Expect(problemVars(err)).To(ConsistOf("LIGHTHOUSE_RSA_KEY"))
			Expect(err.Error()).NotTo(ContainSubstring("missing-secret-key"))
		})
	})

	Context("when the key is shorter than 2048 bits", func() {
		BeforeEach(func() {
			environ = append(environ, "LIGHTHOUSE_RSA_KEY="+pkcs1PEM(shortKey))
		})

		It("refuses it", func() {
			_, err := config.Load(environ)

			Expect(problemVars(err)).To(ConsistOf("LIGHTHOUSE_RSA_KEY"))
			Expect(err).To(MatchError(ContainSubstring("shorter than 2048 bits")))
		})
	})
})
