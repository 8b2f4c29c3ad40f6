//go:build dev

package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/vagov/lighthouse526/lighthouse/fake"
)

// Local defaults shared by the fake and the demo.
const (
	localClientID = "lighthouse526-local"
	localAud      = "https://deptva-eval.okta.com/oauth2/ausi3ui83fLa68IJv2p7/v1/token"
)

func fakeCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fake-lighthouse", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8095", "listen address")
	keyFile := fs.String("key-file", ".local/lighthouse_rsa_key.pem", "the client's RSA private key (PEM); created if missing. The fake verifies assertions with its public half")
	clientID := fs.String("client-id", localClientID, "the client id the fake accepts")
	aud := fs.String("aud", localAud, "the aud claim the fake accepts")
	rateLimit := fs.Int("rate-limit", 0, "requests per minute before 429 (0 = unlimited)")
	ceDuration := fs.Duration("claims-evidence-duration", 20*time.Second, "time an upload spends in CLAIMS_EVIDENCE")
	bgsDuration := fs.Duration("bgs-duration", 20*time.Second, "time an upload spends in BENEFITS_GATEWAY_SERVICE")
	failCE := fs.Float64("fail-claims-evidence", 0.05, "probability an upload fails at CLAIMS_EVIDENCE")
	failBGS := fs.Float64("fail-bgs", 0.05, "probability an upload fails at BENEFITS_GATEWAY_SERVICE")
	tokenLifetime := fs.Duration("token-lifetime", 600*time.Second, "lifetime of issued access tokens")
	seed := fs.Int64("seed", time.Now().UnixNano(), "random seed")
	if err := parseFlags(fs, args, stdout, "fake-lighthouse [--addr 127.0.0.1:8095] [--key-file PATH] [flags]", 0); err != nil {
		return err
	}
	var check flagCheck
	check.notNegative("rate-limit", int64(*rateLimit))
	check.notNegativeDuration("claims-evidence-duration", *ceDuration)
	check.notNegativeDuration("bgs-duration", *bgsDuration)
	check.positiveDuration("token-lifetime", *tokenLifetime)
	check.fraction("fail-claims-evidence", *failCE)
	check.fraction("fail-bgs", *failBGS)
	if err := check.err(); err != nil {
		return err
	}
	key, err := loadOrCreateKey(*keyFile)
	if err != nil {
		return err
	}
	srv := fake.New(fake.Options{
		PublicKey: &key.PublicKey, ClientID: *clientID, AudClaimURL: *aud,
		TokenLifetime: *tokenLifetime, RateLimitPerMinute: *rateLimit,
		ClaimsEvidenceDuration: *ceDuration, BGSDuration: *bgsDuration,
		FailClaimsEvidence: *failCE, FailBGS: *failBGS, Seed: *seed,
	})
	fmt.Fprintf(stdout, "fake Lighthouse on http://%s; point the worker at it with:\n", *addr)
	fmt.Fprintf(stdout, "  LIGHTHOUSE_HOST=http://%s LIGHTHOUSE_CLIENT_ID=%s LIGHTHOUSE_RSA_KEY=%s LIGHTHOUSE_AUD_CLAIM_URL=%s\n", *addr, *clientID, *keyFile, *aud)
	err = fake.ListenAndServe(ctx, *addr, srv)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// loadOrCreateKey reads a PEM RSA private key, or creates one (mode 0600).
func loadOrCreateKey(path string) (*rsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		key, perr := jwt.ParseRSAPrivateKeyFromPEM(b)
		if perr != nil {
			return nil, fmt.Errorf("--key-file %s: not a PEM RSA private key", path)
		}
		return key, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("--key-file: %w", err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(path, pemBytes, 0o600); err != nil {
		return nil, err
	}
	return key, nil
}
