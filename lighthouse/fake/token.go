package fake

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	maxAssertion  = 300 * time.Second
)

// Okta's error descriptions (the ones for signature, expiry and replay are
// unconfirmed wording; the code invalid_client is what matters).
const (
	descNoClient   = "A client_id must be provided in the request."
	descAudience   = "The audience claim for client_assertion must be the endpoint invoked for the request."
	descScope      = "One or more scopes are not configured for the authorization server resource."
	descSignature  = "The client_assertion signature is invalid."
	descExpired    = "The client_assertion token is expired."
	descLifetime   = "The client_assertion token has an expiration too far into the future."
	descReplay     = "The client_assertion token has already been used."
	descIssuer     = "The client_assertion iss and sub claims must be the client_id."
	descGrant      = "The authorization grant type is not supported by the authorization server."
	descMultiCreds = "Cannot supply multiple client credentials. Use one of the following: credentials in the Authorization header, credentials in the post body, or a client_assertion in the post body."
)

// serveToken is the token endpoint: client credentials with a private_key_jwt.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	faults := s.currentFaults()
	if s.chance(faults.SlowRate) && !sleepCtx(r, faults.SlowDelay) {
		return
	}
	if r.Method != http.MethodPost {
		writeGateway(w, http.StatusNotFound)
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "The request body is not form-encoded.")
		return
	}
	if faults.TokenFailure {
		oauthError(w, http.StatusUnauthorized, "invalid_client", descSignature)
		return
	}
	form := r.PostForm
	switch {
	case form.Get("client_id") != "" || r.Header.Get("Authorization") != "":
		oauthError(w, http.StatusBadRequest, "invalid_request", descMultiCreds)
		return
	case form.Get("client_assertion") == "" || form.Get("client_assertion_type") != assertionType:
		oauthError(w, http.StatusBadRequest, "invalid_client", descNoClient)
		return
	case form.Get("grant_type") != "client_credentials":
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", descGrant)
		return
	}
	if code, desc := s.verifyAssertion(form.Get("client_assertion")); code != 0 {
		oauthError(w, code, "invalid_client", desc)
		return
	}
	scope := strings.Fields(form.Get("scope"))
	if len(scope) == 0 || slices.ContainsFunc(scope, func(sc string) bool { return !slices.Contains(s.opts.Scopes, sc) }) {
		oauthError(w, http.StatusBadRequest, "invalid_scope", descScope)
		return
	}
	tok := make([]byte, 32)
	_, _ = rand.Read(tok)
	access := hex.EncodeToString(tok)
	s.mu.Lock()
	s.tokens[access] = s.now().Add(s.opts.TokenLifetime)
	s.issued++
	s.mu.Unlock()
	slices.Reverse(scope) // the recorded answer lists them the other way round
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": access,
		"token_type":   "Bearer",
		"scope":        strings.Join(scope, " "),
		"expires_in":   int(s.opts.TokenLifetime / time.Second),
		"state":        nil,
	})
}

// verifyAssertion checks the client assertion; a non-zero code is the HTTP
// status of the invalid_client answer.
func (s *Server) verifyAssertion(assertion string) (int, string) {
	claims := &jwt.RegisteredClaims{}
	_, err := jwt.ParseWithClaims(assertion, claims,
		func(*jwt.Token) (any, error) {
			if s.opts.PublicKey == nil {
				return nil, errors.New("no public key configured")
			}
			return s.opts.PublicKey, nil
		},
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithTimeFunc(s.now),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
	)
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return http.StatusUnauthorized, descExpired
	case err != nil:
		return http.StatusUnauthorized, descSignature
	case !slices.Contains(claims.Audience, s.opts.AudClaimURL):
		return http.StatusUnauthorized, descAudience
	case claims.Issuer != s.opts.ClientID || claims.Subject != s.opts.ClientID:
		return http.StatusUnauthorized, descIssuer
	case claims.IssuedAt == nil || claims.ExpiresAt.Sub(claims.IssuedAt.Time) > maxAssertion:
		return http.StatusUnauthorized, descLifetime
	}
	if claims.ID == "" {
		return 0, ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for jti, exp := range s.jtis {
		if now.After(exp) {
			delete(s.jtis, jti)
		}
	}
	if _, seen := s.jtis[claims.ID]; seen {
		return http.StatusUnauthorized, descReplay
	}
	s.jtis[claims.ID] = claims.ExpiresAt.Time
	return 0, ""
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// authorized reports whether r carries a live access token.
func (s *Server) authorized(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[tok]
	return ok && s.now().Before(exp)
}

// ExpireTokens makes every access token issued so far invalid.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// IssuedTokens counts the access tokens issued.
func (s *Server) IssuedTokens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued
}
