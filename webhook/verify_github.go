package webhook

import (
	"crypto/hmac"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// VerifyGitHub returns middleware that checks GitHub's webhook signature
// (docs.github.com, "Validating webhook deliveries"): "X-Hub-Signature-256"
// is "sha256=" and the hex HMAC-SHA256 of the raw body keyed with the
// webhook secret. GitHub signs no timestamp and not the X-GitHub-Delivery
// header, so replays of a captured delivery cannot be refused by time; Dedup
// with GitHub() after this verifier refuses those that reuse its delivery id.
// A failed check gets 400 with the reason.
func VerifyGitHub(secret string, opts ...VerifyOption) (func(http.Handler) http.Handler, error) {
	if secret == "" {
		return nil, errEmptySecret("GitHub")
	}
	key := []byte(secret)
	return verifier(func(h http.Header, body []byte, _ time.Time, _ time.Duration) error {
		return checkGitHub(key, h.Get("X-Hub-Signature-256"), body)
	}, opts), nil
}

// SignGitHub returns the "X-Hub-Signature-256" header value GitHub would send
// for payload: for tests and local senders.
func SignGitHub(secret string, payload []byte) string {
	return "sha256=" + hex.EncodeToString(hmacSHA256([]byte(secret), payload))
}

func checkGitHub(key []byte, header string, body []byte) error {
	if header == "" {
		return fmt.Errorf("%w: no X-Hub-Signature-256 header", ErrNoSignature)
	}
	encoded, ok := strings.CutPrefix(header, "sha256=")
	sig, err := hex.DecodeString(encoded)
	if !ok || err != nil {
		return fmt.Errorf("%w: X-Hub-Signature-256 is not sha256=<hex>", ErrInvalidSignature)
	}
	if !hmac.Equal(sig, hmacSHA256(key, body)) {
		return fmt.Errorf("%w: X-Hub-Signature-256 does not match the payload", ErrInvalidSignature)
	}
	return nil
}
