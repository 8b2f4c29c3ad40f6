package httpapi

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// AuthConfig says which bearer tokens the API accepts: signed RS256 with the
// private half of RSAPublicKey or HS256 with HS256Secret (either or both),
// naming Issuer and Audience, with an exp; and, when RequiredScope is set,
// carrying it in "scope" (space separated) or "scp" (string or list).
type AuthConfig struct {
	RSAPublicKey  *rsa.PublicKey
	HS256Secret   []byte
	Issuer        string
	Audience      string
	RequiredScope string
	// Leeway absorbs clock skew on exp, nbf and iat; default 30s.
	Leeway time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Authenticator verifies bearer JWTs.
type Authenticator struct {
	cfg    AuthConfig
	parser *jwt.Parser
}

// NewAuthenticator checks cfg and builds an Authenticator.
func NewAuthenticator(cfg AuthConfig) (*Authenticator, error) {
	var methods []string
	if cfg.RSAPublicKey != nil {
		methods = append(methods, jwt.SigningMethodRS256.Alg())
	}
	if len(cfg.HS256Secret) > 0 {
		methods = append(methods, jwt.SigningMethodHS256.Alg())
	}
	switch {
	case len(methods) == 0:
		return nil, errors.New("httpapi: an RS256 public key or an HS256 secret is required")
	case cfg.Issuer == "" || cfg.Audience == "":
		return nil, errors.New("httpapi: the token issuer and audience are required")
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Authenticator{cfg: cfg, parser: jwt.NewParser(
		jwt.WithValidMethods(methods),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(cfg.Now),
	)}, nil
}

// claims are the token claims the API reads.
type claims struct {
	jwt.RegisteredClaims
	Scope string `json:"scope,omitempty"`
	Scp   any    `json:"scp,omitempty"`
}

func (c *claims) scopes() []string {
	out := strings.Fields(c.Scope)
	switch v := c.Scp.(type) {
	case string:
		out = append(out, strings.Fields(v)...)
	case []any:
		for _, s := range v {
			if str, ok := s.(string); ok {
				out = append(out, str)
			}
		}
	}
	return out
}

// authError is a refused request: 401, or 403 for a missing scope. Reason is
// from a small fixed set, for logs and metrics; never the token.
type authError struct {
	status int
	reason string
}

func (e *authError) Error() string { return "unauthorized: " + e.reason }

// verify checks the request's bearer token and returns its subject.
func (a *Authenticator) verify(r *http.Request) (string, error) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", &authError{status: http.StatusUnauthorized, reason: "missing_token"}
	}
	var c claims
	_, err := a.parser.ParseWithClaims(strings.TrimSpace(token), &c, a.key)
	if err != nil {
		return "", &authError{status: http.StatusUnauthorized, reason: tokenReason(err)}
	}
	if a.cfg.RequiredScope != "" && !slices.Contains(c.scopes(), a.cfg.RequiredScope) {
		return c.Subject, &authError{status: http.StatusForbidden, reason: "insufficient_scope"}
	}
	return c.Subject, nil
}

// key picks the verification key by the token's algorithm; WithValidMethods
// already refused any algorithm not configured, so an RS256 public key can
// never be used as an HMAC secret.
func (a *Authenticator) key(t *jwt.Token) (any, error) {
	switch t.Method {
	case jwt.SigningMethodRS256:
		return a.cfg.RSAPublicKey, nil
	case jwt.SigningMethodHS256:
		return a.cfg.HS256Secret, nil
	}
	return nil, fmt.Errorf("unexpected signing method %v", t.Header["alg"])
}

func tokenReason(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "expired"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "missing_claim"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "wrong_audience"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "wrong_issuer"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "not_yet_valid"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return "bad_signature"
	}
	return "malformed"
}

// challenge is the WWW-Authenticate header of a refusal (RFC 6750 3).
func challenge(e *authError) string {
	switch e.reason {
	case "missing_token":
		return `Bearer realm="lighthouse526"`
	case "insufficient_scope":
		return `Bearer realm="lighthouse526", error="insufficient_scope"`
	}
	return `Bearer realm="lighthouse526", error="invalid_token"`
}
