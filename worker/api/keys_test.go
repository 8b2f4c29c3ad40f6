package api_test

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"

	. "github.com/onsi/gomega"
)

// pubPEM is the PEM of a public key, as an attacker would find it.
func pubPEM(k *rsa.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(k)
	Expect(err).NotTo(HaveOccurred())
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}
