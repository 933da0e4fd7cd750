package idemhttp_test

import (
	"context"
	"fmt"
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

// flakyStore goes down on demand.
type flakyStore struct {
	cache.Store
	down atomic.Bool
}

func (s *flakyStore) Claim(ctx context.Context, k, fp string, l time.Duration) (cache.Claim, error) {
	if s.down.Load() {
		return cache.Claim{}, fmt.Errorf("dial: %w", cache.ErrUnavailable)
	}
	return s.Store.Claim(ctx, k, fp, l)
}

// Checkout.com keeps only 2xx. A 500 leaves the record in doubt; the next
// call, made while the store is down, fails closed rather than send the same
// key again, which would charge a second time.
func TestCheckoutInDoubtNotResentWhenStoreDown(t *testing.T) {
	const url = "https://api.checkout.com/payments"
	m := httpmock.NewMockTransport()
	var mu sync.Mutex
	kept := map[string]bool{}
	charges := 0
	m.RegisterResponder("POST", url, func(req *http.Request) (*http.Response, error) {
		mu.Lock()
		defer mu.Unlock()
		k := req.Header.Get("Cko-Idempotency-Key")
		if kept[k] {
			return httpmock.NewStringResponse(201, `{"id":"pay_1"}`), nil
		}
		charges++
		if charges == 1 {
			return httpmock.NewStringResponse(500, ``), nil // executed, not kept
		}
		kept[k] = true
		return httpmock.NewStringResponse(201, `{"id":"pay_2"}`), nil
	})
	st := &flakyStore{Store: cache.NewMemory()}
	tr := idemhttp.New(idemhttp.WithBase(m), idemhttp.WithStore(st), idemhttp.WithPolicy(fastPolicy()), idemhttp.WithProviders(providers.CheckoutCom()))
	spec := reqSpec{url: url, contentType: jsonCT, body: `{"amount":1000,"currency":"EUR"}`}
	if resp, _, err := roundTrip(t, tr, spec); err != nil || resp.StatusCode != 500 {
		t.Fatalf("first call: %v %v", resp, err)
	}
	st.down.Store(true)
	resp2, _, err2 := roundTrip(t, tr, spec)
	if charges != 1 {
		t.Errorf("store down: in-doubt Checkout payment re-sent (fail open): %d charges (resp %v, err %v)", charges, resp2 != nil, err2)
	}
}

// Store down from the start: without the record a call cannot tell a new
// payment from one answered 500 before, which Checkout.com did not keep, so
// the outage fails closed and nothing is sent.
func TestCheckoutStoreDownFailsClosed(t *testing.T) {
	const url = "https://api.checkout.com/payments"
	m := httpmock.NewMockTransport()
	var mu sync.Mutex
	charges := 0
	m.RegisterResponder("POST", url, func(req *http.Request) (*http.Response, error) {
		mu.Lock()
		defer mu.Unlock()
		charges++
		if charges == 1 {
			return httpmock.NewStringResponse(500, ``), nil
		}
		return httpmock.NewStringResponse(201, `{}`), nil
	})
	st := &flakyStore{Store: cache.NewMemory()}
	st.down.Store(true)
	tr := idemhttp.New(idemhttp.WithBase(m), idemhttp.WithStore(st), idemhttp.WithPolicy(fastPolicy()), idemhttp.WithProviders(providers.CheckoutCom()))
	spec := reqSpec{url: url, contentType: jsonCT, body: `{"amount":1000,"currency":"EUR"}`}
	roundTrip(t, tr, spec)
	roundTrip(t, tr, spec)
	if charges != 0 {
		t.Errorf("store down: Checkout sent %d times, want none (the outage fails closed)", charges)
	}
}

// Checkout.com's 409 "in progress" (counted by mayHaveExecuted as a
// possible execution) is not retried within the call: if the execution in
// flight ended in an error Checkout does not keep, a re-send would execute
// again.
func TestCheckout409NotResent(t *testing.T) {
	const url = "https://api.checkout.com/payments"
	m := httpmock.NewMockTransport()
	var mu sync.Mutex
	n := 0
	m.RegisterResponder("POST", url, func(req *http.Request) (*http.Response, error) {
		mu.Lock()
		defer mu.Unlock()
		n++
		if n == 1 {
			// Another execution under this key is in flight (it will end
			// in a 500 Checkout does not keep).
			return httpmock.NewStringResponse(409, ``), nil
		}
		return httpmock.NewStringResponse(201, `{}`), nil // executed again
	})
	tr := idemhttp.New(idemhttp.WithBase(m), idemhttp.WithPolicy(fastPolicy()), idemhttp.WithProviders(providers.CheckoutCom()))
	spec := reqSpec{url: url, contentType: jsonCT, body: `{"amount":1000,"currency":"EUR"}`}
	roundTrip(t, tr, spec)
	if n != 1 {
		t.Errorf("Checkout 409 in progress re-sent within the call (%d sends); SafeToResend is false", n)
	}
}
