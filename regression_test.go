package idemhttp_test

// Regression tests: each one failed on a defect found in review, and guards
// its fix (net/http's own re-send of keyed requests, a lost lease, unbounded
// probe loops, panics, tenancy headers, template emails, streaming bodies).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idemhttp/idemhttp"
	"github.com/idemhttp/idemhttp/cache"
	"github.com/idemhttp/idemhttp/internal/faultserver"
	"github.com/idemhttp/idemhttp/internal/testclock"
	"github.com/idemhttp/idemhttp/providers"
)

// A keyed POST with an empty body to a provider that does not de-duplicate
// (the key header is Idempotency-Key, which net/http treats as "replayable")
// is re-sent by net/http itself when the reused connection breaks after the
// server processed it. GetBody=nil does not stop that for an empty body.
func TestEmptyBodyPostNotResentByNetHTTP(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	// Warm a keep-alive connection to the host.
	if r := post(context.Background(), c, bookingsHost, "/bookings", jsonType, `{"slot":"warm"}`); r.err != nil {
		t.Fatal(r.err)
	}
	before := e.srv.RouteEffects("POST", "/bookings")
	e.srv.Inject("POST", "/bookings", faultserver.LostAckFault())
	r := post(context.Background(), c, bookingsHost, "/bookings", jsonType, "")
	if n := e.srv.RouteEffects("POST", "/bookings") - before; n != 1 {
		t.Fatalf("empty-body booking executed %d times (call result: err=%v); want 1 and ErrInDoubt", n, r.err)
	}
	if !errors.Is(r.err, idemhttp.ErrInDoubt) {
		t.Fatalf("want ErrInDoubt, got %v", r.err)
	}
}

// doubt -> probe "not done" -> re-send loops without counting attempts, without
// backoff and without MaxElapsed: a server that always resets after reading
// the request is hammered forever.
func TestProbeLoopBoundedByMaxAttempts(t *testing.T) {
	e := newEnv(t)
	var calls atomic.Int32
	e.withProbe(lookupProbe(&calls), false)
	const resets = 6
	for range resets {
		e.srv.Inject("POST", "/v3/mail/send", faultserver.ResetFault())
	}
	r := post(context.Background(), e.client(), sendgridHost, "/v3/mail/send", jsonType, emailBody("ann@x.test", "Welcome!", "x"))
	if n := e.srv.Requests("POST", "/v3/mail/send"); n > e.policy.MaxAttempts {
		t.Fatalf("%d sends in one call (probe calls %d, err %v), Policy.MaxAttempts is %d", n, calls.Load(), r.err, e.policy.MaxAttempts)
	}
}

// noRenewStore is a store whose Renew fails (a store blip during a long wait).
type noRenewStore struct{ cache.Store }

func (noRenewStore) Renew(context.Context, string, cache.Token, time.Duration) error {
	return fmt.Errorf("renew: %w", cache.ErrUnavailable)
}

// A holder that could not renew its lease keeps re-sending after another
// process took the record over: two emails.
func TestHolderThatLostLeaseDoesNotResend(t *testing.T) {
	e := newEnv(t)
	e.policy.Lease = 200 * time.Millisecond
	var calls atomic.Int32
	e.withProbe(lookupProbe(&calls), false)
	e.srv.Inject("POST", "/v3/mail/send", faultserver.StatusBeforeFault(429, "3"))
	logs := newLogWatch()
	shared := e.store
	a := &http.Client{Transport: e.transport(idemhttp.WithStore(noRenewStore{shared}), idemhttp.WithLogger(logs.logger()))}
	b := e.client()
	body := emailBody("ann@x.test", "Welcome!", "Hello")
	done := make(chan result)
	go func() { done <- post(context.Background(), a, sendgridHost, "/v3/mail/send", jsonType, body) }()
	logs.wait(t, "idemhttp: retry") // A got the 429 and waits 3s; its lease lapses
	rb := post(context.Background(), b, sendgridHost, "/v3/mail/send", jsonType, body)
	ra := <-done
	if n := e.srv.RouteEffects("POST", "/v3/mail/send"); n != 1 {
		t.Fatalf("welcome email sent %d times (A: %v, B: %v)", n, ra.err, rb.err)
	}
}

// panicAfterSend forwards the request (the provider executes it), then, once,
// panics (a buggy instrumentation wrapper) or calls runtime.Goexit.
type panicAfterSend struct {
	base     http.RoundTripper
	goexit   bool // end the goroutine with runtime.Goexit, as t.FailNow does, rather than panic
	panicked atomic.Bool
}

func (p *panicAfterSend) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := p.base.RoundTrip(req)
	if req.Method == "POST" && !p.panicked.Swap(true) {
		if resp != nil {
			resp.Body.Close()
		}
		if p.goexit {
			runtime.Goexit() // a way out of RoundTrip that recover does not see
		}
		panic("instrumentation bug")
	}
	return resp, err
}

func bookingReq(ctx context.Context) *http.Request {
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+bookingsHost+"/bookings", strings.NewReader(`{"slot":"p"}`))
	req.Header.Set("Content-Type", jsonType)
	return req
}

// mustPanic sends req through rt, which must panic.
func mustPanic(t *testing.T, rt http.RoundTripper, req *http.Request) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Fatal("setup: no panic")
		}
	}()
	rt.RoundTrip(req)
}

// A call cut short by a panic after its request went out is in doubt, and
// kept so for Policy.InDoubtTTL. It used to be left in flight, which the
// store forgot after its abandoned TTL (then 24 h, whatever the policy):
// two days later the next identical call got a fresh claim and booked again
// with a provider that does not de-duplicate.
func TestPanicAfterSendStaysInDoubtForInDoubtTTL(t *testing.T) {
	e := newEnv(t)
	clock := testclock.New(time.Now())
	e.store = cache.NewMemory(cache.WithClock(clock.Now))
	mustPanic(t, e.transport(idemhttp.WithBase(&panicAfterSend{base: e.base})), bookingReq(context.Background()))
	if n := e.srv.RouteEffects("POST", "/bookings"); n != 1 {
		t.Fatalf("setup: booked %d times, want 1", n)
	}
	// Two days later (well within InDoubtTTL), a restarted agent retries.
	clock.Advance(48 * time.Hour)
	resp, err := e.transport().RoundTrip(bookingReq(context.Background()))
	if err == nil {
		resp.Body.Close()
	}
	if n := e.srv.RouteEffects("POST", "/bookings"); n != 1 || !errors.Is(err, idemhttp.ErrInDoubt) {
		t.Fatalf("two days after a panic mid-send: booked %d times (err %v), want 1 and ErrInDoubt "+
			"(the operation may have executed; Policy.InDoubtTTL is %v)", n, err, e.policy.InDoubtTTL)
	}
}

// A panic under RoundTrip leaves the single-flight entry behind (every later
// call on the key waits forever) and releases a claim whose request was sent.
func TestPanicDoesNotPoisonOrRelease(t *testing.T) {
	e := newEnv(t)
	tr := e.transport(idemhttp.WithBase(&panicAfterSend{base: e.base}))
	mustPanic(t, tr, bookingReq(context.Background()))
	var problems []string
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := tr.RoundTrip(bookingReq(ctx)); errors.Is(err, idemhttp.ErrInFlight) {
		problems = append(problems, fmt.Sprintf("same Transport after the panic: %v (flight never finished)", err))
	}
	resp, err := e.transport().RoundTrip(bookingReq(context.Background()))
	if err == nil {
		resp.Body.Close()
	}
	if n := e.srv.RouteEffects("POST", "/bookings"); n != 1 {
		problems = append(problems, fmt.Sprintf("booked %d times: the claim of a sent request was released (err %v)", n, err))
	}
	if len(problems) > 0 {
		t.Fatal(strings.Join(problems, "; "))
	}
}

// Adyen authenticates with X-API-Key, which is not an AccountHeader: two
// merchants using the same explicit key share one record.
func TestAdyenTenantsNamespaced(t *testing.T) {
	e := newEnv(t)
	adyen := providers.Adyen()
	adyen.Hosts = []string{"checkout-test.adyen.test"}
	e.provs = append(e.provs, adyen)
	c := e.client()
	ctx := idemhttp.WithKey(context.Background(), "order-42")
	for _, m := range []string{"MerchantA", "MerchantB"} {
		req, _ := http.NewRequestWithContext(ctx, "POST", "http://checkout-test.adyen.test/bookings",
			strings.NewReader(`{"merchantAccount":"`+m+`","amount":{"value":1000,"currency":"EUR"}}`))
		req.Header.Set("Content-Type", jsonType)
		req.Header.Set("X-API-Key", "key-of-"+m)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		resp.Body.Close()
	}
	if n := e.srv.Requests("POST", "/bookings"); n != 2 {
		t.Fatalf("%d requests reached Adyen for two merchants", n)
	}
}

// Two different transactional template emails (same recipient and template,
// different order data) are one operation for SendGrid's KeyFields: the
// second receipt is replayed and never sent.
func TestSendGridTemplateEmailsDistinct(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	ctx := idemhttp.WithScope(context.Background(), "shop")
	tmpl := func(order string) string {
		return `{"from":{"email":"shop@x.test"},"template_id":"d-receipt","personalizations":[{"to":[{"email":"ann@x.test"}],"dynamic_template_data":{"order":"` + order + `"}}]}`
	}
	for _, order := range []string{"1001", "1002"} {
		if r := post(ctx, c, sendgridHost, "/v3/mail/send", jsonType, tmpl(order)); r.err != nil {
			t.Fatal(r.err)
		}
	}
	if n := e.srv.Requests("POST", "/v3/mail/send"); n != 2 {
		t.Fatalf("%d receipts sent for two orders", n)
	}
}

// Transport.DeriveKey claims to return "the key req would carry", but ignores
// Policy.ReplaceKeys.
func TestDeriveKeyHonoursReplaceKeys(t *testing.T) {
	e := newEnv(t)
	e.policy.ReplaceKeys = true
	tr := e.transport()
	newReq := func() *http.Request {
		req, _ := http.NewRequest("POST", "http://"+stripeHost+"/v1/charges", strings.NewReader(chargeBody))
		req.Header.Set("Content-Type", formType)
		req.Header.Set("Idempotency-Key", "1700000000_sdkrandom")
		return req
	}
	want, err := tr.DeriveKey(newReq())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tr.RoundTrip(newReq())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := idemhttp.KeyOf(resp); got != want {
		t.Fatalf("DeriveKey = %q, key sent = %q", want, got)
	}
}

// untraced is a base transport that does not report httptrace events (a
// transport other than net/http's): the request is sent all the same.
type untraced struct{ base http.RoundTripper }

func (u untraced) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(context.Background())
	stop := context.AfterFunc(req.Context(), cancel)
	defer stop()
	resp, err := u.base.RoundTrip(req.Clone(ctx))
	if err != nil {
		cancel()
	}
	return resp, err
}

// Without a WroteRequest event, a request that was sent is taken for "not
// written" and re-sent to a provider that does not de-duplicate.
func TestUntracedBaseNotRetriedBlindly(t *testing.T) {
	e := newEnv(t)
	e.srv.Inject("POST", "/bookings", faultserver.LostAckFault())
	c := &http.Client{Transport: e.transport(idemhttp.WithBase(untraced{e.base}))}
	r := post(context.Background(), c, bookingsHost, "/bookings", jsonType, `{"slot":"u"}`)
	if n := e.srv.RouteEffects("POST", "/bookings"); n != 1 {
		t.Fatalf("booked %d times (err %v); want 1 and ErrInDoubt", n, r.err)
	}
}

// A probe that finds the effect of THIS call's own lost attempt reports it as
// Replayed, though Replayed's doc says a response to an operation executed
// during this call is not a replay.
func TestProbeAfterOwnSendNotReplayed(t *testing.T) {
	e := newEnv(t)
	var calls atomic.Int32
	e.withProbe(lookupProbe(&calls), false)
	e.srv.Inject("POST", "/v3/mail/send", faultserver.LostAckFault())
	r := post(context.Background(), e.client(), sendgridHost, "/v3/mail/send", jsonType, emailBody("ann@x.test", "Welcome!", "x"))
	if r.err != nil || calls.Load() != 1 {
		t.Fatalf("setup: %v, probe calls %d", r.err, calls.Load())
	}
	if idemhttp.Replayed(r.resp) {
		t.Fatal("Replayed(resp) = true for an email this very call sent")
	}
}

// A streamed response (SSE from an LLM API, POST) does not reach the caller
// until the stream ends: RoundTrip reads the body to record it first.
func TestStreamingResponseNotBuffered(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		fmt.Fprint(w, "event: message_start\ndata: {}\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	tr := idemhttp.New(idemhttp.WithBase(base), idemhttp.WithPolicy(testPolicy()))
	got := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest("POST", srv.URL+"/v1/messages", strings.NewReader(`{"stream":true}`))
		req.Header.Set("Content-Type", jsonType)
		resp, err := tr.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
		}
		got <- err
	}()
	var blocked bool
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second): // a hang guard, not a timing assertion
		blocked = true
	}
	close(release)
	if blocked {
		<-got
		t.Fatal("RoundTrip did not return the response headers while the stream was open")
	}
}

// A caller that retries by sending the same *http.Request again (as after a
// timeout it could not interpret) gets the recorded response: the body is
// read through GetBody, so a request built by http.NewRequest stays
// sendable (DESIGN.md, life of a request, step 2: "GetBody used when
// present").
//
// The second case builds the request as stripe-go does (no body given to
// NewRequest, then Body and GetBody set, so ContentLength stays 0): read
// from the spent Body, the re-sent request would be an empty POST under a
// new derived key.
func TestReusedRequestReplays(t *testing.T) {
	build := map[string]func() *http.Request{
		"NewRequest": func() *http.Request {
			req, _ := http.NewRequestWithContext(context.Background(), "POST", "http://"+stripeHost+"/v1/charges", stringsReader(chargeBody))
			return req
		},
		"GetBody, length unknown": func() *http.Request {
			req, _ := http.NewRequestWithContext(context.Background(), "POST", "http://"+stripeHost+"/v1/charges", nil)
			req.Body = io.NopCloser(bytes.NewReader([]byte(chargeBody)))
			req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader([]byte(chargeBody))), nil }
			return req
		},
	}
	for name, newReq := range build {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			c := e.client()
			req := newReq()
			req.Header.Set("Content-Type", formType)
			req.Header.Set("Authorization", "Bearer sk_test_tenant_a")
			for i := range 2 {
				resp, err := c.Do(req)
				if err != nil {
					t.Fatalf("call %d with the same request: %v", i, err)
				}
				resp.Body.Close()
				if got := idemhttp.Replayed(resp); got != (i == 1) {
					t.Errorf("call %d: Replayed = %v", i, got)
				}
			}
			if n := e.srv.Requests("POST", "/v1/charges"); n != 1 {
				t.Fatalf("%d charges sent, want 1", n)
			}
		})
	}
}

// Resolve(ctx, req, nil) records an in-doubt operation as not done, so that
// "the next call sends it": sending req itself must then work, as Resolve
// reads the body through GetBody and leaves req as it was.
func TestResolveLeavesRequestSendable(t *testing.T) {
	e, ctx := newInDoubtEmailEnv(t)
	tr := e.transport()
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+sendgridHost+"/v3/mail/send", stringsReader(emailBody("ann@x.test", "Welcome!", "Hello")))
	req.Header.Set("Content-Type", jsonType)
	req.Header.Set("Authorization", "Bearer sk_test_tenant_a")
	if err := tr.Resolve(ctx, req, nil); err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatalf("sending the resolved request: %v", err)
	}
	resp.Body.Close()
	if n := e.srv.Requests("POST", "/v3/mail/send"); n != 2 {
		t.Fatalf("%d sends, want 2 (the in-doubt one and the re-send)", n)
	}
}

// A call whose base transport ends the goroutine with runtime.Goexit after
// sending is in doubt, as after a panic. It used to be taken for a call that
// ended normally without an answer, and its claim released: the next call
// booked again.
func TestGoexitAfterSendStaysInDoubt(t *testing.T) {
	e := newEnv(t)
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		e.transport(idemhttp.WithBase(&panicAfterSend{base: e.base, goexit: true})).RoundTrip(bookingReq(context.Background()))
	}()
	<-exited
	resp, err := e.transport().RoundTrip(bookingReq(context.Background()))
	if err == nil {
		resp.Body.Close()
	}
	if n := e.srv.RouteEffects("POST", "/bookings"); n != 1 || !errors.Is(err, idemhttp.ErrInDoubt) {
		t.Fatalf("after a Goexit mid-send: booked %d times (err %v), want 1 and ErrInDoubt", n, err)
	}
}
