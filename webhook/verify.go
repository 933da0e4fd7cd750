package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"net/http"
	"time"
)

// VerifyOption configures a signature verifier.
type VerifyOption func(*verifyConfig)

type verifyConfig struct {
	tolerance time.Duration
	now       func() time.Time
	maxBody   int64
}

// DefaultTolerance is how far a signed timestamp may be from now, both ways,
// for schemes that sign one (Stripe, Standard Webhooks): the 5 minutes both
// specifications recommend.
const DefaultTolerance = 5 * time.Minute

// WithTolerance sets how far a signed timestamp may be from now (default
// DefaultTolerance). Values ≤ 0 keep the default.
func WithTolerance(d time.Duration) VerifyOption {
	return func(c *verifyConfig) {
		if d > 0 {
			c.tolerance = d
		}
	}
}

// WithClock sets the clock timestamps are checked against (default time.Now).
func WithClock(now func() time.Time) VerifyOption {
	return func(c *verifyConfig) {
		if now != nil {
			c.now = now
		}
	}
}

// WithVerifyMaxBodyBytes bounds the request body (default
// DefaultMaxBodyBytes); a longer one is refused with 413.
func WithVerifyMaxBodyBytes(n int64) VerifyOption {
	return func(c *verifyConfig) {
		if n > 0 {
			c.maxBody = n
		}
	}
}

// signatureCheck checks one delivery's signature headers against its body.
type signatureCheck func(h http.Header, body []byte, now time.Time, tolerance time.Duration) error

// verifier builds the middleware shared by every scheme: read the bounded
// body (left readable for the next handler), check it, and refuse a failed
// check with 400 and the reason, without calling the next handler.
func verifier(check signatureCheck, opts []VerifyOption) func(http.Handler) http.Handler {
	cfg := verifyConfig{tolerance: DefaultTolerance, now: time.Now, maxBody: DefaultMaxBodyBytes}
	for _, opt := range opts {
		opt(&cfg)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, err := readBody(r, cfg.maxBody)
			if err == nil {
				err = check(r.Header, body, cfg.now(), cfg.tolerance)
			}
			if err != nil {
				reject(w, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// hmacSHA256 is HMAC-SHA256 of the concatenated parts under key.
func hmacSHA256(key []byte, parts ...[]byte) []byte {
	mac := hmac.New(sha256.New, key)
	for _, p := range parts {
		mac.Write(p)
	}
	return mac.Sum(nil)
}

// checkTimestamp refuses a signed time further than tolerance from now.
func checkTimestamp(signed, now time.Time, tolerance time.Duration) error {
	if d := now.Sub(signed); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: signed at %s, %s from now (tolerance %s)",
			ErrTimestampOutOfRange, signed.UTC().Format(time.RFC3339), d.Round(time.Second), tolerance)
	}
	return nil
}

// errEmptySecret is returned by the verifier constructors.
func errEmptySecret(scheme string) error {
	return fmt.Errorf("webhook: %s verifier needs a non-empty secret", scheme)
}
