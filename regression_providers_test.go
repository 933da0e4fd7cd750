package idemhttp_test

// Regression tests, each of which failed on a defect found in review: the
// provider adapters against PROVIDERS.md, and what the transport re-sends
// to a provider that de-duplicates but does not keep its error answers.

import (
	"context"
	"errors"
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

const checkoutURL = "https://api.checkout.com/payments"

// checkoutFake is a Checkout.com as PROVIDERS.md describes it: it keeps only
// 2xx answers under a key. Its first request executes the payment and
// answers first, which it does not keep; later ones execute again unless
// their key has a kept answer.
type checkoutFake struct {
	mu      sync.Mutex
	kept    map[string]bool
	charges int
}

// newCheckout returns a Transport over a checkoutFake whose first answer is
// first, with store (nil: the default).
func newCheckout(first int, store cache.Store) (*idemhttp.Transport, *checkoutFake) {
	f := &checkoutFake{kept: map[string]bool{}}
	m := httpmock.NewMockTransport()
	m.RegisterResponder("POST", checkoutURL, func(req *http.Request) (*http.Response, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		k := req.Header.Get("Cko-Idempotency-Key")
		if f.kept[k] {
			return httpmock.NewStringResponse(201, `{"id":"pay_1"}`), nil
		}
		f.charges++
		if f.charges == 1 {
			return httpmock.NewStringResponse(first, ``), nil // executed, not kept
		}
		f.kept[k] = true
		return httpmock.NewStringResponse(201, `{"id":"pay_2"}`), nil
	})
	opts := []idemhttp.Option{idemhttp.WithBase(m), idemhttp.WithPolicy(fastPolicy()), idemhttp.WithProviders(providers.CheckoutCom())}
	if store != nil {
		opts = append(opts, idemhttp.WithStore(store))
	}
	return idemhttp.New(opts...), f
}

// chargeCount reads the number of payments executed.
func (f *checkoutFake) chargeCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.charges
}

var checkoutPayment = reqSpec{url: checkoutURL, contentType: jsonCT, body: `{"amount":1000,"currency":"EUR"}`}

// A 500 that follows an executed payment is not kept by Checkout.com, and a
// re-send with the same key would execute the payment again: within the
// call, a 500 is retried only for providers that keep their errors (Stripe).
func TestCheckout500NotResentWithinTheCall(t *testing.T) {
	tr, f := newCheckout(500, nil)
	resp, _, err := roundTrip(t, tr, checkoutPayment)
	if err != nil {
		t.Fatal(err)
	}
	if n := f.chargeCount(); n != 1 {
		t.Errorf("one call charged %d times (final status %d): a 500 from a server that keeps only 2xx was re-sent with the same key", n, resp.StatusCode)
	}
}

// A final 5xx leaves the record in doubt, and the caller's next call (the
// ordinary reaction to a 500) finds it in doubt within Retention: it is not
// re-sent (ErrInDoubt), since the server may have kept nothing and would
// charge again.
func TestCheckout5xxNotResentByNextCall(t *testing.T) {
	for _, status := range []int{500, 502, 503} { // 503 without Retry-After
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			tr, f := newCheckout(status, nil)
			if resp, _, err := roundTrip(t, tr, checkoutPayment); err != nil || resp.StatusCode != status {
				t.Fatalf("first call: %v %v", resp, err)
			}
			_, _, err := roundTrip(t, tr, checkoutPayment)
			if n := f.chargeCount(); n != 1 || !errors.Is(err, idemhttp.ErrInDoubt) {
				t.Errorf("after a %d from a server that keeps only 2xx, the next call: %d charges, err %v; want 1 and ErrInDoubt", status, n, err)
			}
		})
	}
}

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

// A 500 leaves the record in doubt; the next call, made while the store is
// down, fails closed rather than send the same key again, which would
// charge a second time.
func TestCheckoutInDoubtNotResentWhenStoreDown(t *testing.T) {
	st := &flakyStore{Store: cache.NewMemory()}
	tr, f := newCheckout(500, st)
	if resp, _, err := roundTrip(t, tr, checkoutPayment); err != nil || resp.StatusCode != 500 {
		t.Fatalf("first call: %v %v", resp, err)
	}
	st.down.Store(true)
	_, _, err := roundTrip(t, tr, checkoutPayment)
	if n := f.chargeCount(); n != 1 {
		t.Errorf("store down: in-doubt Checkout payment re-sent (fail open): %d charges (err %v)", n, err)
	}
}

// Store down from the start: without the record a call cannot tell a new
// payment from one answered 500 before, which Checkout.com did not keep, so
// the outage fails closed and nothing is sent.
func TestCheckoutStoreDownFailsClosed(t *testing.T) {
	st := &flakyStore{Store: cache.NewMemory()}
	st.down.Store(true)
	tr, f := newCheckout(500, st)
	roundTrip(t, tr, checkoutPayment)
	roundTrip(t, tr, checkoutPayment)
	if n := f.chargeCount(); n != 0 {
		t.Errorf("store down: Checkout sent %d times, want none (the outage fails closed)", n)
	}
}

// Checkout.com's 409 "in progress" (counted by mayHaveExecuted as a
// possible execution: another execution under the key is in flight, and may
// end in an error Checkout does not keep) is not retried within the call.
func TestCheckout409NotResent(t *testing.T) {
	tr, f := newCheckout(409, nil)
	roundTrip(t, tr, checkoutPayment)
	if n := f.chargeCount(); n != 1 {
		t.Errorf("Checkout 409 in progress re-sent within the call (%d sends); SafeToResend is false", n)
	}
}

// An in-doubt operation is re-sent only while the provider is known to
// remember its key: not past Stripe's 24h, and never where the retention is
// UNCONFIRMED in PROVIDERS.md (GoCardless, Square), since the key may have
// been forgotten.
func TestInDoubtPastKnownRetentionNotResent(t *testing.T) {
	for _, tc := range []struct {
		prov providers.Provider
		url  string
		age  time.Duration // of the first call
	}{
		{providers.Stripe(), "https://api.stripe.com/v1/charges", 6 * 24 * time.Hour},
		{providers.GoCardless(), "https://api.gocardless.com/payments", 6 * 24 * time.Hour},
		{providers.Square(), "https://connect.squareup.com/v2/payments", 20 * time.Hour},
	} {
		t.Run(tc.prov.Name, func(t *testing.T) {
			var offset atomic.Int64
			offset.Store(int64(-tc.age))
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
			spec := reqSpec{url: tc.url, contentType: jsonCT, body: `{"amount":1000}`}
			if _, _, err := roundTrip(t, tr, spec); err == nil {
				t.Fatal("first call: want an error")
			}
			before := sends.Load()
			offset.Store(0)
			if _, _, err := roundTrip(t, tr, spec); !errors.Is(err, idemhttp.ErrInDoubt) {
				t.Errorf("%s: an operation in doubt for %v was re-sent (%d more sends, err %v) although the provider's key retention is not known to cover it",
					tc.prov.Name, tc.age, sends.Load()-before, err)
			}
		})
	}
}
