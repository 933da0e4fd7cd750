package webhook_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"time"

	"github.com/idemhttp/idemhttp/cache"
	"github.com/idemhttp/idemhttp/webhook"
)

// send posts a delivery and prints what the sender sees.
func send(client *http.Client, url string, header http.Header, payload []byte) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		fmt.Println(err)
		return
	}
	req.Header = header
	resp, err := client.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Printf("sender got %d %q replayed=%q\n", resp.StatusCode, bytes.TrimSpace(body), resp.Header.Get("Idempotent-Replayed"))
}

// Stripe: verify the signature first, then de-duplicate by event id, then
// handle. The second delivery of evt_1 (after a lost acknowledgement) gets
// the recorded response; a forged delivery never reaches Dedup.
func ExampleDedup_stripe() {
	const secret = "whsec_example" // the endpoint's signing secret
	store := cache.NewMemory()     // or sqlite.Open / redis: any cache.Store

	verify, err := webhook.VerifyStripe(secret)
	if err != nil {
		panic(err)
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var event struct{ ID, Type string }
		if err := json.NewDecoder(r.Body).Decode(&event); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Println("handling", event.ID, event.Type)
		fmt.Fprintln(w, "thanks")
	})
	srv := httptest.NewServer(verify(webhook.Dedup(store, webhook.Stripe())(app)))
	defer srv.Close()

	payload := []byte(`{"id":"evt_1","object":"event","type":"invoice.paid"}`)
	signed := http.Header{"Stripe-Signature": {webhook.SignStripe(secret, time.Now(), payload)}}
	send(srv.Client(), srv.URL, signed, payload)
	send(srv.Client(), srv.URL, signed, payload) // redelivery
	forged := http.Header{"Stripe-Signature": {webhook.SignStripe("whsec_guess", time.Now(), payload)}}
	send(srv.Client(), srv.URL, forged, payload)
	// Output:
	// handling evt_1 invoice.paid
	// sender got 200 "thanks" replayed=""
	// sender got 200 "thanks" replayed="true"
	// sender got 400 "webhook: invalid signature: no v1 signature in Stripe-Signature matches the payload" replayed=""
}

// Standard Webhooks (and Svix): the webhook-id header names the event and is
// covered by the signature. A handler that fails is called again on the
// sender's retry; once it succeeds, retries get the recorded response.
func ExampleDedup_standardWebhooks() {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	verify, err := webhook.VerifyStandard(secret)
	if err != nil {
		panic(err)
	}
	attempts := 0
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attempts++
		if attempts == 1 {
			http.Error(w, "database busy", http.StatusServiceUnavailable)
			return
		}
		fmt.Println("handling", r.Header.Get("webhook-id"))
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(verify(webhook.Dedup(cache.NewMemory(), webhook.StandardWebhooks())(app)))
	defer srv.Close()

	payload := []byte(`{"type":"contact.created","data":{"id":"c_1"}}`)
	for range 3 { // the sender retries until it sees a 2xx, and once more
		now := time.Now()
		sig, err := webhook.SignStandard(secret, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", now, payload)
		if err != nil {
			panic(err)
		}
		send(srv.Client(), srv.URL, http.Header{
			"Webhook-Id":        {"msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"},
			"Webhook-Timestamp": {strconv.FormatInt(now.Unix(), 10)},
			"Webhook-Signature": {sig},
		}, payload)
	}
	// Output:
	// sender got 503 "database busy" replayed=""
	// handling msg_2KWPBgLlAfxdpx2AI54pPJ85f4W
	// sender got 204 "" replayed=""
	// sender got 204 "" replayed="true"
}

// SendGrid batches: each event is de-duplicated by sg_event_id and the
// handler is given only the new ones. (Verify SendGrid's signed event webhook
// with its own library before Dedup.)
func ExampleDedup_sendGrid() {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var events []struct {
			ID string `json:"sg_event_id"`
		}
		json.NewDecoder(r.Body).Decode(&events)
		fmt.Println("handling", events)
	})
	srv := httptest.NewServer(webhook.Dedup(cache.NewMemory(), webhook.SendGrid())(app))
	defer srv.Close()

	send(srv.Client(), srv.URL, http.Header{}, []byte(`[{"sg_event_id":"a"},{"sg_event_id":"b"}]`))
	send(srv.Client(), srv.URL, http.Header{}, []byte(`[{"sg_event_id":"b"},{"sg_event_id":"c"}]`))
	send(srv.Client(), srv.URL, http.Header{}, []byte(`[{"sg_event_id":"a"},{"sg_event_id":"c"}]`))
	// Output:
	// handling [{a} {b}]
	// sender got 200 "" replayed=""
	// handling [{c}]
	// sender got 200 "" replayed=""
	// sender got 200 "" replayed="true"
}
