package idemhttp_test

import (
	"errors"
	"net/http"
	"sync"
	"testing"

	"github.com/jarcoal/httpmock"

	"github.com/idemhttp/idemhttp"
	"github.com/idemhttp/idemhttp/providers"
)

// Checkout.com keeps only 2xx under a key (PROVIDERS.md). A final 5xx
// leaves the record in doubt, and the caller's next call (the ordinary
// reaction to a 500) finds it in doubt within Retention: it is not re-sent
// (ErrInDoubt), since the server may have kept nothing and would charge
// again.
func TestCheckout5xxNotResentByNextCall(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
	}{{"500", 500}, {"502", 502}, {"503-no-retry-after", 503}} {
		t.Run(tc.name, func(t *testing.T) {
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
					return httpmock.NewStringResponse(tc.status, ``), nil // executed, error not kept
				}
				kept[k] = true
				return httpmock.NewStringResponse(201, `{"id":"pay_2"}`), nil
			})
			tr := idemhttp.New(idemhttp.WithBase(m), idemhttp.WithPolicy(fastPolicy()), idemhttp.WithProviders(providers.CheckoutCom()))
			spec := reqSpec{url: url, contentType: jsonCT, body: `{"amount":1000,"currency":"EUR"}`}
			resp, _, err := roundTrip(t, tr, spec)
			if err != nil || resp.StatusCode != tc.status {
				t.Fatalf("first call: %v %v", resp, err)
			}
			// The caller retries the failed payment, as anyone would.
			resp2, _, err2 := roundTrip(t, tr, spec)
			if charges != 1 {
				st := 0
				if resp2 != nil {
					st = resp2.StatusCode
				}
				t.Errorf("after a %d from a server that keeps only 2xx, the next call re-sent the same key: %d charges (status %d, err %v); want ErrInDoubt",
					tc.status, charges, st, err2)
			} else if !errors.Is(err2, idemhttp.ErrInDoubt) {
				t.Errorf("second call: want ErrInDoubt, got %v", err2)
			}
		})
	}
}
