package idemhttp_test

import (
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"

	"github.com/idemhttp/idemhttp"
	"github.com/idemhttp/idemhttp/cache"
	"github.com/idemhttp/idemhttp/providers"
)

// PROVIDERS.md: Checkout.com keeps only 2xx responses under a key. A 500
// that follows an executed payment is not recorded by the server, and a
// re-send with the same key would execute the payment again: within the
// call, a 500 is retried only for providers that keep their errors (Stripe).
func TestCheckout500NotResentWithinTheCall(t *testing.T) {
	const url = "https://api.checkout.com/payments"
	m := httpmock.NewMockTransport()
	var mu sync.Mutex
	kept := map[string]bool{} // keys whose 2xx the server kept
	charges := 0
	m.RegisterResponder("POST", url, func(req *http.Request) (*http.Response, error) {
		mu.Lock()
		defer mu.Unlock()
		k := req.Header.Get("Cko-Idempotency-Key")
		if kept[k] {
			return httpmock.NewStringResponse(201, `{"id":"pay_1"}`), nil
		}
		charges++ // the payment executes
		if charges == 1 {
			return httpmock.NewStringResponse(500, ``), nil // failure after execution: not kept
		}
		kept[k] = true
		return httpmock.NewStringResponse(201, `{"id":"pay_2"}`), nil
	})
	tr := idemhttp.New(idemhttp.WithBase(m), idemhttp.WithPolicy(fastPolicy()), idemhttp.WithProviders(providers.CheckoutCom()))
	resp, _, err := roundTrip(t, tr, reqSpec{url: url, contentType: jsonCT, body: `{"amount":1000,"currency":"EUR"}`})
	if err != nil {
		t.Fatal(err)
	}
	if charges != 1 {
		t.Errorf("one call charged %d times (final status %d): a 500 from a server that keeps only 2xx was re-sent with the same key", charges, resp.StatusCode)
	}
}

// PROVIDERS.md: GoCardless retention is UNCONFIRMED, so the adapter leaves
// Retention unknown, and an in-doubt creation is not re-sent (it may have
// outlived the key), as Stripe's is not past its 24h.
func TestUnknownRetentionInDoubtNotResent(t *testing.T) {
	for _, tc := range []struct {
		prov providers.Provider
		url  string
	}{
		{providers.Stripe(), "https://api.stripe.com/v1/charges"},
		{providers.GoCardless(), "https://api.gocardless.com/payments"},
	} {
		t.Run(tc.prov.Name, func(t *testing.T) {
			var offset atomic.Int64
			offset.Store(int64(-6 * 24 * time.Hour)) // the first call happened 6 days ago
			store := cache.NewMemory(cache.WithClock(func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }))
			m := httpmock.NewMockTransport()
			var sends atomic.Int32
			m.RegisterResponder("POST", tc.url, func(*http.Request) (*http.Response, error) {
				if sends.Add(1) <= 4 {
					return nil, errors.New("connection reset by peer") // written, no answer
				}
				return httpmock.NewStringResponse(201, `{}`), nil
			})
			tr := idemhttp.New(idemhttp.WithBase(m), idemhttp.WithStore(store), idemhttp.WithPolicy(fastPolicy()), idemhttp.WithProviders(tc.prov))
			spec := reqSpec{url: tc.url, contentType: jsonCT, body: `{"payments":{"amount":1000}}`}
			if _, _, err := roundTrip(t, tr, spec); err == nil {
				t.Fatal("first call: want an error")
			}
			before := sends.Load()
			offset.Store(0)
			_, _, err := roundTrip(t, tr, spec)
			if !errors.Is(err, idemhttp.ErrInDoubt) {
				t.Errorf("%s: an operation in doubt for 6 days was re-sent (%d more sends, err %v) although the provider's key retention is not known to cover it",
					tc.prov.Name, sends.Load()-before, err)
			}
		})
	}
}

// PROVIDERS.md: Square retention is UNCONFIRMED, so Square() sets none, and
// an in-doubt CreatePayment 20 hours old is not re-sent with its key.
func TestSquareInDoubtNotResent(t *testing.T) {
	const url = "https://connect.squareup.com/v2/payments"
	var offset atomic.Int64
	offset.Store(int64(-20 * time.Hour))
	store := cache.NewMemory(cache.WithClock(func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }))
	m := httpmock.NewMockTransport()
	var sends atomic.Int32
	m.RegisterResponder("POST", url, func(*http.Request) (*http.Response, error) {
		if sends.Add(1) <= 4 {
			return nil, errors.New("connection reset by peer")
		}
		return httpmock.NewStringResponse(200, `{}`), nil
	})
	tr := idemhttp.New(idemhttp.WithBase(m), idemhttp.WithStore(store), idemhttp.WithPolicy(fastPolicy()), idemhttp.WithProviders(providers.Square()))
	spec := reqSpec{url: url, contentType: jsonCT, body: `{"amount_money":{"amount":1000,"currency":"USD"},"source_id":"cnon:x"}`}
	if _, _, err := roundTrip(t, tr, spec); err == nil {
		t.Fatal("first call: want an error")
	}
	before := sends.Load()
	offset.Store(0)
	if _, _, err := roundTrip(t, tr, spec); !errors.Is(err, idemhttp.ErrInDoubt) {
		t.Errorf("square: in-doubt payment 20h old re-sent (%d more sends, err %v) on an UNCONFIRMED retention", sends.Load()-before, err)
	}
}
