package idemhttp_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idemhttp/idemhttp"
	"github.com/idemhttp/idemhttp/cache"
	"github.com/idemhttp/idemhttp/internal/faultserver"
	"github.com/idemhttp/idemhttp/providers"
)

// Fake provider hosts. A loopback dialer sends them all to one fault server,
// so providers are matched by host exactly as in production.
const (
	stripeHost   = "api.stripe.test"
	sendgridHost = "api.sendgrid.test"
	ordersHost   = "orders.test"   // an IETF-draft server that de-duplicates
	bookingsHost = "bookings.test" // an IETF-draft server that does not
)

// env is one fault server with four fake providers in front of it.
type env struct {
	t      *testing.T
	srv    *faultserver.Server
	base   *http.Transport
	store  cache.Store
	policy idemhttp.Policy
	provs  []providers.Provider
}

// emailEffect names a welcome email by recipient and subject: what the
// recipient would count, whatever the wording.
func emailEffect(r *http.Request, body []byte) string {
	var m struct {
		Personalizations []struct {
			To []struct{ Email string } `json:"to"`
		} `json:"personalizations"`
		Subject string `json:"subject"`
	}
	if json.Unmarshal(body, &m) != nil || len(m.Personalizations) == 0 || len(m.Personalizations[0].To) == 0 {
		return "email:unparsed"
	}
	return "email:" + m.Personalizations[0].To[0].Email + ":" + m.Subject
}

// testRoutes are the fake provider's endpoints.
func testRoutes() []faultserver.Route {
	return []faultserver.Route{
		{Method: "POST", Path: "/v1/charges", KeyHeader: "Idempotency-Key", Prefix: "ch_"},
		{Method: "POST", Path: "/v3/mail/send", TraceHeader: "X-Idempotency-Key", LookupPath: "/v3/lookup", EffectID: emailEffect, Status: 202, Prefix: "msg_"},
		{Method: "POST", Path: "/orders", KeyHeader: "Idempotency-Key", Status: 201, Prefix: "ord_"},
		{Method: "POST", Path: "/bookings", Status: 201, Prefix: "bk_"},
	}
}

// loopbackBase is a transport that sends every host to addr.
func loopbackBase(addr string) *http.Transport {
	return &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
}

// testProviders are the real adapters, pointed at the fake hosts.
func testProviders() []providers.Provider {
	stripe := providers.Stripe()
	stripe.Hosts = []string{stripeHost}
	sendgrid := providers.SendGrid()
	sendgrid.Hosts = []string{sendgridHost}
	orders := providers.Generic()
	orders.Name, orders.Hosts, orders.Dedup = "orders", []string{ordersHost}, true
	bookings := providers.Generic()
	bookings.Name, bookings.Hosts = "bookings", []string{bookingsHost}
	return []providers.Provider{stripe, sendgrid, orders, bookings}
}

// testPolicy retries fast.
func testPolicy() idemhttp.Policy {
	pol := idemhttp.DefaultPolicy()
	pol.InitialInterval, pol.MaxInterval = time.Millisecond, 10*time.Millisecond
	pol.Lease = 2 * time.Second
	return pol
}

func newEnv(t *testing.T) *env {
	t.Helper()
	srv, err := faultserver.Start(testRoutes()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	base := loopbackBase(strings.TrimPrefix(srv.URL(), "http://"))
	t.Cleanup(base.CloseIdleConnections)
	return &env{t: t, srv: srv, base: base, store: cache.NewMemory(), policy: testPolicy(), provs: testProviders()}
}

// transport returns a new Transport on the env's store (a second one
// stands for another process sharing the store).
func (e *env) transport(opts ...idemhttp.Option) *idemhttp.Transport {
	all := append([]idemhttp.Option{
		idemhttp.WithBase(e.base), idemhttp.WithStore(e.store),
		idemhttp.WithProviders(e.provs...), idemhttp.WithPolicy(e.policy),
	}, opts...)
	return idemhttp.New(all...)
}

func (e *env) client(opts ...idemhttp.Option) *http.Client {
	return &http.Client{Transport: e.transport(opts...)}
}

// call sends a POST and returns status, body and error.
type result struct {
	resp *http.Response
	body string
	err  error
}

func post(ctx context.Context, c *http.Client, host, path, contentType, body string) result {
	req, err := http.NewRequestWithContext(ctx, "POST", "http://"+host+path, strings.NewReader(body))
	if err != nil {
		return result{err: err}
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer sk_test_tenant_a")
	resp, err := c.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return result{resp: resp, body: string(b), err: err}
}

const (
	chargeBody = "amount=2000&currency=usd&customer=cus_42&description=order+42"
	formType   = "application/x-www-form-urlencoded"
	jsonType   = "application/json"
)

func emailBody(to, subject, text string) string {
	b, _ := json.Marshal(map[string]any{
		"personalizations": []any{map[string]any{"to": []any{map[string]string{"email": to}}}},
		"from":             map[string]string{"email": "agent@shop.test"},
		"subject":          subject,
		"content":          []any{map[string]string{"type": "text/plain", "value": text}},
	})
	return string(b)
}

func (e *env) charge(ctx context.Context, c *http.Client) result {
	return post(ctx, c, stripeHost, "/v1/charges", formType, chargeBody)
}

// idOf returns the "id" of a fault-server success body.
func idOf(t *testing.T, body string) string {
	t.Helper()
	var m struct{ ID string }
	if err := json.Unmarshal([]byte(body), &m); err != nil || m.ID == "" {
		t.Fatalf("no id in body %q: %v", body, err)
	}
	return m.ID
}

// await waits for a fault-server condition, failing the test after a while.
func (e *env) await(cond func() bool) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.srv.Await(ctx, cond); err != nil {
		e.t.Fatal(err)
	}
}

// logWatch is a slog handler that lets a test wait for a log message: the
// transport logs each step, so tests synchronise on steps, not on time.
type logWatch struct {
	mu   sync.Mutex
	seen map[string]chan struct{}
}

func newLogWatch() *logWatch { return &logWatch{seen: map[string]chan struct{}{}} }

func (w *logWatch) logger() *slog.Logger { return slog.New(w) }

func (w *logWatch) ch(msg string) chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, ok := w.seen[msg]
	if !ok {
		c = make(chan struct{})
		w.seen[msg] = c
	}
	return c
}

// wait blocks until msg was logged.
func (w *logWatch) wait(t *testing.T, msg string) {
	t.Helper()
	select {
	case <-w.ch(msg):
	case <-time.After(20 * time.Second):
		t.Fatalf("never logged %q", msg)
	}
}

func (w *logWatch) Enabled(context.Context, slog.Level) bool { return true }
func (w *logWatch) WithAttrs([]slog.Attr) slog.Handler       { return w }
func (w *logWatch) WithGroup(string) slog.Handler            { return w }
func (w *logWatch) Handle(_ context.Context, r slog.Record) error {
	c := w.ch(r.Message)
	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case <-c:
	default:
		close(c)
	}
	return nil
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }
