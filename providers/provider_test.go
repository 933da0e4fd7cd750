package providers_test

import (
	"strings"
	"testing"

	"github.com/idemhttp/idemhttp/providers"
)

func TestMatches(t *testing.T) {
	adyen := providers.Adyen()
	stripe := providers.Stripe()
	generic := providers.Generic()
	tests := []struct {
		p    *providers.Provider
		host string
		want bool
	}{
		{&stripe, "api.stripe.com", true},
		{&stripe, "API.Stripe.COM", true},
		{&stripe, "files.stripe.com", true},
		{&stripe, "connect.stripe.com", false},
		{&stripe, "api.stripe.com.evil.test", false},
		{&stripe, "evilapi.stripe.com", false},
		{&stripe, "", false},
		{&adyen, "checkout-test.adyen.com", true},
		{&adyen, "CHECKOUT-live.Adyen.com", true},
		{&adyen, "a.b.adyen.com", true},
		{&adyen, "pal-live.adyenpayments.com", true},
		{&adyen, "adyen.com", false},
		{&adyen, ".adyen.com", false},
		{&adyen, "evil-adyen.com", false},
		{&adyen, "adyen.com.evil.test", false},
		{&adyen, "checkout-test.adyen.co", false},
		{&generic, "anything.test", true}, // no Hosts: the fallback matches all
		{&generic, "", true},
	}
	for _, tt := range tests {
		if got := tt.p.Matches(tt.host); got != tt.want {
			t.Errorf("%s.Matches(%q) = %v, want %v", tt.p.Name, tt.host, got, tt.want)
		}
	}
}

func TestRoute(t *testing.T) {
	p := providers.Provider{Name: "test", Routes: []providers.Route{
		{Method: "POST", Path: "/v1/customers/*/sources", KeyFields: []string{"source"}},
		{Path: "/v1/customers/*", AtLeastOnce: true},
		{Method: "PATCH", Path: "/v1/orders/[0-9]*"},
	}}
	tests := []struct {
		method, path string
		want         int // index into p.Routes, -1 for none
	}{
		{"POST", "/v1/customers/cus_1/sources", 0},
		{"GET", "/v1/customers/cus_1/sources", -1}, // route 0 is POST only; route 1's * stops at /
		{"POST", "/v1/customers/cus_1", 1},
		{"DELETE", "/v1/customers/cus_1", 1}, // no method: any method
		{"POST", "/v1/customers/cus_1/sources/x", -1},
		{"POST", "/v1/customers", -1},
		{"PATCH", "/v1/orders/42", 2},
		{"PATCH", "/v1/orders/x42", -1},
		{"POST", "/v1/orders/42", -1},
	}
	for _, tt := range tests {
		got := p.Route(tt.method, tt.path)
		switch {
		case tt.want < 0 && got != nil:
			t.Errorf("Route(%s, %s) = %+v, want none", tt.method, tt.path, *got)
		case tt.want >= 0 && got != &p.Routes[tt.want]:
			t.Errorf("Route(%s, %s) = %v, want route %d", tt.method, tt.path, got, tt.want)
		}
	}
	sg := providers.SendGrid()
	if r := sg.Route("POST", "/v3/mail/send"); r == nil || len(r.KeyFields) == 0 {
		t.Errorf("SendGrid POST /v3/mail/send has no key-fields route: %v", r)
	}
	if r := sg.Route("GET", "/v3/mail/send"); r != nil {
		t.Errorf("SendGrid GET /v3/mail/send matched %v", r)
	}
}

func TestFormatParseKey(t *testing.T) {
	quoted := providers.Generic()
	quoted.QuoteKey = true
	raw := providers.Stripe()
	keys := []string{"v1-0123abcd", "", `a"b`, `a\b`, `trailing\`, `\"`, `"`, `""`, `\\\`, "order 42", strings.Repeat(`"\`, 10)}
	for _, key := range keys {
		if got := raw.FormatKey(key); got != key {
			t.Errorf("raw FormatKey(%q) = %q, want it unchanged", key, got)
		}
		if got := raw.ParseKey(key); got != key {
			t.Errorf("raw ParseKey(%q) = %q, want it unchanged", key, got)
		}
		wire := quoted.FormatKey(key)
		if len(wire) < 2 || wire[0] != '"' || wire[len(wire)-1] != '"' {
			t.Errorf("FormatKey(%q) = %s, want an sf-string", key, wire)
		}
		// Inside the quotes, every " and \ is escaped (RFC 8941 3.3.3).
		inner := wire[1 : len(wire)-1]
		for i := 0; i < len(inner); i++ {
			switch inner[i] {
			case '\\':
				if i+1 == len(inner) || (inner[i+1] != '"' && inner[i+1] != '\\') {
					t.Errorf("FormatKey(%q) = %s: bad escape at %d", key, wire, i)
				}
				i++
			case '"':
				t.Errorf("FormatKey(%q) = %s: unescaped quote at %d", key, wire, i)
			}
		}
		if got := quoted.ParseKey(wire); got != key {
			t.Errorf("ParseKey(FormatKey(%q)) = %q via %s", key, got, wire)
		}
	}
	if got := quoted.FormatKey("v1-abc"); got != `"v1-abc"` {
		t.Errorf(`FormatKey("v1-abc") = %s, want "v1-abc" in quotes`, got)
	}
	// A caller that put a bare token on the wire is read as is.
	for _, wire := range []string{"v1-abc", `"`, `"abc`, `abc"`} {
		if got := quoted.ParseKey(wire); got != wire {
			t.Errorf("ParseKey(%q) = %q, want it unchanged", wire, got)
		}
	}
}

// Every constructor names its provider, says where the key goes and serves
// at least one host, and no host is served by two of them.
func TestConstructors(t *testing.T) {
	all := []providers.Provider{providers.Stripe(), providers.SendGrid(), providers.Adyen(), providers.PayPal(),
		providers.Square(), providers.CheckoutCom(), providers.Mollie(), providers.GoCardless()}
	names := map[string]bool{}
	for _, p := range all {
		if p.Name == "" || names[p.Name] {
			t.Errorf("provider name %q empty or repeated", p.Name)
		}
		names[p.Name] = true
		if (p.KeyHeader == "") == (p.KeyField == "") {
			t.Errorf("%s: KeyHeader %q, KeyField %q: want exactly one", p.Name, p.KeyHeader, p.KeyField)
		}
		if len(p.Hosts) == 0 {
			t.Errorf("%s: no hosts: it would be a fallback", p.Name)
		}
		for _, h := range p.Hosts {
			host := strings.Replace(h, "*", "x", 1)
			if !p.Matches(host) {
				t.Errorf("%s does not match its own host %s", p.Name, h)
			}
			for _, q := range all {
				if q.Name != p.Name && q.Matches(host) {
					t.Errorf("host %s served by %s and %s", host, p.Name, q.Name)
				}
			}
		}
	}
	if g := providers.Generic(); len(g.Hosts) != 0 || g.Dedup || g.KeyHeader != "Idempotency-Key" {
		t.Errorf("Generic = %+v: want the fallback (no hosts), no Dedup, Idempotency-Key", g)
	}
}
