package webhook_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/idemhttp/idemhttp/cache"
	"github.com/idemhttp/idemhttp/webhook"
)

func TestForgedDeliveryDoesNotPoisonTheRealEventID(t *testing.T) {
	for _, sc := range stores() {
		t.Run(sc.name+"/stripe", func(t *testing.T) {
			const secret = "whsec_real_endpoint_secret"
			store := sc.open(t)
			done := newEffects()
			verify, err := webhook.VerifyStripe(secret)
			if err != nil {
				t.Fatal(err)
			}
			srv := serve(t, verify(webhook.Dedup(store, webhook.Stripe())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				done.add(eventIDOf(t, r))
			}))))

			// The attacker knows a real event id, not the secret.
			payload := stripeEvent("evt_real")
			forged := http.Header{"Stripe-Signature": {webhook.SignStripe("whsec_guess", time.Now(), payload)}}
			unsigned := http.Header{}
			for _, h := range []http.Header{forged, unsigned, forged} {
				if got := post(t, srv.Client(), srv.URL, h, payload); got.status != http.StatusBadRequest {
					t.Fatalf("forged delivery got %d %q", got.status, got.body)
				}
			}
			if rec, found := recordOf(t, store, "webhook:stripe:evt_real"); found {
				t.Fatalf("a forged delivery left a record for the real id: %+v", rec)
			}

			real := http.Header{"Stripe-Signature": {webhook.SignStripe(secret, time.Now(), payload)}}
			if got := post(t, srv.Client(), srv.URL, real, payload); got.status != http.StatusOK || got.header.Get("Idempotent-Replayed") != "" {
				t.Fatalf("real delivery got %d replayed=%q", got.status, got.header.Get("Idempotent-Replayed"))
			}
			// A captured real delivery replayed within the tolerance is a duplicate.
			if got := post(t, srv.Client(), srv.URL, real, payload); got.header.Get("Idempotent-Replayed") != "true" {
				t.Fatalf("replayed real delivery was not de-duplicated: %d", got.status)
			}
			if n := done.of("evt_real"); n != 1 {
				t.Fatalf("real event handled %d times, want 1", n)
			}
		})
	}

	t.Run("standard webhooks", func(t *testing.T) {
		store := cache.NewMemory()
		done := newEffects()
		verify, err := webhook.VerifyStandard(standardSecret)
		if err != nil {
			t.Fatal(err)
		}
		srv := serve(t, verify(webhook.Dedup(store, webhook.StandardWebhooks())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			done.add(r.Header.Get("Webhook-Id"))
		}))))
		payload := []byte(`{"type":"invoice.paid"}`)
		now := time.Now()
		signed := func(secret, id string) http.Header {
			sig, err := webhook.SignStandard(secret, id, now, payload)
			if err != nil {
				t.Fatal(err)
			}
			return http.Header{"Webhook-Id": {id}, "Webhook-Timestamp": {strconv.FormatInt(now.Unix(), 10)}, "Webhook-Signature": {sig}}
		}
		// A real signature over another id, with the target id swapped in.
		swapped := signed(standardSecret, "msg_other")
		swapped.Set("Webhook-Id", "msg_target")
		for _, h := range []http.Header{signed("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "msg_target"), swapped} {
			if got := post(t, srv.Client(), srv.URL, h, payload); got.status != http.StatusBadRequest {
				t.Fatalf("forged delivery got %d %q", got.status, got.body)
			}
		}
		if _, found := recordOf(t, store, "webhook:standard-webhooks:msg_target"); found {
			t.Fatal("a forged delivery left a record for the target id")
		}
		for range 2 {
			if got := post(t, srv.Client(), srv.URL, signed(standardSecret, "msg_target"), payload); got.status != http.StatusOK {
				t.Fatalf("real delivery got %d %q", got.status, got.body)
			}
		}
		if n := done.of("msg_target"); n != 1 {
			t.Fatalf("real event handled %d times", n)
		}
	})
}
