package idemhttp_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/idemhttp/idemhttp"
	"github.com/idemhttp/idemhttp/cache"
	"github.com/idemhttp/idemhttp/internal/faultserver"
)

// Symptom: "a customer charged twice after a timeout". The first call times
// out after Stripe charged; the agent retries; Stripe sees the same key.
func TestChargedOnceAfterTimeout(t *testing.T) {
	e := newEnv(t)
	release := make(chan struct{})
	defer close(release)
	e.srv.Inject("POST", "/v1/charges", faultserver.HangFault(release))
	c := e.client()
	ctx := idemhttp.WithScope(context.Background(), "session-1")

	tctx, cancel := context.WithCancel(ctx)
	done := make(chan result)
	go func() { done <- e.charge(tctx, c) }()
	e.await(func() bool { return e.srv.RouteEffects("POST", "/v1/charges") == 1 })
	cancel() // the client's timeout
	if r := <-done; !errors.Is(r.err, context.Canceled) {
		t.Fatalf("first call: want context.Canceled, got %v", r.err)
	}
	e.await(func() bool { rs := e.srv.Received("POST", "/v1/charges"); return rs[0].Finished })

	r := e.charge(ctx, c)
	if r.err != nil || r.resp.StatusCode != 200 {
		t.Fatalf("retry: %v %v", r.err, r.resp)
	}
	if n := e.srv.RouteEffects("POST", "/v1/charges"); n != 1 {
		t.Fatalf("customer charged %d times, want 1", n)
	}
	// The retry carried the first attempt's key.
	rs := e.srv.Received("POST", "/v1/charges")
	if k0, k1 := rs[0].Header.Get("Idempotency-Key"), rs[len(rs)-1].Header.Get("Idempotency-Key"); k0 == "" || k0 != k1 {
		t.Fatalf("keys differ across the retry: %q vs %q", k0, k1)
	}
	// And a third call is answered from the record.
	r3 := e.charge(ctx, c)
	if !idemhttp.Replayed(r3.resp) || idOf(t, r3.body) != idOf(t, r.body) {
		t.Fatalf("third call not a replay of the charge: %v %s", r3.resp.Header, r3.body)
	}
	if got := e.srv.Requests("POST", "/v1/charges"); got != len(rs) {
		t.Fatalf("replay reached the server: %d requests, had %d", got, len(rs))
	}
}

// A lost acknowledgement from a de-duplicating provider is retried inside one
// call, with the same key: one charge, and the caller gets it.
func TestLostAckRetriedWithSameKey(t *testing.T) {
	e := newEnv(t)
	e.srv.Inject("POST", "/v1/charges", faultserver.LostAckFault(), faultserver.StatusAfterFault(500))
	r := e.charge(context.Background(), e.client())
	if r.err != nil || r.resp.StatusCode != 200 {
		t.Fatalf("call: %v", r.err)
	}
	if n := e.srv.RouteEffects("POST", "/v1/charges"); n != 1 {
		t.Fatalf("charged %d times", n)
	}
	if got := e.srv.Requests("POST", "/v1/charges"); got != 3 {
		t.Fatalf("want 3 sends (lost ack, 500, ok), got %d", got)
	}
}

// Symptom: "two welcome emails on retry". SendGrid does not de-duplicate:
// once a send may have gone out, it is never re-sent.
func TestOneWelcomeEmailAfterLostAck(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	ctx := idemhttp.WithScope(context.Background(), "session-1")
	// Warm a keep-alive connection, so net/http's own re-send on a reused
	// connection is exercised too.
	if r := post(ctx, c, sendgridHost, "/v3/mail/send", jsonType, emailBody("bob@x.test", "Receipt", "hi")); r.err != nil {
		t.Fatal(r.err)
	}
	e.srv.Inject("POST", "/v3/mail/send", faultserver.LostAckFault())
	r := post(ctx, c, sendgridHost, "/v3/mail/send", jsonType, emailBody("ann@x.test", "Welcome!", "Hello Ann"))
	if !errors.Is(r.err, idemhttp.ErrInDoubt) {
		t.Fatalf("want ErrInDoubt, got %v", r.err)
	}
	// The agent retries, and its model rewords the email: same recipient,
	// same subject, so the same operation, still in doubt.
	r = post(ctx, c, sendgridHost, "/v3/mail/send", jsonType, emailBody("ann@x.test", "Welcome!", "Hi Ann, welcome aboard"))
	if !errors.Is(r.err, idemhttp.ErrInDoubt) {
		t.Fatalf("retry: want ErrInDoubt, got %v", r.err)
	}
	if n := e.srv.Effects("email:ann@x.test:Welcome!"); n != 1 {
		t.Fatalf("welcome email sent %d times, want 1", n)
	}
	if n := e.srv.Requests("POST", "/v3/mail/send"); n != 2 {
		t.Fatalf("want 2 requests at the server (receipt, welcome), got %d", n)
	}
}

// A reworded email that went out fine is replayed, not sent again.
func TestRewordedEmailReplayed(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	ctx := idemhttp.WithScope(context.Background(), "session-1")
	r1 := post(ctx, c, sendgridHost, "/v3/mail/send", jsonType, emailBody("ann@x.test", "Welcome!", "Hello Ann"))
	r2 := post(ctx, c, sendgridHost, "/v3/mail/send", jsonType, emailBody("ann@x.test", "Welcome!", "Hi Ann!!"))
	if r1.err != nil || r2.err != nil {
		t.Fatal(r1.err, r2.err)
	}
	if r2.resp.StatusCode != 202 || !idemhttp.Replayed(r2.resp) || r1.body != r2.body {
		t.Fatalf("second send not replayed: %d %v", r2.resp.StatusCode, r2.resp.Header)
	}
	if n := e.srv.RouteEffects("POST", "/v3/mail/send"); n != 1 {
		t.Fatalf("%d emails sent", n)
	}
	// Another subject is another email.
	r3 := post(ctx, c, sendgridHost, "/v3/mail/send", jsonType, emailBody("ann@x.test", "Your receipt", "Hello Ann"))
	if r3.err != nil || idemhttp.Replayed(r3.resp) || e.srv.RouteEffects("POST", "/v3/mail/send") != 2 {
		t.Fatalf("a different email was not sent: %v", r3.err)
	}
}

// A 5xx from a provider that does not de-duplicate may follow an executed
// request: returned to the caller, then in doubt.
func TestServerErrorWithoutDedupIsInDoubt(t *testing.T) {
	e := newEnv(t)
	e.srv.Inject("POST", "/bookings", faultserver.StatusAfterFault(502))
	c := e.client()
	r := post(context.Background(), c, bookingsHost, "/bookings", jsonType, `{"slot":"2026-12-01T10:00"}`)
	if r.err != nil || r.resp.StatusCode != 502 {
		t.Fatalf("want the 502 back, got %v %v", r.err, r.resp)
	}
	r = post(context.Background(), c, bookingsHost, "/bookings", jsonType, `{"slot":"2026-12-01T10:00"}`)
	if !errors.Is(r.err, idemhttp.ErrInDoubt) {
		t.Fatalf("want ErrInDoubt, got %v", r.err)
	}
	if n := e.srv.RouteEffects("POST", "/bookings"); n != 1 {
		t.Fatalf("booked %d times", n)
	}
}

// A request that never reached the connection is always safe to retry, even
// for a provider that does not de-duplicate.
func TestNotWrittenIsRetried(t *testing.T) {
	e := newEnv(t)
	failures := 2
	var mu sync.Mutex
	dial := e.base.DialContext
	e.base.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		defer mu.Unlock()
		if failures > 0 {
			failures--
			return nil, fmt.Errorf("dial: %w", syscall.ECONNREFUSED)
		}
		return dial(ctx, network, addr)
	}
	r := post(context.Background(), e.client(), sendgridHost, "/v3/mail/send", jsonType, emailBody("ann@x.test", "Welcome!", "x"))
	if r.err != nil || r.resp.StatusCode != 202 {
		t.Fatalf("want success after dial failures, got %v", r.err)
	}
	if n := e.srv.RouteEffects("POST", "/v3/mail/send"); n != 1 {
		t.Fatalf("%d emails", n)
	}
}

// Symptom: "duplicate order rows". 500s and a reset from a de-duplicating
// order service are retried with the same key: one row.
func TestOneOrderRowThroughFaults(t *testing.T) {
	e := newEnv(t)
	e.srv.Inject("POST", "/orders", faultserver.ResetFault(), faultserver.StatusBeforeFault(503, "0"), faultserver.StatusAfterFault(500))
	r := post(context.Background(), e.client(), ordersHost, "/orders", jsonType, `{"sku":"A-1","qty":2}`)
	if r.err != nil || r.resp.StatusCode != 201 {
		t.Fatalf("call: %v %v", r.err, r.resp)
	}
	if n := e.srv.RouteEffects("POST", "/orders"); n != 1 {
		t.Fatalf("%d order rows", n)
	}
}

// Symptom: "double booking after a 429". The 429 is waited out (Retry-After)
// and the booking made once.
func TestOneBookingAfter429(t *testing.T) {
	e := newEnv(t)
	e.srv.Inject("POST", "/bookings", faultserver.StatusBeforeFault(429, "1"))
	c := e.client()
	start := time.Now()
	r := post(context.Background(), c, bookingsHost, "/bookings", jsonType, `{"slot":"2026-12-01T10:00"}`)
	if r.err != nil || r.resp.StatusCode != 201 {
		t.Fatalf("call: %v %v", r.err, r.resp)
	}
	if time.Since(start) < time.Second {
		t.Fatalf("Retry-After: 1 not honoured")
	}
	r2 := post(context.Background(), c, bookingsHost, "/bookings", jsonType, `{"slot":"2026-12-01T10:00"}`)
	if !idemhttp.Replayed(r2.resp) || e.srv.RouteEffects("POST", "/bookings") != 1 {
		t.Fatalf("booked twice")
	}
}

// A Retry-After beyond the policy's cap is the caller's decision: the 429
// comes back at once, and the record is released. So is one within the cap
// but beyond MaxElapsed, even with no cap at all (MaxRetryAfter =
// math.MaxInt64), where the wait once wrapped the elapsed-time sum around
// and the call slept until its context ended.
func TestRetryAfterOverCapDelivered(t *testing.T) {
	for _, tc := range []struct {
		name, retryAfter string
		maxRetryAfter    time.Duration
	}{
		{"over the cap", "3600", 0},
		{"no cap, past MaxElapsed", "99999999999", math.MaxInt64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if tc.maxRetryAfter != 0 {
				e.policy.MaxRetryAfter = tc.maxRetryAfter
			}
			e.srv.Inject("POST", "/bookings", faultserver.StatusBeforeFault(429, tc.retryAfter))
			c := e.client()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // bounds the failure
			defer cancel()
			r := post(ctx, c, bookingsHost, "/bookings", jsonType, `{"slot":"x"}`)
			if r.err != nil || r.resp.StatusCode != 429 || e.srv.Requests("POST", "/bookings") != 1 {
				t.Fatalf("want one 429 back, got %v %v", r.err, r.resp)
			}
			r = post(ctx, c, bookingsHost, "/bookings", jsonType, `{"slot":"x"}`)
			if r.err != nil || r.resp.StatusCode != 201 || idemhttp.Replayed(r.resp) {
				t.Fatalf("later call not sent: %v", r.err)
			}
		})
	}
}

// Cancelling the context while waiting out a Retry-After ends the call at
// once and releases the record.
func TestCancelDuringBackoff(t *testing.T) {
	e := newEnv(t)
	e.srv.Inject("POST", "/bookings", faultserver.StatusBeforeFault(429, "25"))
	logs := newLogWatch()
	c := e.client(idemhttp.WithLogger(logs.logger()))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan result)
	go func() { done <- post(ctx, c, bookingsHost, "/bookings", jsonType, `{"slot":"y"}`) }()
	logs.wait(t, "idemhttp: retry") // the 429 was read; the call is waiting
	cancel()
	r := <-done
	if !errors.Is(r.err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", r.err)
	}
	r = post(context.Background(), c, bookingsHost, "/bookings", jsonType, `{"slot":"y"}`)
	if r.err != nil || r.resp.StatusCode != 201 {
		t.Fatalf("record not released: %v", r.err)
	}
}

// 200 goroutines issue 10 distinct operations: exactly 10 executions.
func TestConcurrentCallsExecuteOncePerOperation(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	var wg sync.WaitGroup
	ids := make([]sync.Map, 1)
	errs := make(chan error, 200)
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			op := i % 10
			r := post(context.Background(), c, bookingsHost, "/bookings", jsonType, fmt.Sprintf(`{"slot":%d}`, op))
			if r.err != nil || r.resp.StatusCode != 201 {
				errs <- fmt.Errorf("op %d: %v", op, r.err)
				return
			}
			if prev, loaded := ids[0].LoadOrStore(op, r.body); loaded && prev != r.body {
				errs <- fmt.Errorf("op %d: two different answers", op)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := e.srv.RouteEffects("POST", "/bookings"); n != 10 {
		t.Fatalf("%d executions, want 10", n)
	}
	for id, n := range e.srv.EffectsByID() {
		if n != 1 {
			t.Errorf("%s executed %d times", id, n)
		}
	}
}

// The same across two Transports sharing one store (two processes' worth of
// single-flight maps): the store alone keeps it to one execution each.
func TestConcurrentTransportsShareOneStore(t *testing.T) {
	e := newEnv(t)
	clients := []*http.Client{e.client(), e.client()}
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := post(context.Background(), clients[i%2], ordersHost, "/orders", jsonType, fmt.Sprintf(`{"n":%d}`, i%5))
			if r.err != nil {
				t.Error(r.err)
			}
		}()
	}
	wg.Wait()
	if n := e.srv.RouteEffects("POST", "/orders"); n != 5 {
		t.Fatalf("%d executions, want 5", n)
	}
}

func TestKeyReused(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	ctx := idemhttp.WithKey(context.Background(), "order-42-charge")
	if r := e.charge(ctx, c); r.err != nil {
		t.Fatal(r.err)
	}
	r := post(ctx, c, stripeHost, "/v1/charges", formType, "amount=9999&currency=usd")
	if !errors.Is(r.err, idemhttp.ErrKeyReused) {
		t.Fatalf("want ErrKeyReused, got %v", r.err)
	}
	if n := e.srv.Requests("POST", "/v1/charges"); n != 1 {
		t.Fatalf("the reused key was sent: %d requests", n)
	}
}

func TestBodyTooLarge(t *testing.T) {
	e := newEnv(t)
	e.policy.MaxBodyBytes = 1024
	r := post(context.Background(), e.client(), ordersHost, "/orders", jsonType, `{"x":"`+strings.Repeat("a", 2048)+`"}`)
	if !errors.Is(r.err, idemhttp.ErrBodyTooLarge) {
		t.Fatalf("want ErrBodyTooLarge, got %v", r.err)
	}
	if n := e.srv.Requests("POST", "/orders"); n != 0 {
		t.Fatalf("sent anyway: %d", n)
	}
}

// A call that finds the operation running in another process waits, and
// gives up with ErrInFlight when its context ends.
func TestInFlightElsewhere(t *testing.T) {
	e := newEnv(t)
	release := make(chan struct{})
	e.srv.Inject("POST", "/bookings", faultserver.HoldFault(release))
	first := make(chan result)
	go func() {
		first <- post(context.Background(), e.client(), bookingsHost, "/bookings", jsonType, `{"slot":"z"}`)
	}()
	e.await(func() bool { return e.srv.Requests("POST", "/bookings") == 1 })

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	r := post(ctx, e.client(), bookingsHost, "/bookings", jsonType, `{"slot":"z"}`)
	if !errors.Is(r.err, idemhttp.ErrInFlight) {
		t.Fatalf("want ErrInFlight, got %v", r.err)
	}
	// A patient caller gets the holder's outcome once it completes.
	waiter := make(chan result)
	go func() {
		waiter <- post(context.Background(), e.client(), bookingsHost, "/bookings", jsonType, `{"slot":"z"}`)
	}()
	close(release)
	r1, r2 := <-first, <-waiter
	if r1.err != nil || r2.err != nil || !idemhttp.Replayed(r2.resp) || r1.body != r2.body {
		t.Fatalf("waiter did not get the replay: %v %v", r1.err, r2.err)
	}
	if n := e.srv.RouteEffects("POST", "/bookings"); n != 1 {
		t.Fatalf("%d bookings", n)
	}
}

// downStore is a store that cannot be reached.
type downStore struct{ cache.Store }

func (downStore) Claim(context.Context, string, string, time.Duration) (cache.Claim, error) {
	return cache.Claim{}, fmt.Errorf("dial tcp 127.0.0.1:1: %w", cache.ErrUnavailable)
}

func TestStoreDownFailsOpenForDedupProviders(t *testing.T) {
	e := newEnv(t)
	e.store = downStore{}
	r := e.charge(context.Background(), e.client())
	if r.err != nil || r.resp.StatusCode != 200 {
		t.Fatalf("Stripe call refused with the store down: %v", r.err)
	}
	if rs := e.srv.Received("POST", "/v1/charges"); len(rs) != 1 || rs[0].Header.Get("Idempotency-Key") == "" {
		t.Fatalf("want one keyed request, got %d", len(rs))
	}
}

func TestStoreDownFailsClosedOtherwise(t *testing.T) {
	e := newEnv(t)
	e.store = downStore{}
	r := post(context.Background(), e.client(), sendgridHost, "/v3/mail/send", jsonType, emailBody("a@x.test", "s", "t"))
	if !errors.Is(r.err, idemhttp.ErrStoreUnavailable) {
		t.Fatalf("want ErrStoreUnavailable, got %v", r.err)
	}
	if n := e.srv.Requests("POST", "/v3/mail/send"); n != 0 {
		t.Fatalf("sent without a record: %d", n)
	}
	e.policy.StoreFailure = idemhttp.FailOpen
	if r := post(context.Background(), e.client(), sendgridHost, "/v3/mail/send", jsonType, emailBody("a@x.test", "s", "t")); r.err != nil {
		t.Fatalf("FailOpen: %v", r.err)
	}
}

// Two tenants (API keys) never share records, whether the key is in the
// Authorization header or in the URL of a request given to RoundTrip
// directly (http.Client would have turned it into the header; a base
// transport below may use it).
func TestTenantsDoNotShareRecords(t *testing.T) {
	for name, withKey := range map[string]func(req *http.Request, key string){
		"Authorization header": func(req *http.Request, key string) { req.Header.Set("Authorization", "Bearer "+key) },
		"user in URL":          func(req *http.Request, key string) { req.URL.User = url.User(key) },
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			tr := e.transport()
			for _, key := range []string{"sk_a", "sk_b", "sk_a"} {
				req, _ := http.NewRequest("POST", "http://"+bookingsHost+"/bookings", strings.NewReader(`{"slot":"t"}`))
				req.Header.Set("Content-Type", jsonType)
				withKey(req, key)
				resp, err := tr.RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			}
			if n := e.srv.RouteEffects("POST", "/bookings"); n != 2 {
				t.Fatalf("%d bookings for two tenants, want 2", n)
			}
		})
	}
}

// A response over MaxRecordBytes reaches the caller whole; the replay keeps
// status and headers, and the operation is not executed again.
func TestLargeResponseRecordedWithoutBody(t *testing.T) {
	e := newEnv(t)
	e.policy.MaxRecordBytes = 16
	c := e.client()
	r1 := post(context.Background(), c, bookingsHost, "/bookings", jsonType, `{"slot":"big"}`)
	if r1.err != nil || idOf(t, r1.body) == "" {
		t.Fatal(r1.err)
	}
	r2 := post(context.Background(), c, bookingsHost, "/bookings", jsonType, `{"slot":"big"}`)
	if r2.err != nil || r2.resp.StatusCode != 201 || r2.resp.Header.Get(idemhttp.HeaderBodyOmitted) != "true" || r2.body != "" {
		t.Fatalf("replay: %v %v %q", r2.err, r2.resp.Header, r2.body)
	}
	if n := e.srv.RouteEffects("POST", "/bookings"); n != 1 {
		t.Fatalf("%d bookings", n)
	}
}

// Stripe-Should-Retry: false stops a retry the status alone would allow.
func TestKeyOfAndSafeMethodsUntouched(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	r := e.charge(context.Background(), c)
	if r.err != nil {
		t.Fatal(r.err)
	}
	key := idemhttp.KeyOf(r.resp)
	if !strings.HasPrefix(key, "v1-") || e.srv.Received("POST", "/v1/charges")[0].Header.Get("Idempotency-Key") != key {
		t.Fatalf("KeyOf %q does not match the key sent", key)
	}
	req, _ := http.NewRequest("GET", "http://"+stripeHost+"/v1/charges", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 || idemhttp.KeyOf(resp) != "" {
		t.Fatalf("GET was keyed: %q", idemhttp.KeyOf(resp))
	}
}

// A certificate error is not retried (go-retryablehttp's classification):
// exactly one connection attempt reaches the server.
func TestCertificateErrorNotRetried(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	pol := testPolicy()
	c := &http.Client{Transport: idemhttp.New(idemhttp.WithPolicy(pol),
		idemhttp.WithBase(&http.Transport{}))} // trusts no test certificate
	defer c.CloseIdleConnections()
	for _, method := range []string{"POST", "GET"} {
		conns.Store(0)
		req, _ := http.NewRequest(method, srv.URL, strings.NewReader("x"))
		_, err := c.Do(req)
		var unknown x509.UnknownAuthorityError
		if !errors.As(err, &unknown) {
			t.Fatalf("%s: want a certificate error, got %v", method, err)
		}
		if n := conns.Load(); n != 1 {
			t.Fatalf("%s: %d connection attempts, want 1", method, n)
		}
	}
}

func TestEmptyExplicitKey(t *testing.T) {
	e := newEnv(t)
	r := e.charge(idemhttp.WithKey(context.Background(), ""), e.client())
	if !errors.Is(r.err, idemhttp.ErrEmptyKey) || e.srv.Requests("POST", "/v1/charges") != 0 {
		t.Fatalf("want ErrEmptyKey and nothing sent, got %v", r.err)
	}
}

// A replay carries the status line net/http gives the original response,
// for every recordable status.
func TestReplayStatusLine(t *testing.T) {
	for _, code := range []int{200, 201, 202, 204, 400, 402, 422, 299} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(code)
		}))
		c := &http.Client{Transport: idemhttp.New(idemhttp.WithBase(srv.Client().Transport))}
		var status [2]string
		for i := range status {
			req, _ := http.NewRequest("POST", srv.URL+"/things", strings.NewReader(`{"n":1}`))
			req.Header.Set("Content-Type", "application/json")
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			status[i] = resp.Status
			if got := idemhttp.Replayed(resp); got != (i == 1) {
				t.Fatalf("%d: call %d: Replayed = %v", code, i, got)
			}
		}
		if status[1] != status[0] {
			t.Errorf("%d: replay status %q, original %q", code, status[1], status[0])
		}
		srv.Close()
	}
}
