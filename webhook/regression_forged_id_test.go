package webhook_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/idemhttp/idemhttp/cache"
	"github.com/idemhttp/idemhttp/webhook"
)

// Shopify signs the body only (X-Shopify-Hmac-Sha256), not
// X-Shopify-Event-Id. As for GitHub, records are keyed on the id and a body
// digest, so a captured signed payload replayed under a real event's id does
// not mark that event handled: its real delivery is still handled.
func TestShopifyForgedEventIDDoesNotPoisonTheRealEvent(t *testing.T) {
	const secret = "shopify-app-secret"
	sign := func(body []byte) string {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write(body)
		return base64.StdEncoding.EncodeToString(m.Sum(nil))
	}
	// The user's own Shopify verifier, in front of Dedup as the docs ask.
	verify := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			if !hmac.Equal([]byte(r.Header.Get("X-Shopify-Hmac-Sha256")), []byte(sign(b))) {
				http.Error(w, "bad signature", http.StatusUnauthorized)
				return
			}
			r.Body = io.NopCloser(strings.NewReader(string(b)))
			next.ServeHTTP(w, r)
		})
	}
	var handled []string
	h := verify(webhook.Dedup(cache.NewMemory(), webhook.Shopify())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		handled = append(handled, string(b))
	})))
	send := func(id string, body []byte) int {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(body)))
		req.Header.Set("X-Shopify-Event-Id", id)
		req.Header.Set("X-Shopify-Hmac-Sha256", sign(body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code
	}
	old := []byte(`{"id":1,"topic":"orders/create"}`)
	real := []byte(`{"id":2,"topic":"orders/paid"}`)
	send("evt-old", old)
	send("evt-real", old) // attacker: captured signed payload, real event's id
	send("evt-real", real)
	for _, b := range handled {
		if b == string(real) {
			return
		}
	}
	t.Fatalf("the real event was never handled; handler saw %q", handled)
}
