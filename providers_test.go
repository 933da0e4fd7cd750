package idemhttp_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"

	"github.com/idemhttp/idemhttp"
	"github.com/idemhttp/idemhttp/providers"
)

// mockReply is one canned answer of a mocked endpoint.
type mockReply struct {
	status int
	header map[string]string
	body   string
}

// mockCall is what one request carried to the mock.
type mockCall struct {
	header http.Header
	body   string
}

// mockAPI is an httpmock transport whose endpoints answer canned replies in
// turn (the last one repeats) and remember what each request carried.
type mockAPI struct {
	*httpmock.MockTransport
	mu    sync.Mutex
	calls []mockCall
}

func newMockAPI() *mockAPI { return &mockAPI{MockTransport: httpmock.NewMockTransport()} }

// respond registers method and url to answer replies in turn.
func (m *mockAPI) respond(method, url string, replies ...mockReply) {
	n := 0
	m.RegisterResponder(method, url, func(req *http.Request) (*http.Response, error) {
		var body []byte
		if req.Body != nil {
			var err error
			if body, err = io.ReadAll(req.Body); err != nil {
				return nil, err
			}
		}
		m.mu.Lock()
		m.calls = append(m.calls, mockCall{header: req.Header.Clone(), body: string(body)})
		r := replies[min(n, len(replies)-1)]
		n++
		m.mu.Unlock()
		resp := httpmock.NewStringResponse(r.status, r.body)
		for k, v := range r.header {
			resp.Header.Set(k, v)
		}
		resp.Request = req
		return resp, nil
	})
}

// recorded returns the calls made so far.
func (m *mockAPI) recorded() []mockCall {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]mockCall(nil), m.calls...)
}

// count returns how many calls reached method url, as httpmock counts them.
func (m *mockAPI) count(method, url string) int {
	return m.GetCallCountInfo()[method+" "+url]
}

// fastPolicy retries without noticeable waits.
func fastPolicy() idemhttp.Policy {
	p := idemhttp.DefaultPolicy()
	p.InitialInterval, p.MaxInterval = time.Millisecond, 5*time.Millisecond
	return p
}

// ietfOrders is an IETF-draft server sending quoted keys.
func ietfOrders() providers.Provider {
	p := providers.Generic()
	p.Name, p.Hosts, p.QuoteKey, p.Dedup = "orders", []string{"orders.test"}, true, true
	return p
}

// mockTransport is a Transport on m with every provider of this file.
func mockTransport(m *mockAPI, pol idemhttp.Policy) *idemhttp.Transport {
	return idemhttp.New(idemhttp.WithBase(m), idemhttp.WithPolicy(pol),
		idemhttp.WithProviders(providers.Stripe(), providers.SendGrid(), providers.Square(), providers.PayPal(), ietfOrders()))
}

// roundTrip sends s through rt and returns the response with its body read.
func roundTrip(t *testing.T, rt http.RoundTripper, s reqSpec) (*http.Response, string, error) {
	t.Helper()
	resp, err := rt.RoundTrip(s.build(t))
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b), nil
}

func TestProviderKeyPlacement(t *testing.T) {
	tests := []struct {
		name, url, contentType, body string
		header                       string // the key header, "" for the body field
		quoted                       bool
	}{
		{"stripe", "https://api.stripe.com/v1/charges", formCT, "amount=2000&currency=usd", "Idempotency-Key", false},
		{"generic quoted", "https://orders.test/orders", jsonCT, `{"sku":"A-1"}`, "Idempotency-Key", true},
		{"sendgrid", "https://api.sendgrid.com/v3/mail/send", jsonCT, mailBody("ada@example.com", "Hi", "Hello"), "X-Idempotency-Key", false},
		{"paypal", "https://api-m.paypal.com/v2/checkout/orders", jsonCT, `{"intent":"CAPTURE"}`, "PayPal-Request-Id", false},
		{"square", "https://connect.squareup.com/v2/payments", jsonCT, `{"amount_money":{"amount":100,"currency":"USD"},"source_id":"cnon:card"}`, "", false},
	}
	allKeyHeaders := []string{"Idempotency-Key", "X-Idempotency-Key", "PayPal-Request-Id"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMockAPI()
			m.respond("POST", tt.url, mockReply{status: 200, body: `{"id":"x"}`})
			tr := mockTransport(m, fastPolicy())
			spec := reqSpec{url: tt.url, contentType: tt.contentType, body: tt.body}
			want, err := tr.DeriveKey(spec.build(t))
			if err != nil || !derivedKeyPattern.MatchString(want) {
				t.Fatalf("DeriveKey = %q, %v", want, err)
			}
			resp, _, err := roundTrip(t, tr, spec)
			if err != nil {
				t.Fatal(err)
			}
			if got := idemhttp.KeyOf(resp); got != want {
				t.Errorf("KeyOf = %q, want %q", got, want)
			}
			calls := m.recorded()
			if len(calls) != 1 {
				t.Fatalf("%d calls reached the API, want 1", len(calls))
			}
			c := calls[0]
			for _, h := range allKeyHeaders {
				got := c.header.Get(h)
				switch {
				case h != tt.header && got != "":
					t.Errorf("unexpected header %s: %q", h, got)
				case h == tt.header && tt.quoted && got != `"`+want+`"`:
					t.Errorf("%s = %s, want the sf-string \"%s\"", h, got, want)
				case h == tt.header && !tt.quoted && got != want:
					t.Errorf("%s = %q, want %q", h, got, want)
				}
			}
			if tt.header != "" {
				if c.body != tt.body {
					t.Errorf("body sent %q, want the caller's %q", c.body, tt.body)
				}
				return
			}
			// The key travels in the body; the rest of the body is the caller's.
			var sent, orig map[string]any
			if err := json.Unmarshal([]byte(c.body), &sent); err != nil {
				t.Fatalf("body sent is not JSON: %q", c.body)
			}
			json.Unmarshal([]byte(tt.body), &orig)
			if sent["idempotency_key"] != want {
				t.Errorf("idempotency_key = %v, want %q", sent["idempotency_key"], want)
			}
			delete(sent, "idempotency_key")
			if a, b := mustJSON(t, sent), mustJSON(t, orig); a != b {
				t.Errorf("body sent without the key is %s, want %s", a, b)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestExistingKeyKeptOrReplaced(t *testing.T) {
	const charges = "https://api.stripe.com/v1/charges"
	const payments = "https://connect.squareup.com/v2/payments"
	stripe := reqSpec{url: charges, contentType: formCT, body: "amount=1", header: map[string]string{"Idempotency-Key": "sdk-random-1"}}
	square := reqSpec{url: payments, contentType: jsonCT, body: `{"amount":1,"idempotency_key":"caller-key-1"}`}
	sentKey := func(c mockCall, url string) string {
		if url == charges {
			return c.header.Get("Idempotency-Key")
		}
		var b struct {
			Key string `json:"idempotency_key"`
		}
		json.Unmarshal([]byte(c.body), &b)
		return b.Key
	}
	for _, tt := range []struct {
		name      string
		spec      reqSpec
		callerKey string
	}{{"stripe header", stripe, "sdk-random-1"}, {"square body field", square, "caller-key-1"}} {
		for _, replace := range []bool{false, true} {
			m := newMockAPI()
			m.respond("POST", tt.spec.url, mockReply{status: 200, body: `{}`})
			pol := fastPolicy()
			pol.ReplaceKeys = replace
			tr := mockTransport(m, pol)
			if _, _, err := roundTrip(t, tr, tt.spec); err != nil {
				t.Fatal(err)
			}
			got := sentKey(m.recorded()[0], tt.spec.url)
			switch {
			case !replace && got != tt.callerKey:
				t.Errorf("%s: ReplaceKeys false sent key %q, want the caller's %q", tt.name, got, tt.callerKey)
			case replace && (got == tt.callerKey || !derivedKeyPattern.MatchString(got)):
				t.Errorf("%s: ReplaceKeys true sent key %q, want a derived key", tt.name, got)
			}
		}
	}
}

// With ReplaceKeys, the point is a key that survives a restart even though
// the SDK puts a fresh random key on every attempt: two attempts that differ
// only in the SDK's key are one operation.
func TestReplaceKeysIgnoresCallerKey(t *testing.T) {
	for _, tt := range []struct {
		name string
		a, b reqSpec
	}{
		{"stripe header",
			reqSpec{url: "https://api.stripe.com/v1/charges", contentType: formCT, body: "amount=1", header: map[string]string{"Idempotency-Key": "sdk-random-1"}},
			reqSpec{url: "https://api.stripe.com/v1/charges", contentType: formCT, body: "amount=1", header: map[string]string{"Idempotency-Key": "sdk-random-2"}}},
		{"square body field",
			reqSpec{url: "https://connect.squareup.com/v2/payments", contentType: jsonCT, body: `{"amount":1,"idempotency_key":"sdk-random-1"}`},
			reqSpec{url: "https://connect.squareup.com/v2/payments", contentType: jsonCT, body: `{"amount":1,"idempotency_key":"sdk-random-2"}`}},
		{"square body field, name spelled with an escape",
			reqSpec{url: "https://connect.squareup.com/v2/payments", contentType: jsonCT, body: `{"amount":1,"idempotency\u005fkey":"sdk-random-1"}`},
			reqSpec{url: "https://connect.squareup.com/v2/payments", contentType: jsonCT, body: `{"amount":1,"idempotency\u005fkey":"sdk-random-2"}`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := newMockAPI()
			m.respond("POST", tt.a.url, mockReply{status: 200, body: `{"id":"p_1"}`})
			pol := fastPolicy()
			pol.ReplaceKeys = true
			tr := mockTransport(m, pol)
			if _, _, err := roundTrip(t, tr, tt.a); err != nil {
				t.Fatal(err)
			}
			resp, _, err := roundTrip(t, tr, tt.b)
			if err != nil {
				t.Fatal(err)
			}
			if n := m.count("POST", tt.a.url); n != 1 || !idemhttp.Replayed(resp) {
				t.Errorf("the API was called %d times (replayed: %v); want 1 call and a replay", n, idemhttp.Replayed(resp))
			}
		})
	}
}

func TestWithoutIdempotencyPassesThrough(t *testing.T) {
	const url = "https://api.stripe.com/v1/charges"
	for _, optOut := range []bool{false, true} {
		m := newMockAPI()
		m.respond("POST", url, mockReply{status: 200, body: `{"id":"ch_1"}`})
		tr := mockTransport(m, fastPolicy())
		var replayed bool
		for range 2 {
			req := reqSpec{url: url, contentType: formCT, body: "amount=1"}.build(t)
			if optOut {
				req = req.WithContext(idemhttp.WithoutIdempotency(req.Context()))
			}
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			replayed = idemhttp.Replayed(resp)
			resp.Body.Close()
		}
		calls := m.recorded()
		switch {
		case optOut && (len(calls) != 2 || replayed):
			t.Errorf("opted out: %d calls (second replayed: %v), want 2 calls and no replay", len(calls), replayed)
		case !optOut && (len(calls) != 1 || !replayed):
			t.Errorf("keyed: %d calls (second replayed: %v), want 1 call and a replay", len(calls), replayed)
		}
		for i, c := range calls {
			if k := c.header.Get("Idempotency-Key"); (k != "") == optOut {
				t.Errorf("opt out %v, call %d: Idempotency-Key %q", optOut, i, k)
			}
		}
	}
}

func TestGetNotKeyed(t *testing.T) {
	const url = "https://api.stripe.com/v1/charges/ch_1"
	m := newMockAPI()
	m.respond("GET", url, mockReply{status: 200, body: `{"id":"ch_1"}`})
	tr := mockTransport(m, fastPolicy())
	for range 2 {
		resp, _, err := roundTrip(t, tr, reqSpec{method: "GET", url: url})
		if err != nil {
			t.Fatal(err)
		}
		if idemhttp.Replayed(resp) || idemhttp.KeyOf(resp) != "" {
			t.Errorf("GET replayed %v, key %q; want neither", idemhttp.Replayed(resp), idemhttp.KeyOf(resp))
		}
	}
	calls := m.recorded()
	if len(calls) != 2 {
		t.Fatalf("%d GETs reached the API, want 2 (never recorded)", len(calls))
	}
	for _, c := range calls {
		if k := c.header.Get("Idempotency-Key"); k != "" {
			t.Errorf("GET carried Idempotency-Key %q", k)
		}
	}
}

func TestCallerRequestUnmodified(t *testing.T) {
	for _, spec := range []reqSpec{
		{url: "https://api.stripe.com/v1/charges", contentType: formCT, body: "amount=1"},
		{url: "https://orders.test/orders", contentType: jsonCT, body: `{"sku":"A-1"}`},
		{url: "https://connect.squareup.com/v2/payments", contentType: jsonCT, body: `{"amount":1}`},
	} {
		m := newMockAPI()
		m.respond("POST", spec.url, mockReply{status: 200, body: `{}`})
		tr := mockTransport(m, fastPolicy())
		req := spec.build(t)
		header := req.Header.Clone()
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if len(req.Header) != len(header) || req.Header.Get("Content-Type") != header.Get("Content-Type") {
			t.Errorf("%s: caller's headers changed from %v to %v", spec.url, header, req.Header)
		}
		for _, h := range []string{"Idempotency-Key", "X-Idempotency-Key", "PayPal-Request-Id"} {
			if v := req.Header.Get(h); v != "" {
				t.Errorf("%s: caller's request now has %s: %q", spec.url, h, v)
			}
		}
		if req.URL.String() != spec.url || req.ContentLength != int64(len(spec.body)) {
			t.Errorf("caller's request changed: URL %s, ContentLength %d", req.URL, req.ContentLength)
		}
		body, err := req.GetBody()
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := io.ReadAll(body); string(b) != spec.body {
			t.Errorf("%s: caller's body now reads %q, want %q", spec.url, b, spec.body)
		}
	}
}

func TestRetryDecisions(t *testing.T) {
	const (
		charges = "https://api.stripe.com/v1/charges"
		mail    = "https://api.sendgrid.com/v3/mail/send"
	)
	ok := mockReply{status: 200, body: `{"id":"ok"}`}
	tests := []struct {
		name       string
		url        string
		body       string
		replies    []mockReply
		wantCalls  int
		wantStatus int
		keyHeader  string
	}{
		{"Stripe-Should-Retry false on a 500", charges, "amount=1",
			[]mockReply{{status: 500, header: map[string]string{"Stripe-Should-Retry": "false"}}, ok}, 1, 500, "Idempotency-Key"},
		{"Stripe 500 without a hint is retried", charges, "amount=1",
			[]mockReply{{status: 500}, ok}, 2, 200, "Idempotency-Key"},
		{"Stripe-Should-Retry true on a 400", charges, "amount=1",
			[]mockReply{{status: 400, header: map[string]string{"Stripe-Should-Retry": "true"}}, ok}, 2, 200, "Idempotency-Key"},
		{"Stripe 400 without a hint is final", charges, "amount=1",
			[]mockReply{{status: 400}, ok}, 1, 400, "Idempotency-Key"},
		{"Stripe 409 in progress", charges, "amount=1",
			[]mockReply{{status: 409}, {status: 409}, ok}, 3, 200, "Idempotency-Key"},
		{"Retry-After HTTP-date on a 503", charges, "amount=1",
			[]mockReply{{status: 503, header: map[string]string{"Retry-After": time.Now().Add(time.Second).UTC().Format(http.TimeFormat)}}, ok}, 2, 200, "Idempotency-Key"},
		{"out of attempts: the last answer stands", charges, "amount=1",
			[]mockReply{{status: 503, header: map[string]string{"Retry-After": "0"}}}, 4, 503, "Idempotency-Key"},
		{"SendGrid 500 is not retried", mail, mailBody("ada@example.com", "Hi", "Hello"),
			[]mockReply{{status: 500}, {status: 202}}, 1, 500, "X-Idempotency-Key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMockAPI()
			m.respond("POST", tt.url, tt.replies...)
			tr := mockTransport(m, fastPolicy())
			ct := formCT
			if strings.HasPrefix(tt.body, "{") {
				ct = jsonCT
			}
			resp, _, err := roundTrip(t, tr, reqSpec{url: tt.url, contentType: ct, body: tt.body})
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if n := m.count("POST", tt.url); n != tt.wantCalls {
				t.Errorf("%d calls reached the API, want %d", n, tt.wantCalls)
			}
			calls := m.recorded()
			for i, c := range calls {
				if k := c.header.Get(tt.keyHeader); k == "" || k != calls[0].header.Get(tt.keyHeader) {
					t.Errorf("call %d carried key %q, the first %q: want one key throughout", i, k, calls[0].header.Get(tt.keyHeader))
				}
			}
		})
	}
}

// A 500 from a provider that does not de-duplicate leaves the send in
// doubt: the same call is refused instead of sending a second email.
func TestSendGridServerErrorInDoubt(t *testing.T) {
	const url = "https://api.sendgrid.com/v3/mail/send"
	m := newMockAPI()
	m.respond("POST", url, mockReply{status: 500}, mockReply{status: 202})
	tr := mockTransport(m, fastPolicy())
	spec := reqSpec{url: url, contentType: jsonCT, body: mailBody("ada@example.com", "Hi", "Hello")}
	if resp, _, err := roundTrip(t, tr, spec); err != nil || resp.StatusCode != 500 {
		t.Fatalf("first call: %v, %v; want the 500", resp, err)
	}
	if _, _, err := roundTrip(t, tr, spec); !errors.Is(err, idemhttp.ErrInDoubt) {
		t.Errorf("second call: err %v, want ErrInDoubt", err)
	}
	if n := m.count("POST", url); n != 1 {
		t.Errorf("%d sends reached SendGrid, want 1", n)
	}
}

// The body a mocked Square endpoint receives must be a JSON object for the
// key to be placed; anything else is refused before sending.
func TestSquareBodyNotObject(t *testing.T) {
	const url = "https://connect.squareup.com/v2/payments"
	m := newMockAPI()
	m.respond("POST", url, mockReply{status: 200})
	tr := mockTransport(m, fastPolicy())
	_, _, err := roundTrip(t, tr, reqSpec{url: url, contentType: jsonCT, body: `[1,2]`})
	if err == nil {
		t.Error("a JSON array body was sent to Square with nowhere to put the key")
	}
	if n := m.GetTotalCallCount(); n != 0 {
		t.Errorf("%d calls reached Square, want 0", n)
	}
}
