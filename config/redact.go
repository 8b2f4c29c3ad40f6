package config

import (
	"fmt"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"unicode"
)

// secretVars never have their value printed.
var secretVars = map[string]bool{
	"LIGHTHOUSE_RSA_KEY":   true,
	"API_JWT_HS256_SECRET": true,
	"MONITOR_PASSWORD":     true,
	"MONITOR_TOKEN":        true,
}

// credentialURLVars are URLs that carry a password in their userinfo by
// design: secrets (IsSecret) as a whole.
var credentialURLVars = map[string]bool{
	"DATABASE_URL":      true,
	"REDIS_URL":         true,
	"SIDEKIQ_REDIS_URL": true,
}

// urlVars are URLs: a password in their userinfo and any secret query
// parameter are masked (an operator may paste a URL with ?access_token=...).
var urlVars = map[string]bool{
	"DATABASE_URL":             true,
	"REDIS_URL":                true,
	"SIDEKIQ_REDIS_URL":        true,
	"LIGHTHOUSE_HOST":          true,
	"LIGHTHOUSE_TOKEN_URL":     true,
	"LIGHTHOUSE_AUD_CLAIM_URL": true,
	"MONITOR_PROMETHEUS_ADDR":  true,
}

// secretParamWords: a query parameter whose name contains one of them
// (case-insensitive) holds a secret: password and sslpassword (pgx),
// access_token, id_token, client_secret, api_key, X-Amz-Signature, ...
var secretParamWords = []string{"password", "passwd", "secret", "token", "apikey", "api_key", "signature", "credential"}

// secretParamParts: a query parameter one of whose parts (its name split at
// punctuation and case changes: "sslKey" is ssl, key) is one of them holds
// a secret too: pwd, auth (and authorization), key (sslkey is a file's path,
// masked all the same), sig (SAS and signed URLs), code (an OAuth code),
// session, jwt, pass, otp.
var secretParamParts = []string{"pwd", "pass", "auth", "authorization", "key", "sig", "code", "session", "sid", "jwt", "otp", "hmac", "bearer", "cookie"}

// secretParam reports whether a query parameter's value is a secret.
func secretParam(name string) bool {
	lower := strings.ToLower(name)
	for _, w := range secretParamWords {
		if strings.Contains(lower, w) {
			return true
		}
	}
	for _, part := range nameParts(name) {
		for _, p := range secretParamParts {
			if part == p || strings.HasSuffix(part, p) {
				return true
			}
		}
	}
	return false
}

// nameParts splits a parameter name at anything not a letter or digit and
// where a lower-case letter meets an upper-case one, lower-cased:
// "X-Amz-Sig" is x, amz, sig; "sslKey" ssl, key.
func nameParts(name string) []string {
	var parts []string
	var cur []rune
	prevLower := false
	for _, r := range name {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			parts, cur = flush(parts, cur), nil
			prevLower = false
			continue
		case unicode.IsUpper(r) && prevLower:
			parts, cur = flush(parts, cur), nil
		}
		prevLower = unicode.IsLower(r)
		cur = append(cur, unicode.ToLower(r))
	}
	return flush(parts, cur)
}

func flush(parts []string, cur []rune) []string {
	if len(cur) > 0 {
		parts = append(parts, string(cur))
	}
	return parts
}

// Redacted returns every variable with its resolved value, secrets replaced
// by "[redacted]" and URL passwords by "xxxxx", in declaration order.
func (c *Config) Redacted() [][2]string {
	rv := reflect.ValueOf(c).Elem()
	rt := rv.Type()
	out := make([][2]string, 0, rt.NumField())
	for i := 0; i < rt.NumField(); i++ {
		name := rt.Field(i).Tag.Get("env")
		if name == "" || name == "-" {
			continue
		}
		out = append(out, [2]string{name, redactValue(name, rv.Field(i).Interface())})
	}
	return out
}

func redactValue(name string, v any) string {
	s := fmt.Sprint(v)
	if xs, ok := v.([]string); ok {
		s = strings.Join(xs, ",")
	}
	switch {
	case secretVars[name] && s != "":
		return "[redacted]"
	case urlVars[name]:
		return RedactURL(s)
	}
	return s
}

// RedactURL masks the secrets of a URL, for logs, errors and `worker
// config`: the password in its userinfo and the value of every query
// parameter that names a password, secret, token or key (see secretParam).
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "[unparseable URL]"
	}
	if q := u.Query(); len(q) > 0 {
		masked := false
		for k := range q {
			if secretParam(k) {
				q.Set(k, "xxxxx")
				masked = true
			}
		}
		if masked {
			u.RawQuery = q.Encode()
		}
	}
	return u.Redacted()
}

// String prints the redacted configuration, one KEY=value a line, control
// characters escaped (\x1b): a value never moves a terminal's cursor or
// forges a line.
func (c *Config) String() string {
	var b strings.Builder
	for _, kv := range c.Redacted() {
		fmt.Fprintf(&b, "%s=%s\n", kv[0], escapeControl(kv[1]))
	}
	return b.String()
}

// escapeControl writes s's control characters as Go escapes.
func escapeControl(s string) string {
	if !hasControl(s) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
