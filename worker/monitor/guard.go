package monitor

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"

	"golang.org/x/net/html"
)

// XSRF cookie and header: asynqmon's UI calls its API through axios, which
// copies the XSRF-TOKEN cookie into an X-XSRF-TOKEN header on every
// same-origin request (axios's defaults; the UI sets no header of its own).
// A page of another origin can neither read the cookie nor send the header
// without a CORS preflight, which the monitor never grants.
const (
	xsrfCookie = "XSRF-TOKEN"
	xsrfHeader = "X-XSRF-TOKEN"
)

// Guard protects the monitor's pages and API from a browser that an
// attacker's page drives: in read-write mode a cross-site request could
// delete or run tasks with the operator's cached basic auth credentials.
type Guard struct {
	// Root is where the monitor is served ("/monitor").
	Root string
	// Addr is MONITOR_ADDR. When CheckHost is set (authentication off), a
	// request must name it (or, on loopback, localhost or 127.0.0.1 with
	// its port) in Host: a DNS-rebinding page cannot reach the monitor.
	Addr      string
	CheckHost bool
	// ScriptHashes are the CSP sources ('sha256-...') of the inline scripts
	// of the UI's index page (see InlineScriptHashes).
	ScriptHashes []string
	Logger       *slog.Logger
}

// Wrap puts next (the authenticated monitor) behind the guard: security
// headers on every answer, the Host check, the refusal of cross-origin and
// header-less mutating calls, and a log line for every mutating call with
// who made it.
func (g Guard) Wrap(next http.Handler) http.Handler {
	if g.Logger == nil {
		g.Logger = slog.New(slog.DiscardHandler)
	}
	csp := g.contentSecurityPolicy()
	hosts := allowedHosts(g.Addr)
	crossOrigin := http.NewCrossOriginProtection()
	crossOrigin.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.Logger.WarnContext(r.Context(), "monitor refused a cross-origin request", "method", r.Method, "path", r.URL.Path,
			"remote_addr", clientAddr(r), "origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
		http.Error(w, "cross-origin requests are refused", http.StatusForbidden)
	}))
	mutating := crossOrigin.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !sameXSRF(r) {
			g.Logger.WarnContext(r.Context(), "monitor refused a call without its XSRF header", "method", r.Method, "path", r.URL.Path,
				"user", User(r.Context()), "remote_addr", clientAddr(r))
			http.Error(w, "a changing call needs the X-XSRF-TOKEN header equal to the XSRF-TOKEN cookie (the monitor's page sends it)", http.StatusForbidden)
			return
		}
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		g.Logger.InfoContext(r.Context(), "monitor action", "user", User(r.Context()), "method", r.Method,
			"path", r.URL.Path, "status", rec.status, "remote_addr", clientAddr(r))
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		if g.CheckHost && !hosts[strings.ToLower(r.Host)] {
			g.Logger.WarnContext(r.Context(), "monitor refused a request for another host", "host", r.Host, "remote_addr", clientAddr(r))
			http.Error(w, "this monitor does not serve that Host", http.StatusMisdirectedRequest)
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			setXSRFCookie(w, r, g.Root)
			next.ServeHTTP(w, r)
		default:
			mutating.ServeHTTP(w, r)
		}
	})
}

// contentSecurityPolicy lets the UI load its own scripts (and its two inline
// ones, by hash), styles (Material UI injects <style> elements, hence
// 'unsafe-inline' for styles only) and the Google fonts its page links,
// call only its own API, and be framed by nobody.
func (g Guard) contentSecurityPolicy() string {
	script := append([]string{"'self'"}, g.ScriptHashes...)
	return strings.Join([]string{
		"default-src 'none'",
		"script-src " + strings.Join(script, " "),
		"style-src 'self' 'unsafe-inline' https://fonts.googleapis.com",
		"font-src 'self' https://fonts.gstatic.com",
		"img-src 'self' data:",
		"connect-src 'self'",
		"manifest-src 'self'",
		"base-uri 'none'",
		"form-action 'none'",
		"frame-ancestors 'none'",
	}, "; ")
}

// allowedHosts are the Host values a request may carry: addr itself and, when
// it listens on loopback, the loopback names with its port.
func allowedHosts(addr string) map[string]bool {
	hosts := map[string]bool{strings.ToLower(addr): true}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return hosts
	}
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		for _, h := range []string{"localhost", "127.0.0.1", "[::1]"} {
			hosts[h+":"+port] = true
		}
	}
	return hosts
}

// setXSRFCookie gives the browser an XSRF token unless it has one.
func setXSRFCookie(w http.ResponseWriter, r *http.Request, root string) {
	if c, err := r.Cookie(xsrfCookie); err == nil && len(c.Value) >= 32 {
		return
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	// Not HttpOnly: the UI's script must read it to send the header (that
	// is the defence: a page of another origin cannot). Secure only over
	// TLS: a browser drops a Secure cookie set over plain HTTP.
	http.SetCookie(w, &http.Cookie{ //nolint:gosec // G124: see above
		Name: xsrfCookie, Value: base64.RawURLEncoding.EncodeToString(b),
		Path: root, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
}

// sameXSRF reports whether the request carries the XSRF header, equal to its
// cookie.
func sameXSRF(r *http.Request) bool {
	c, err := r.Cookie(xsrfCookie)
	header := r.Header.Get(xsrfHeader)
	return err == nil && len(c.Value) >= 32 && subtle.ConstantTimeCompare([]byte(c.Value), []byte(header)) == 1
}

// statusRecorder remembers the status of an answer.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// InlineScriptHashes renders the page h serves at path and returns the CSP
// sources ('sha256-...') of its inline scripts, so a Content-Security-Policy
// can allow exactly them rather than every inline script ('unsafe-inline').
// asynqmon fills its index page from a template at each request, always the
// same for one configuration.
func InlineScriptHashes(h http.Handler, path string) ([]string, error) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	if rec.Code != http.StatusOK {
		return nil, fmt.Errorf("monitor: %s answered %d", path, rec.Code)
	}
	var hashes []string
	z := html.NewTokenizer(rec.Body)
	inScript := false
	for {
		switch z.Next() {
		case html.ErrorToken:
			if errors.Is(z.Err(), io.EOF) {
				return hashes, nil
			}
			return nil, fmt.Errorf("monitor: %s: %w", path, z.Err())
		case html.StartTagToken:
			t := z.Token()
			inScript = t.Data == "script" && !hasAttr(t, "src")
		case html.TextToken:
			if inScript {
				sum := sha256.Sum256(z.Raw())
				hashes = append(hashes, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'")
			}
		default:
			inScript = false
		}
	}
}

func hasAttr(t html.Token, name string) bool {
	for _, a := range t.Attr {
		if a.Key == name {
			return true
		}
	}
	return false
}
