package idemhttp_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/idemhttp/idemhttp"
	"github.com/idemhttp/idemhttp/providers"
)

// JSON bodies are keyed on their RFC 8785 form, which prints every number as
// a double: two integers above 2^53 that differ (64-bit ids, amounts in minor
// units) give the same key. The fingerprint used to come from the same hash,
// so the second operation was not sent and got the first one's response as a
// replay. The fingerprint now holds the exact values: the second operation
// is refused with ErrKeyReused, and a spelling of the same value still
// replays. Each case runs through one of the ways a fingerprint is made.
func TestBigNumIntegersBeyond2p53RefusedNotReplayed(t *testing.T) {
	const (
		first     = `{"sku":"R-1","customer_id":9007199254740993}`
		other     = `{"sku":"R-1","customer_id":9007199254740992}` // the same double
		respelled = `{"customer_id":9007199254740993.0, "sku":"R-1"}`
	)
	tests := []struct {
		name  string
		route *providers.Route // on the orders provider
		key   string           // WithKey when non-empty
	}{
		{name: "derived key, whole body"},
		{name: "derived key, key fields", route: &providers.Route{Method: "POST", Path: "/orders", KeyFields: []string{"/customer_id"}}},
		{name: "derived key, validation fields", route: &providers.Route{Method: "POST", Path: "/orders",
			KeyFields: []string{"/sku"}, ValidationFields: []string{"/customer_id"}}},
		{name: "WithKey", key: "order-r-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, second := range []struct {
				body   string
				reused bool // refused; else replayed
			}{{other, true}, {respelled, false}} {
				e := newEnv(t)
				for i := range e.provs {
					if e.provs[i].Name == "orders" && tt.route != nil {
						e.provs[i].Routes = []providers.Route{*tt.route}
					}
				}
				c := e.client()
				ctx := context.Background()
				if tt.key != "" {
					ctx = idemhttp.WithKey(ctx, tt.key)
				}
				a := post(ctx, c, ordersHost, "/orders", jsonType, first)
				if a.err != nil {
					t.Fatal(a.err)
				}
				b := post(ctx, c, ordersHost, "/orders", jsonType, second.body)
				if n := e.srv.RouteEffects("POST", "/orders"); n != 1 {
					t.Fatalf("then %s: %d orders executed, want 1", second.body, n)
				}
				switch {
				case second.reused && !errors.Is(b.err, idemhttp.ErrKeyReused):
					t.Errorf("then %s (another customer): err = %v (body %q, replayed %v), want ErrKeyReused",
						second.body, b.err, b.body, b.resp != nil && idemhttp.Replayed(b.resp))
				case !second.reused && (b.err != nil || !idemhttp.Replayed(b.resp) || b.body != a.body):
					t.Errorf("then %s (the same customer): err = %v, body %q; want a replay of %q", second.body, b.err, b.body, a.body)
				}
			}
		})
	}
}

// The fix is in the fingerprint: numbers that round to the same double still
// share a key within derivation v1 (TestDeriveKeyGolden pins the rest), and
// other numbers still get their own.
func TestBigNumKeysFollowRFC8785(t *testing.T) {
	generic := providers.Generic()
	key := func(body string) string {
		req, err := http.NewRequest(http.MethodPost, "https://orders.test/orders", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", jsonType)
		k, err := idemhttp.DeriveKey(req, &generic)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	for _, pair := range [][2]string{
		{`{"customer_id":9007199254740993}`, `{"customer_id":9007199254740992}`},
		{`{"rate":0.10000000000000001}`, `{"rate":0.1}`},
	} {
		if a, b := key(pair[0]), key(pair[1]); a != b {
			t.Errorf("%s and %s: keys %s and %s; RFC 8785 makes them equal and v1 keys must not change", pair[0], pair[1], a, b)
		}
	}
	if key(`{"customer_id":9007199254740993}`) == key(`{"customer_id":9007199254740994}`) {
		t.Error("9007199254740993 and 9007199254740994 (different doubles) share a key")
	}
}
