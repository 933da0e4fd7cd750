package webhook

import (
	"crypto/hmac"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// VerifyStandard returns middleware that checks the symmetric (HMAC) signature
// of the Standard Webhooks specification (github.com/standard-webhooks,
// spec/standard-webhooks.md), also sent by Svix:
//
//   - the secret is base64, optionally prefixed "whsec_";
//   - the signed content is "<webhook-id>.<webhook-timestamp>.<raw body>";
//   - "webhook-signature" is a space-separated list of "v1,<base64
//     HMAC-SHA256>"; one must match (other versions, such as the asymmetric
//     "v1a", are ignored);
//   - webhook-timestamp (unix seconds) must be within the tolerance of now,
//     both ways (default 5 minutes).
//
// The "svix-id", "svix-timestamp" and "svix-signature" headers are read when
// the "webhook-" ones are absent. The event id is signed, so Dedup with
// StandardWebhooks() after this verifier only ever claims authentic ids.
// A failed check gets 400 with the reason.
func VerifyStandard(secret string, opts ...VerifyOption) (func(http.Handler) http.Handler, error) {
	key, err := decodeStandardSecret(secret)
	if err != nil {
		return nil, err
	}
	return verifier(func(h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
		return checkStandard(key, h, body, now, tolerance)
	}, opts), nil
}

// SignStandard returns the "webhook-signature" header value a Standard
// Webhooks sender would send for the message id, timestamp and payload: for
// tests and local senders. The timestamp header to send is t.Unix().
func SignStandard(secret, id string, t time.Time, payload []byte) (string, error) {
	key, err := decodeStandardSecret(secret)
	if err != nil {
		return "", err
	}
	return "v1," + base64.StdEncoding.EncodeToString(standardMAC(key, id, strconv.FormatInt(t.Unix(), 10), payload)), nil
}

func decodeStandardSecret(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return nil, fmt.Errorf("webhook: Standard Webhooks secret is not base64: %w", err)
	}
	if len(key) == 0 {
		return nil, errEmptySecret("Standard Webhooks")
	}
	return key, nil
}

func standardMAC(key []byte, id, ts string, payload []byte) []byte {
	return hmacSHA256(key, []byte(id), []byte("."), []byte(ts), []byte("."), payload)
}

// standardHeader reads a Standard Webhooks header, or its Svix twin.
func standardHeader(h http.Header, name string) string {
	if v := h.Get("webhook-" + name); v != "" {
		return v
	}
	return h.Get("svix-" + name)
}

func checkStandard(key []byte, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	id, ts, header := standardHeader(h, "id"), standardHeader(h, "timestamp"), standardHeader(h, "signature")
	if id == "" || ts == "" || header == "" {
		return fmt.Errorf("%w: webhook-id, webhook-timestamp and webhook-signature are all required", ErrNoSignature)
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: webhook-timestamp %q is not unix seconds", ErrInvalidSignature, ts)
	}
	expected := standardMAC(key, id, ts, body)
	for _, item := range strings.Fields(header) {
		version, encoded, _ := strings.Cut(item, ",")
		if version != "v1" {
			continue
		}
		if sig, err := base64.StdEncoding.DecodeString(encoded); err == nil && hmac.Equal(sig, expected) {
			return checkTimestamp(time.Unix(unix, 0), now, tolerance)
		}
	}
	return fmt.Errorf("%w: no v1 signature in webhook-signature matches the message", ErrInvalidSignature)
}
