package idemhttp_test

// Regression tests for derived keys and record keys: two operations that
// shared a record key and a fingerprint (so that the second was answered
// with the first one's response and never sent), and one operation that
// was refused as another.

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/idemhttp/idemhttp"
	"github.com/idemhttp/idemhttp/providers"
)

// echoServer is a server that executes every request it gets (counting them)
// and answers 201 with what it saw, so a replay of another operation's
// answer is visible to the caller.
type echoServer struct {
	srv   *httptest.Server
	execs atomic.Int32
}

type echoed struct {
	N           int32  `json:"n"`
	Method      string `json:"method"`
	Host        string `json:"host"`
	URI         string `json:"uri"`
	Auth        string `json:"auth"`
	ContentType string `json:"content_type"`
	Body        string `json:"body"`
}

func newEchoServer(t *testing.T) *echoServer {
	t.Helper()
	e := &echoServer{}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		seen := echoed{N: e.execs.Add(1), Method: r.Method, Host: r.Host, URI: r.RequestURI,
			Auth: r.Header.Get("Authorization"), ContentType: r.Header.Get("Content-Type"), Body: string(b)}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(seen)
	}))
	t.Cleanup(e.srv.Close)
	return e
}

// host is the server's host:port.
func (e *echoServer) host() string { return strings.TrimPrefix(e.srv.URL, "http://") }

// echoTransport is a Transport whose only provider is p, as the fallback
// (p.Hosts is cleared so that it serves the test server).
func echoTransport(p providers.Provider, opts ...idemhttp.Option) *idemhttp.Transport {
	p.Hosts = nil
	all := append([]idemhttp.Option{idemhttp.WithProviders(p), idemhttp.WithPolicy(testPolicy())}, opts...)
	return idemhttp.New(all...)
}

// echoDo sends req through rt and returns what the server said it saw (the
// server's own answer, or a replayed one).
func echoDo(t *testing.T, rt http.RoundTripper, req *http.Request) (echoed, error) {
	t.Helper()
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return echoed{}, err
	}
	defer resp.Body.Close()
	var seen echoed
	if err := json.NewDecoder(resp.Body).Decode(&seen); err != nil {
		t.Fatalf("decoding answer: %v", err)
	}
	return seen, nil
}

// sendBoth sends a then b through rt and returns what the server said it saw
// for each (or the replay of an earlier answer).
func sendBoth(t *testing.T, rt http.RoundTripper, a, b *http.Request) (first, second echoed) {
	t.Helper()
	var err error
	if first, err = echoDo(t, rt, a); err != nil {
		t.Fatal(err)
	}
	if second, err = echoDo(t, rt, b); err != nil {
		t.Fatal(err)
	}
	return first, second
}

// mustDeriveKey is DeriveKey for p, failing the test on error.
func mustDeriveKey(t *testing.T, req *http.Request, p providers.Provider) string {
	t.Helper()
	k, err := idemhttp.DeriveKey(req, &p)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newBodyRequest is a request with a GetBody'd body and a content type.
func newBodyRequest(t *testing.T, method, url, contentType, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req
}

// A header map holding Authorization under another spelling
// ("authorization", as a map literal or headers copied from HTTP/2 have it)
// is sent by net/http as written and authenticates at the server. The
// record key used to see no credentials in it: two tenants' identical
// requests shared one record, and tenant B got tenant A's answer.
func TestNonCanonicalAuthorizationNamespaced(t *testing.T) {
	for _, name := range []string{"authorization", "AUTHORIZATION"} {
		t.Run(name, func(t *testing.T) {
			e := newEchoServer(t)
			tr := echoTransport(providers.Generic())
			mk := func(token string) *http.Request {
				req := newBodyRequest(t, "POST", e.srv.URL+"/v1/orders", jsonType, `{"sku":"x","qty":1}`)
				req.Header[name] = []string{"Bearer " + token}
				return req
			}
			_, got := sendBoth(t, tr, mk("sk_tenant_a"), mk("sk_tenant_b"))
			if got.Auth != "Bearer sk_tenant_b" {
				t.Errorf("tenant B (header %q) was answered with the response to %q; server executed %d requests", name, got.Auth, e.execs.Load())
			}
		})
	}
}

// The same for an account header (Stripe-Account) set under another
// spelling: two connected accounts used to share one record.
func TestNonCanonicalAccountHeaderNamespaced(t *testing.T) {
	e := newEchoServer(t)
	tr := echoTransport(providers.Stripe())
	mk := func(acct string) *http.Request {
		req := newBodyRequest(t, "POST", e.srv.URL+"/v1/charges", formType, "amount=1000&currency=usd")
		req.Header.Set("Authorization", "Bearer sk_platform")
		req.Header["stripe-account"] = []string{acct}
		return req
	}
	if _, err := echoDo(t, tr, mk("acct_A")); err != nil {
		t.Fatal(err)
	}
	if _, err := echoDo(t, tr, mk("acct_B")); err != nil {
		t.Fatal(err)
	}
	if n := e.execs.Load(); n != 2 {
		t.Errorf("charges for connected accounts acct_A and acct_B: server executed %d, want 2 (acct_B got acct_A's charge)", n)
	}
}

// A URL with Opaque set is sent to Opaque's path. The key used to encode
// URL.EscapedPath(), which ignores Opaque: a charge and a refund on one
// host got one key and one fingerprint, and the refund was answered with
// the charge's receipt without being sent.
func TestOpaqueURLPathsKeyedApart(t *testing.T) {
	e := newEchoServer(t)
	tr := echoTransport(providers.Generic())
	mk := func(path string) *http.Request {
		req := newBodyRequest(t, "POST", e.srv.URL, jsonType, `{"amount":1000}`)
		req.URL = &url.URL{Scheme: "http", Host: e.host(), Opaque: path}
		return req
	}
	if ka, kb := mustDeriveKey(t, mk("/v1/charges"), providers.Generic()), mustDeriveKey(t, mk("/v1/refunds"), providers.Generic()); ka == kb {
		t.Errorf("POST /v1/charges and POST /v1/refunds (URL.Opaque) share key %s", ka)
	}
	first, second := sendBoth(t, tr, mk("/v1/charges"), mk("/v1/refunds"))
	if first.URI != "/v1/charges" {
		t.Fatalf("first request went to %q", first.URI)
	}
	if second.URI != "/v1/refunds" || e.execs.Load() != 2 {
		t.Errorf("the refund was answered with the response of %q (server executed %d requests)", second.URI, e.execs.Load())
	}
}

// req.Host overrides the Host header (virtual hosts behind one address, a
// multi-tenant gateway). The key used to encode URL.Host only: two
// tenants' identical requests through one gateway address shared key and
// fingerprint, and tenant B was answered with tenant A's response.
func TestHostHeaderInKey(t *testing.T) {
	e := newEchoServer(t)
	tr := echoTransport(providers.Generic())
	mk := func(host string) *http.Request {
		req := newBodyRequest(t, "POST", e.srv.URL+"/v1/orders", jsonType, `{"sku":"x","qty":1}`)
		req.Host = host
		return req
	}
	if ka, kb := mustDeriveKey(t, mk("tenant-a.example"), providers.Generic()), mustDeriveKey(t, mk("tenant-b.example"), providers.Generic()); ka == kb {
		t.Errorf("Host tenant-a.example and tenant-b.example share key %s", ka)
	}
	_, got := sendBoth(t, tr, mk("tenant-a.example"), mk("tenant-b.example"))
	if got.Host != "tenant-b.example" {
		t.Errorf("tenant-b.example was answered with %s's response; server executed %d requests", got.Host, e.execs.Load())
	}
}

// The same with an explicit key: the fingerprint, which refuses a key
// reused for another operation, covered neither URL.Opaque nor req.Host,
// so the second operation replayed instead of ErrKeyReused.
func TestExplicitKeyOpaqueAndHostFingerprinted(t *testing.T) {
	for name, mk := range map[string]func(e *echoServer, which int) *http.Request{
		"opaque path": func(e *echoServer, which int) *http.Request {
			req := newBodyRequest(t, "POST", e.srv.URL, jsonType, `{"amount":1000}`)
			req.URL = &url.URL{Scheme: "http", Host: e.host(), Opaque: []string{"/v1/charges", "/v1/refunds"}[which]}
			return req
		},
		"host header": func(e *echoServer, which int) *http.Request {
			req := newBodyRequest(t, "POST", e.srv.URL+"/v1/orders", jsonType, `{"amount":1000}`)
			req.Host = []string{"tenant-a.example", "tenant-b.example"}[which]
			return req
		},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEchoServer(t)
			tr := echoTransport(providers.Generic())
			ctx := idemhttp.WithKey(context.Background(), "order-42")
			if _, err := echoDo(t, tr, mk(e, 0).WithContext(ctx)); err != nil {
				t.Fatal(err)
			}
			got, err := echoDo(t, tr, mk(e, 1).WithContext(ctx))
			if !errors.Is(err, idemhttp.ErrKeyReused) {
				t.Errorf("same explicit key, other operation: got answer %+v, err %v; want ErrKeyReused", got, err)
			}
		})
	}
}

// stripeKeyFields is Stripe with a route keyed on the charge's amount and
// customer (form body), as a caller would configure KeyFields.
func stripeKeyFields() providers.Provider {
	p := providers.Stripe()
	p.Routes = []providers.Route{{Method: "POST", Path: "/v1/charges", KeyFields: []string{"amount", "customer"}}}
	return p
}

// A form body that does not decode (one stray '%', as in a description
// "50% off" built without escaping) was taken for one with none of its key
// fields: a $10 charge for cus_A and a $99.99 charge for cus_B shared key
// and fingerprint, and the second was answered with the first one's
// receipt. Like JSON that does not parse, it is now keyed on its raw bytes.
func TestBrokenFormKeyFieldsKeyedApart(t *testing.T) {
	p := stripeKeyFields()
	a := "amount=1000&customer=cus_A&description=50%+off"
	b := "amount=9999&customer=cus_B&description=50%+off"
	ka := mustDeriveKey(t, newBodyRequest(t, "POST", "https://api.stripe.com/v1/charges", formType, a), p)
	kb := mustDeriveKey(t, newBodyRequest(t, "POST", "https://api.stripe.com/v1/charges", formType, b), p)
	if ka == kb {
		t.Errorf("charges %q and %q share key %s", a, b, ka)
	}

	e := newEchoServer(t)
	_, got := sendBoth(t, echoTransport(p), newBodyRequest(t, "POST", e.srv.URL+"/v1/charges", formType, a),
		newBodyRequest(t, "POST", e.srv.URL+"/v1/charges", formType, b))
	if got.Body != b {
		t.Errorf("charge %q was answered with the receipt of %q; server executed %d", b, got.Body, e.execs.Load())
	}
}

// KeyFields are JSON Pointers for JSON bodies and plain names for form
// bodies. A pointer ("/amount") on a form route names no field: every body
// to the route used to get one key, and every charge after the first was
// answered with the first one's receipt. A body with none of the key fields
// is now keyed on all of it.
func TestPointerKeyFieldsOnFormRouteKeyedApart(t *testing.T) {
	p := providers.Stripe()
	p.Routes = []providers.Route{{Method: "POST", Path: "/v1/charges", KeyFields: []string{"/customer", "/amount"}}}
	a := "amount=1000&currency=usd&customer=cus_A"
	b := "amount=250000&currency=usd&customer=cus_B"
	ka := mustDeriveKey(t, newBodyRequest(t, "POST", "https://api.stripe.com/v1/charges", formType, a), p)
	kb := mustDeriveKey(t, newBodyRequest(t, "POST", "https://api.stripe.com/v1/charges", formType, b), p)
	if ka == kb {
		t.Errorf("charges %q and %q share key %s (no key field found in either)", a, b, ka)
	}
}

// With WithKey on a body-field provider (Square), the Transport writes the
// key over the body's idempotency_key before sending. The fingerprint used
// to hash the body with the SDK's own random key in it, so the same
// operation retried after a restart (a new SDK key) was refused with
// ErrKeyReused instead of replayed.
func TestExplicitKeyFingerprintWithoutBodyKeyField(t *testing.T) {
	e := newEchoServer(t)
	tr := echoTransport(providers.Square())
	ctx := idemhttp.WithKey(context.Background(), "order-42-pay")
	body := func(sdkKey string) string {
		return `{"idempotency_key":"` + sdkKey + `","amount_money":{"amount":1000,"currency":"USD"},"source_id":"cnon:1"}`
	}
	first, err := echoDo(t, tr, newBodyRequest(t, "POST", e.srv.URL+"/v2/payments", jsonType, body("sdk-random-1")).WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	got, err := echoDo(t, tr, newBodyRequest(t, "POST", e.srv.URL+"/v2/payments", jsonType, body("sdk-random-2")).WithContext(ctx))
	if err != nil || got.N != first.N {
		t.Errorf("same payment, same WithKey, new SDK key in the body: err %v (answer %d); want the replay of answer %d (sent body %s)", err, got.N, first.N, first.Body)
	}
}

// A query that does not decode is keyed on its raw bytes. Those used to be
// written where a decoded query writes its canonical form, with nothing to
// tell the two apart: a raw query spelt as another query's canonical form
// (printable when every length prefix is) shared its key.
func TestRawQueryNeverPassesForCanonical(t *testing.T) {
	// 33 fields ('!' is 33) with names and values of 33 bytes: every length
	// prefix of the canonical form is a printable byte.
	const n = 33
	var valid []string
	canonical := binary.AppendUvarint(nil, n)
	for i := range n {
		name := fmt.Sprintf("f%02d", i) + strings.Repeat("n", 30)
		value, escaped := strings.Repeat("v", 33), strings.Repeat("v", 33)
		if i == 0 {
			value, escaped = "%zz"+strings.Repeat("v", 30), "%25zz"+strings.Repeat("v", 30) // a literal %zz
		}
		valid = append(valid, name+"="+escaped)
		canonical = binary.AppendUvarint(canonical, uint64(len(name)))
		canonical = append(canonical, name...)
		canonical = binary.AppendUvarint(canonical, uint64(len(value)))
		canonical = append(canonical, value...)
	}
	decodes, raw := strings.Join(valid, "&"), string(canonical) // raw holds "%zz": it does not decode
	g := providers.Generic()
	k1 := mustDeriveKey(t, newBodyRequest(t, "POST", "https://api.example.test/v1/orders?"+decodes, "", ""), g)
	k2 := mustDeriveKey(t, newBodyRequest(t, "POST", "https://api.example.test/v1/orders?"+raw, "", ""), g)
	if k1 == k2 {
		t.Errorf("two queries share key %s:\n%.80s...\n%.80s...", k1, decodes, raw)
	}
}

// A caller's key set under another spelling of the key header
// ("idempotency-key") goes out as written. It used to be missed: a derived
// key went out beside it under the canonical name, two keys in one
// request. It is the caller's key, sent once.
func TestKeyHeaderInAnotherSpellingSentOnce(t *testing.T) {
	var mu sync.Mutex
	var seen [][]string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		seen = append(seen, r.Header.Values("Idempotency-Key"))
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	tr := echoTransport(providers.Generic())
	req := newBodyRequest(t, "POST", srv.URL+"/v1/orders", jsonType, `{"sku":"x"}`)
	req.Header["idempotency-key"] = []string{"order-7"}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 || len(seen[0]) != 1 || seen[0][0] != "order-7" || idemhttp.KeyOf(resp) != "order-7" {
		t.Fatalf("server saw Idempotency-Key %q, KeyOf %q; want the caller's order-7, once", seen, idemhttp.KeyOf(resp))
	}
}
