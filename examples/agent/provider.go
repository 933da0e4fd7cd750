package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/idemhttp/idemhttp/internal/faultserver"
	"github.com/idemhttp/idemhttp/providers"
)

// The fake provider: four APIs behind one loopback server. A dialer sends
// their host names to it, so idemhttp matches providers by host as it would
// in production.
const (
	stripeHost   = "api.stripe.test"
	sendgridHost = "api.sendgrid.test"
	ordersHost   = "orders.test"
	bookingsHost = "bookings.test"

	chargePath  = "/v1/charges"
	mailPath    = "/v3/mail/send"
	lookupPath  = "/v3/lookup"
	orderPath   = "/orders"
	bookingPath = "/bookings"
)

func startProvider() (*faultserver.Server, error) {
	return faultserver.Start(
		faultserver.Route{Method: "POST", Path: chargePath, KeyHeader: "Idempotency-Key", Prefix: "ch_"},
		faultserver.Route{Method: "POST", Path: mailPath, TraceHeader: "X-Idempotency-Key", LookupPath: lookupPath,
			Status: 202, Prefix: "msg_", EffectID: emailEffect},
		faultserver.Route{Method: "POST", Path: orderPath, KeyHeader: "Idempotency-Key", Status: 201, Prefix: "ord_"},
		faultserver.Route{Method: "POST", Path: bookingPath, Status: 201, Prefix: "bk_"},
	)
}

// emailEffect counts emails by recipient and subject, as the recipient would.
func emailEffect(_ *http.Request, body []byte) string {
	var m struct {
		Personalizations []struct{ To []struct{ Email string } } `json:"personalizations"`
		Subject          string                                  `json:"subject"`
	}
	if json.Unmarshal(body, &m) != nil || len(m.Personalizations) == 0 || len(m.Personalizations[0].To) == 0 {
		return "email ?"
	}
	return "email " + m.Personalizations[0].To[0].Email + " " + m.Subject
}

// dialer connects every host to the fake provider at addr.
func dialer(addr string) func(ctx context.Context, network, _ string) (net.Conn, error) {
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
}

// demoProviders are the real provider adapters, pointed at the fake hosts.
func demoProviders() []providers.Provider {
	stripe := providers.Stripe()
	stripe.Hosts = []string{stripeHost}

	sendgrid := providers.SendGrid()
	sendgrid.Hosts = []string{sendgridHost}
	// SendGrid does not de-duplicate: an email that may have gone out is
	// settled by asking the provider (check-then-act), never re-sent blindly.
	sendgrid.Routes[0].Probe = lookupProbe

	orders := providers.Generic()
	orders.Name, orders.Hosts, orders.Dedup = "orders", []string{ordersHost}, true
	bookings := providers.Generic()
	bookings.Name, bookings.Hosts = "bookings", []string{bookingsHost}
	return []providers.Provider{stripe, sendgrid, orders, bookings}
}

// lookupProbe asks the provider whether a send with this key happened (the
// fake's lookup stands for SendGrid's activity search on a custom_args id).
func lookupProbe(ctx context.Context, base http.RoundTripper, req *http.Request, key string) (*http.Response, error) {
	u := url.URL{Scheme: req.URL.Scheme, Host: req.URL.Host, Path: lookupPath, RawQuery: "key=" + url.QueryEscape(key)}
	preq, err := http.NewRequestWithContext(ctx, "GET", u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := base.RoundTrip(preq)
	if err != nil {
		return nil, err
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return resp, nil
	case http.StatusNotFound:
		resp.Body.Close()
		return nil, nil
	}
	resp.Body.Close()
	return nil, fmt.Errorf("lookup: %s", resp.Status)
}

// hostLabel names a provider host for the table.
func hostLabel(host string) string { return strings.TrimSuffix(host, ".test") }
