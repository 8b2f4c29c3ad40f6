package api

import (
	"crypto/rsa"
	"encoding/json"
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
// naming Issuer and Audience and a subject (the caller, whose poll requests
// are capped), with a numeric exp at most MaxLifetime after its iat (or after
// now, without iat); and, when RequiredScope is set, carrying it in "scope"
// (space separated) or "scp" (string or list).
type AuthConfig struct {
	RSAPublicKey  *rsa.PublicKey
	HS256Secret   []byte
	Issuer        string
	Audience      string
	RequiredScope string
	// MaxLifetime bounds exp − iat: a token good for a year is a standing
	// key once leaked; default DefaultMaxTokenLifetime.
	MaxLifetime time.Duration
	// Leeway absorbs clock skew on exp, nbf and iat; default 30s.
	Leeway time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// DefaultMaxTokenLifetime is AuthConfig.MaxLifetime's default.
const DefaultMaxTokenLifetime = time.Hour

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
		return nil, errors.New("api: an RS256 public key or an HS256 secret is required")
	case cfg.Issuer == "" || cfg.Audience == "":
		return nil, errors.New("api: the token issuer and audience are required")
	}
	if cfg.MaxLifetime == 0 {
		cfg.MaxLifetime = DefaultMaxTokenLifetime
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

// errNonNumericDate refuses a token whose exp, iat or nbf is not a JSON
// number: the JWT library would read "exp": "1900000000" as a date.
var errNonNumericDate = errors.New("exp, iat and nbf must be JSON numbers")

// plainClaims is claims without its UnmarshalJSON.
type plainClaims claims

// UnmarshalJSON refuses dates that are not JSON numbers (RFC 7519 2:
// NumericDate), then decodes the claims.
func (c *claims) UnmarshalJSON(b []byte) error {
	var dates struct {
		Exp json.RawMessage `json:"exp"`
		Iat json.RawMessage `json:"iat"`
		Nbf json.RawMessage `json:"nbf"`
	}
	if err := json.Unmarshal(b, &dates); err != nil {
		return err
	}
	for _, raw := range []json.RawMessage{dates.Exp, dates.Iat, dates.Nbf} {
		if len(raw) > 0 && (raw[0] == '"' || raw[0] == 'n' || raw[0] == 't' || raw[0] == 'f' || raw[0] == '[' || raw[0] == '{') {
			return errNonNumericDate
		}
	}
	return json.Unmarshal(b, (*plainClaims)(c))
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
	tok, err := a.parser.ParseWithClaims(strings.TrimSpace(token), &c, a.key)
	if err != nil {
		return "", &authError{status: http.StatusUnauthorized, reason: tokenReason(err)}
	}
	if _, ok := tok.Header["crit"]; ok {
		// RFC 7515 4.1.11: a JWS whose "crit" names an extension the
		// recipient does not understand is invalid. This API understands
		// none, and golang-jwt/jwt/v5 does not look at "crit" at all.
		return "", &authError{status: http.StatusUnauthorized, reason: "unsupported_crit"}
	}
	if strings.TrimSpace(c.Subject) == "" {
		return "", &authError{status: http.StatusUnauthorized, reason: "missing_claim"}
	}
	start := a.cfg.Now()
	if c.IssuedAt != nil {
		start = c.IssuedAt.Time
	}
	if c.ExpiresAt.Sub(start) > a.cfg.MaxLifetime+a.cfg.Leeway {
		return "", &authError{status: http.StatusUnauthorized, reason: "lifetime_too_long"}
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
	case errors.Is(err, errNonNumericDate):
		return "non_numeric_date"
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
