package webhook_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/idemhttp/idemhttp/cache"
	"github.com/idemhttp/idemhttp/webhook"
)

// Twilio signs the full URL (query included) and the POST parameters; with
// a GET webhook (a Voice/Messaging/StatusCallback method Twilio offers) the
// parameters are in the query and the body is empty. The record key digests
// the request URI too, so a captured signed GET request sent under a real
// event's idempotency token names another record and cannot mark that event
// handled.
func TestTwilioGetForgedTokenDoesNotPoisonTheRealEvent(t *testing.T) {
	var handled []string
	h := webhook.Dedup(cache.NewMemory(), webhook.Twilio())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handled = append(handled, r.URL.RawQuery)
	}))
	send := func(token, query string) int {
		req := httptest.NewRequest(http.MethodGet, "/voice?"+query, nil)
		req.Header.Set("I-Twilio-Idempotency-Token", token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code
	}
	send("tok-old", "CallSid=CAold&CallStatus=completed")  // genuine, captured
	send("tok-real", "CallSid=CAold&CallStatus=completed") // attacker: captured signed URL, real token
	send("tok-real", "CallSid=CAreal&CallStatus=ringing")  // the real event
	for _, q := range handled {
		if q == "CallSid=CAreal&CallStatus=ringing" {
			return
		}
	}
	t.Fatalf("the real Twilio GET event was never handled; handler saw %q", handled)
}
