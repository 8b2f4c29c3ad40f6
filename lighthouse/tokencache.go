package lighthouse

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"

	"github.com/redis/go-redis/v9"
)

// tokenCacheInfo names the derived key's purpose (HKDF's info): a key for
// anything else derived from the same RSA key differs from this one.
const tokenCacheInfo = "lighthouse526 access token cache v1"

// tokenSealer encrypts the access token cached in Redis. Redis is shared by
// every replica and often by other applications, its backups and MONITOR
// output: a token there in clear text is a bearer credential for Lighthouse
// to whoever reads it. The key is derived (HKDF-SHA256) from the RSA key's
// private exponent, which every replica holds and nobody else does, so every
// replica can read the cache and a reader of Redis alone cannot. AES-256-GCM
// with the Redis key name as additional data: a value copied under another
// key, altered, or written by a client with another RSA key does not open,
// and is treated as a miss.
type tokenSealer struct {
	aead cipher.AEAD
}

func newTokenSealer(key *rsa.PrivateKey) (*tokenSealer, error) {
	k, err := hkdf.Key(sha256.New, key.D.Bytes(), nil, tokenCacheInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("lighthouse: token cache key: %w", err)
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, fmt.Errorf("lighthouse: token cache key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("lighthouse: token cache key: %w", err)
	}
	return &tokenSealer{aead: aead}, nil
}

// seal encrypts plaintext for the Redis key name: base64url of nonce and
// ciphertext.
func (s *tokenSealer) seal(plaintext []byte, name string) string {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	_, _ = rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plaintext, []byte(name)))
}

// errUnsealed is a cached value that does not open: written by another key,
// an older version, or altered.
var errUnsealed = errors.New("lighthouse: the cached token does not decrypt")

func (s *tokenSealer) open(sealed []byte, name string) ([]byte, error) {
	raw := make([]byte, base64.RawURLEncoding.DecodedLen(len(sealed)))
	n, err := base64.RawURLEncoding.Decode(raw, sealed)
	if err != nil || n < s.aead.NonceSize() {
		return nil, errUnsealed
	}
	raw = raw[:n]
	plain, err := s.aead.Open(nil, raw[:s.aead.NonceSize()], raw[s.aead.NonceSize():], []byte(name))
	if err != nil {
		return nil, errUnsealed
	}
	return plain, nil
}

// deleteIfEqual deletes a key only while it still holds the given value: a
// lock only by its holder, a refused token only if no other caller replaced it.
var deleteIfEqual = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0`)

// tokenFlights tracks the callers waiting on this process's token fetch.
// The fetch runs without any one caller's cancellation (one caller giving up
// must not fail the others), but once the last caller has given up, or the
// client is closed, it is cancelled: a process stopping (SIGTERM) mid-fetch
// then releases the fetch lock at once, instead of leaving it for the next
// process to wait out (its TTL, one request timeout).
type tokenFlights struct {
	mu      sync.Mutex
	waiters int
	ctx     context.Context
	cancel  context.CancelFunc
}

// join counts a caller in and returns the context the fetch runs with.
func (c *Client) joinFlight(ctx context.Context) context.Context {
	f := &c.flights
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ctx == nil {
		fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		stop := context.AfterFunc(c.life, cancel)
		f.ctx, f.cancel = fctx, func() { stop(); cancel() }
	}
	f.waiters++
	return f.ctx
}

// leaveFlight counts a caller out; the last one out cancels the fetch (a
// no-op when it is done) and reports true.
func (c *Client) leaveFlight() bool {
	f := &c.flights
	f.mu.Lock()
	defer f.mu.Unlock()
	f.waiters--
	if f.waiters > 0 {
		return false
	}
	f.cancel()
	c.flight.Forget("token") // a later caller starts a fetch of its own
	f.ctx, f.cancel = nil, nil
	return true
}

// Close cancels a token fetch in progress, waits until it has released its
// lock, and refuses later calls. It does not close the Redis client.
func (c *Client) Close() {
	c.stop()
	c.callers.Wait()
}
