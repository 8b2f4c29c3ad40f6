package lighthouse

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vagov/lighthouse526/db/dbtest"
)

// Fuzz tests of the decoders of Lighthouse's error and token answers, which
// come from outside (the API, its gateway, a proxy, Okta). Run each with
// `go test -run '^$' -fuzz '^FuzzX$' -fuzztime 60s ./lighthouse` (make fuzz).

// FuzzNewAPIError: any non-2xx body gives an *APIError that classifies the
// status alone, never panics, and whose message is one bounded line.
func FuzzNewAPIError(f *testing.F) {
	for _, s := range []struct {
		status int
		body   string
	}{
		{404, `{"errors":[{"detail":"Upload Request Async Status Not Found","status":404,"title":"Not Found","instance":"062dd917-a229-42d7-ad39-741eb81766a8","diagnostics":"7YODuWbVvC0k+iFgaQC0SrlARmYKPKz4"}]}`},
		{429, `{"message":"API rate limit exceeded"}`},
		{500, `{"status":500,"error":"Failed to verify payload."}`},
		{502, "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n</html>\r\n"},
		{503, ``},
		{400, `{"errors":[{"detail":"a\nb","status":"400","instance":"x\r\ny","diagnostics":"\u0000"}]}`},
		{404, `{"message":"no Route matched with those values"}`},
		{401, `{"status":401,"error":"Invalid token.","path":"/x"}`},
		{500, `{"errors":null,"message":null,"error":null}`},
	} {
		f.Add(s.status, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if len(body) > maxErrorBytes {
			body = body[:maxErrorBytes] // what roundTrip reads at most
		}
		e := newAPIError(endpointUploadsStatus, status, body)
		if e.StatusCode != status || e.Retryable != retryableStatus(status) {
			t.Fatalf("classification depends on the body: %+v", e)
		}
		if errors.Is(e, ErrNotFound) != (status == 404 && len(e.Errors) > 0) {
			t.Fatalf("ErrNotFound mismatch for %d: %+v", status, e)
		}
		msg := e.Error()
		if strings.ContainsAny(msg, "\r\n\x00") {
			t.Fatalf("error message is not one line: %q", msg)
		}
		if len(msg) > 2048 {
			t.Fatalf("error message of %d bytes from a %d-byte body", len(msg), len(body))
		}
	})
}

// FuzzTokenAnswer: whatever the token endpoint answers, fetchToken returns
// either the access_token it sent with a 200 or a typed error, never panics,
// and caches nothing but a token it returned.
func FuzzTokenAnswer(f *testing.F) {
	for _, s := range []struct {
		status int
		body   string
	}{
		{200, `{"access_token":"eyJ.a.b","token_type":"Bearer","scope":"documents.write documents.read","expires_in":600,"state":null}`},
		{200, `{"access_token":"","expires_in":600}`},
		{200, `{"access_token":"t","expires_in":0}`},
		{200, `{"access_token":"t","expires_in":-5}`},
		{200, `{"access_token":"t","expires_in":9223372036854775807}`},
		{200, `{"access_token":1}`},
		{200, `<html>`},
		{400, `{"error":"invalid_client","error_description":"A client_id must be provided in the request."}`},
		{401, `{"error":"invalid_client","error_description":"The audience claim for client_assertion must be the endpoint invoked for the request."}`},
		{503, "<html><body>503</body></html>"},
	} {
		f.Add(s.status, []byte(s.body))
	}
	var (
		mu     sync.Mutex
		status int
		body   []byte
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		st, b := status, body
		mu.Unlock()
		w.WriteHeader(st)
		_, _ = w.Write(b)
	}))
	defer srv.Close()
	rdb := redis.NewClient(&redis.Options{Addr: dbtest.RedisAddr(), DB: dbtest.RedisDBShared})
	defer rdb.Close()
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		f.Fatalf("Redis is required at %s: %v", dbtest.RedisAddr(), err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		f.Fatal(err)
	}
	prefix := fmt.Sprintf("lighthouse526:fuzz-token:%d:", os.Getpid())
	c, err := NewClient(Config{
		BaseURL: srv.URL + "/services/benefits-documents/v1", TokenURL: srv.URL + "/token",
		AudClaimURL: srv.URL + "/aud", ClientID: "fuzz", PrivateKey: key,
		Timeout: 5 * time.Second, RedisPrefix: prefix,
	}, rdb)
	if err != nil {
		f.Fatal(err)
	}
	defer rdb.Del(context.Background(), prefix+"token", prefix+"token:lock")

	f.Fuzz(func(t *testing.T, st int, b []byte) {
		if st < 200 || st > 599 {
			st = 200 + (abs(st) % 400)
		}
		mu.Lock()
		status, body = st, b
		mu.Unlock()
		ctx := context.Background()
		rdb.Del(ctx, prefix+"token")
		tok, err := c.fetchToken(ctx)
		cached, _ := rdb.Get(ctx, prefix+"token").Result()
		if err != nil {
			var te *TokenError
			if !errors.As(err, &te) && !errors.Is(err, ErrMalformedResponse) {
				t.Fatalf("untyped token error: %v", err)
			}
			if cached != "" {
				t.Fatalf("a failed answer left a cached token: %q", cached)
			}
			if strings.ContainsAny(err.Error(), "\r\n\x00") {
				t.Fatalf("token error is not one line: %q", err.Error())
			}
			return
		}
		fromCache, ok := c.openToken([]byte(cached))
		if st != http.StatusOK || tok == "" || !ok || fromCache.AccessToken != tok {
			t.Fatalf("status %d gave token %q (cached %q)", st, tok, cached)
		}
	})
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
