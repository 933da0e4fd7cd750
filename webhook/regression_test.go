package webhook_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/idemhttp/idemhttp/cache"
	"github.com/idemhttp/idemhttp/webhook"
)

// TestReviewFailOpenDoesNotBypassAHeldClaimWhenTheSenderHangsUp: WithFailOpen
// is for an unreachable store. A delivery whose sender hung up (its request
// context ended) makes Claim fail with the context's error; Dedup takes that
// for a store failure and runs the handler without de-duplication, while
// another delivery of the same event holds the claim: the event is handled
// twice.
func TestFailOpenDoesNotBypassAHeldClaimWhenTheSenderHangsUp(t *testing.T) {
	for _, sc := range stores() {
		t.Run(sc.name, func(t *testing.T) {
			store := sc.open(t)
			done := newEffects()
			entered, release := make(chan struct{}), make(chan struct{})
			var calls atomic.Int32
			h := webhook.Dedup(store, twilioLike(), webhook.WithFailOpen())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if calls.Add(1) == 1 {
					close(entered)
					<-release
				}
				done.add(r.Header.Get("I-Twilio-Idempotency-Token"))
			}))
			deliverDirect := func(ctx context.Context) int {
				req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/", strings.NewReader("x"))
				req.Header = twilioHeader("tok-1")
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				return w.Code
			}
			first := make(chan int, 1)
			go func() { first <- deliverDirect(context.Background()) }()
			<-entered // the first delivery holds the claim and is running

			gone, cancel := context.WithCancel(context.Background())
			cancel() // the duplicate's sender has hung up
			second := deliverDirect(gone)
			close(release)
			if code := <-first; code != http.StatusOK {
				t.Fatalf("first delivery got %d", code)
			}
			if n := done.of("tok-1"); n != 1 {
				t.Fatalf("event handled %d times (duplicate answered %d), want once", n, second)
			}
		})
	}
}

// TestReviewGitHubForgedDeliveryIDPoisonsTheRealEvent: GitHub signs the body
// only, not X-GitHub-Delivery. Anyone holding one signed payload (a logged or
// captured delivery) can send it under the delivery id of another event;
// Dedup records that id as handled, and the real event's delivery (or its
// manual redelivery, which keeps the GUID) is answered from the record and
// never handled. The design requires that a forged delivery never poisons the
// record of a real event id.
func TestGitHubForgedDeliveryIDPoisonsTheRealEvent(t *testing.T) {
	const secret = "github-endpoint-secret"
	verify, err := webhook.VerifyGitHub(secret)
	if err != nil {
		t.Fatal(err)
	}
	var handled []string
	h := verify(webhook.Dedup(cache.NewMemory(), webhook.GitHub())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		handled = append(handled, string(b))
	})))
	send := func(guid string, body []byte) int {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(body)))
		req.Header.Set("X-GitHub-Delivery", guid)
		req.Header.Set("X-Hub-Signature-256", webhook.SignGitHub(secret, body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code
	}
	old := []byte(`{"action":"opened","number":1}`)
	real := []byte(`{"action":"closed","number":2}`)
	send("11111111-1111-1111-1111-111111111111", old)
	// The attacker replays the old signed payload under the real event's GUID.
	send("22222222-2222-2222-2222-222222222222", old)
	send("22222222-2222-2222-2222-222222222222", real)

	for _, b := range handled {
		if b == string(real) {
			return
		}
	}
	t.Fatalf("the real event was never handled; handler saw %q", handled)
}

// TestReviewHeaderExtractorWithoutNamesDoesNotPanic: Header(sender) with no
// header names builds an extractor that panics (index out of range) on every
// delivery instead of reporting a missing id.
func TestHeaderExtractorWithoutNamesDoesNotPanic(t *testing.T) {
	h := webhook.Dedup(cache.NewMemory(), webhook.Header("acme"))(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer func() {
		if v := recover(); v != nil {
			t.Fatalf("delivery panicked: %v", v)
		}
	}()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", strings.NewReader("x")))
	if w.Code != http.StatusBadRequest && w.Code != http.StatusInternalServerError {
		t.Fatalf("got %d, want a 4xx/5xx naming the misconfiguration", w.Code)
	}
}
