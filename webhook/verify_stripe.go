package webhook

import (
	"crypto/hmac"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// VerifyStripe returns middleware that checks Stripe's webhook signature
// before calling the next handler, per docs.stripe.com/webhooks (verify
// manually): the "Stripe-Signature" header holds "t=<unix time>" and one or
// more "v1=<hex>" (several while a secret is being rolled); a v1 must equal
// HMAC-SHA256, keyed with the endpoint secret ("whsec_…" taken as is), of
// "<t>.<raw body>"; and t must be within the tolerance of now (default 5
// minutes, both ways). Other schemes (v0) are ignored.
//
// A failed check gets 400 with the reason; the body stays readable for the
// next handler. Put it before Dedup:
//
//	verify, err := webhook.VerifyStripe(secret)
//	handler := verify(webhook.Dedup(store, webhook.Stripe())(app))
func VerifyStripe(secret string, opts ...VerifyOption) (func(http.Handler) http.Handler, error) {
	if secret == "" {
		return nil, errEmptySecret("Stripe")
	}
	key := []byte(secret)
	return verifier(func(h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
		return checkStripe(key, h.Get("Stripe-Signature"), body, now, tolerance)
	}, opts), nil
}

// SignStripe returns the "Stripe-Signature" header value Stripe would send
// for payload signed at t: for tests and local senders.
func SignStripe(secret string, t time.Time, payload []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(hmacSHA256([]byte(secret), []byte(ts), []byte("."), payload))
}

func checkStripe(key []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if header == "" {
		return fmt.Errorf("%w: no Stripe-Signature header", ErrNoSignature)
	}
	var ts string
	var signatures [][]byte
	for _, item := range strings.Split(header, ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(item), "=")
		switch name {
		case "t":
			ts = value
		case "v1":
			if sig, err := hex.DecodeString(value); err == nil {
				signatures = append(signatures, sig)
			}
		}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: Stripe-Signature has no valid timestamp", ErrInvalidSignature)
	}
	if len(signatures) == 0 {
		return fmt.Errorf("%w: Stripe-Signature has no v1 signature", ErrInvalidSignature)
	}
	expected := hmacSHA256(key, []byte(ts), []byte("."), body)
	for _, sig := range signatures {
		if hmac.Equal(sig, expected) {
			return checkTimestamp(time.Unix(unix, 0), now, tolerance)
		}
	}
	return fmt.Errorf("%w: no v1 signature in Stripe-Signature matches the payload", ErrInvalidSignature)
}
