package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
)

// MonitorAuth says who may open the monitor (asynqmon): HTTP basic auth with
// Username and Password, or a bearer Token, or both. With neither, None must
// be set (the caller checks the address is loopback).
type MonitorAuth struct {
	Username, Password string
	Token              string
	None               bool
}

// Wrap puts next behind the configured authentication. Credentials are
// compared in constant time (through SHA-256 digests, so their length leaks
// nothing either).
func (a MonitorAuth) Wrap(next http.Handler) (http.Handler, error) {
	basic := a.Username != "" && a.Password != ""
	bearer := a.Token != ""
	if !basic && !bearer && !a.None {
		return nil, errors.New("httpapi: the monitor needs basic auth credentials or a token")
	}
	if a.None {
		return next, nil
	}
	user, pass, token := digest(a.Username), digest(a.Password), digest(a.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok := false
		if u, p, has := r.BasicAuth(); has && basic {
			ok = equal(user, digest(u))&equal(pass, digest(p)) == 1
		}
		scheme, tok, has := strings.Cut(r.Header.Get("Authorization"), " ")
		if has && bearer && strings.EqualFold(scheme, "Bearer") {
			ok = ok || equal(token, digest(strings.TrimSpace(tok))) == 1
		}
		if !ok {
			if basic {
				w.Header().Set("WWW-Authenticate", `Basic realm="lighthouse526 monitor", charset="UTF-8"`)
			} else {
				w.Header().Set("WWW-Authenticate", `Bearer realm="lighthouse526 monitor"`)
			}
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	}), nil
}

func digest(s string) []byte {
	d := sha256.Sum256([]byte(s))
	return d[:]
}

func equal(a, b []byte) int { return subtle.ConstantTimeCompare(a, b) }
