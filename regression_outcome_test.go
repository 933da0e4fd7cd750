package idemhttp_test

// Regression tests, each of which failed on a defect found in review: what a
// call that ends without a definitive answer leaves in the record.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idemhttp/idemhttp"
	"github.com/idemhttp/idemhttp/cache"
	"github.com/idemhttp/idemhttp/internal/faultserver"
)

// setOrdersRetention sets the retention of the de-duplicating "orders"
// provider of e (a copy of the provider list, so transports made earlier
// keep theirs).
func setOrdersRetention(e *env, d time.Duration) {
	provs := append(e.provs[:0:0], e.provs...)
	for i := range provs {
		if provs[i].Name == "orders" {
			provs[i].Retention = d
		}
	}
	e.provs = provs
}

// dateClaimsBack gives e a memory store whose clock runs age behind: every
// record's first claim is dated that long ago, so a provider retention
// shorter than age has passed and a longer one has not, whatever the
// test's own pace.
func dateClaimsBack(e *env, age time.Duration) {
	e.store = cache.NewMemory(cache.WithClock(func() time.Time { return time.Now().Add(-age) }))
}

func orderReq(ctx context.Context) *http.Request {
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+ordersHost+"/orders", strings.NewReader(`{"sku":"R-1"}`))
	req.Header.Set("Content-Type", jsonType)
	return req
}

// A call whose first attempt was written and executed (response lost), and
// whose retries then end on a non-definitive answer (429 with a Retry-After
// over the cap), keeps the record in doubt: released, the key would be
// absent and, once the provider's retention has passed, the next call would
// be a fresh claim and execute again. In doubt, it is refused (ErrInDoubt)
// as after a crash (TestInDoubtResentOnlyWithinProviderRetention).
func TestWrittenAttemptThenNoAnswerStaysInDoubt(t *testing.T) {
	e := newEnv(t)
	dateClaimsBack(e, time.Hour)
	setOrdersRetention(e, time.Minute) // a later call is past the provider's retention
	e.srv.Inject("POST", "/orders", faultserver.LostAckFault(), faultserver.StatusBeforeFault(429, "3600"))

	resp, err := e.transport().RoundTrip(orderReq(context.Background()))
	if err != nil {
		t.Fatalf("setup: first call: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || e.srv.RouteEffects("POST", "/orders") != 1 {
		t.Fatalf("setup: status %d, %d orders", resp.StatusCode, e.srv.RouteEffects("POST", "/orders"))
	}
	sent := e.srv.Requests("POST", "/orders")

	orderRefusedInDoubt(t, e, sent, "an operation that executed (lost ack)")
}

// orderRefusedInDoubt checks that the order, past the provider's retention,
// is refused with ErrInDoubt and not sent: sent requests before as now.
func orderRefusedInDoubt(t *testing.T, e *env, sent int, what string) {
	t.Helper()
	resp, err := e.transport().RoundTrip(orderReq(context.Background()))
	if err == nil {
		resp.Body.Close()
	}
	if n := e.srv.Requests("POST", "/orders"); n != sent || !errors.Is(err, idemhttp.ErrInDoubt) {
		t.Fatalf("%s was re-sent past the provider's retention: %d requests before, %d now; err %v (want ErrInDoubt, nothing sent)",
			what, sent, n, err)
	}
}

// The same through an in-doubt claim: a crash left the order in doubt; a
// re-send within retention ends on a 429 over the cap. The record stays in
// doubt with its first-claim time, so past retention the next call is
// refused rather than sent as a new operation.
func TestInDoubtClaimThenNoAnswerStaysInDoubt(t *testing.T) {
	e := newEnv(t)
	e.policy.Lease = 200 * time.Millisecond
	dateClaimsBack(e, time.Hour)
	setOrdersRetention(e, 2*time.Hour)
	func() {
		defer func() { recover() }()
		e.transport(idemhttp.WithBase(&panicAfterSend{base: e.base})).RoundTrip(orderReq(context.Background()))
	}()
	if n := e.srv.RouteEffects("POST", "/orders"); n != 1 {
		t.Fatalf("setup: %d orders", n)
	}
	// Within retention: re-sent with the key, answered 429 (not processed).
	e.srv.Inject("POST", "/orders", faultserver.StatusBeforeFault(429, "3600"))
	resp, err := e.transport().RoundTrip(orderReq(context.Background()))
	if err != nil || resp.StatusCode != 429 {
		t.Fatalf("setup: re-send: %v", err)
	}
	resp.Body.Close()
	sent := e.srv.Requests("POST", "/orders")

	// Past retention.
	setOrdersRetention(e, time.Minute)
	orderRefusedInDoubt(t, e, sent, "an in-doubt operation re-sent within retention and answered 429")
}

// cancelOnClaim is a store that ends the caller's context right after a
// claim is acquired: the caller gives up between the claim and the send.
type cancelOnClaim struct {
	cache.Store
	cancel context.CancelFunc
}

func (s cancelOnClaim) Claim(ctx context.Context, key, fp string, lease time.Duration) (cache.Claim, error) {
	c, err := s.Store.Claim(ctx, key, fp, lease)
	if err == nil && c.Outcome == cache.Acquired {
		s.cancel()
	}
	return c, err
}

// A call cancelled after its claim and before anything was sent releases
// its claim: the server never saw a request, so the next call sends. (net/http
// returns the context error before asking for a connection; taken for
// "written", the booking would be in doubt for InDoubtTTL and every later
// call would fail with ErrInDoubt.)
func TestCancelBeforeSendLeavesNothingInDoubt(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	book := func(ctx context.Context, tr http.RoundTripper) (*http.Response, error) {
		req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+bookingsHost+"/bookings", strings.NewReader(`{"slot":"c"}`))
		req.Header.Set("Content-Type", jsonType)
		return tr.RoundTrip(req)
	}
	_, err := book(ctx, e.transport(idemhttp.WithStore(cancelOnClaim{e.store, cancel})))
	if err == nil {
		t.Fatal("setup: cancelled call succeeded")
	}
	if n := e.srv.Requests("POST", "/bookings"); n != 0 {
		t.Fatalf("setup: %d requests reached the server", n)
	}
	resp, err := book(context.Background(), e.transport())
	if err != nil {
		t.Fatalf("nothing was ever sent, yet the next call fails: %v (first call's error: in doubt=%v)",
			err, errors.Is(err, idemhttp.ErrInDoubt))
	}
	resp.Body.Close()
}

// A POST that executed and answered 303 See Other (Post/Redirect/Get, or an
// API answering "created, see /payments/7") is a definitive outcome: it is
// recorded, so the same operation called again, on a server that does not
// de-duplicate (the Generic fallback for any unknown host), is replayed.
func TestRedirectAfterPostRecorded(t *testing.T) {
	var executed atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.Method == "POST" {
			n := executed.Add(1)
			w.Header().Set("Location", "/payments/"+string(rune('0'+n)))
			w.WriteHeader(http.StatusSeeOther)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	tr := idemhttp.New(idemhttp.WithBase(base))
	for range 2 {
		req, _ := http.NewRequest("POST", srv.URL+"/payments", strings.NewReader(`{"amount":2000}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if n := executed.Load(); n != 1 {
		t.Fatalf("payment executed %d times: a 303 after the POST executed was released, not recorded", n)
	}
}

// Resolve derives the key from req as it would be sent, WithKey and
// WithScope in req's own context included; its ctx argument (here a
// deadline) only bounds the store call.
func TestResolveUsesRequestContext(t *testing.T) {
	e := newEnv(t)
	opCtx := idemhttp.WithKey(context.Background(), "booking-7")
	e.srv.Inject("POST", "/bookings", faultserver.LostAckFault())
	newReq := func() *http.Request {
		req, _ := http.NewRequestWithContext(opCtx, "POST", "http://"+bookingsHost+"/bookings", stringsReader(`{"slot":"r"}`))
		req.Header.Set("Content-Type", jsonType)
		return req
	}
	tr := e.transport()
	if _, err := tr.RoundTrip(newReq()); !errors.Is(err, idemhttp.ErrInDoubt) {
		t.Fatalf("setup: want ErrInDoubt, got %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 1<<62)
	defer cancel()
	ok := &http.Response{StatusCode: 201, Header: http.Header{}, Body: http.NoBody}
	if err := tr.Resolve(ctx, newReq(), ok); err != nil {
		t.Fatalf("Resolve of the request that is in doubt: %v", err)
	}
}

// A request that net/http would refuse before asking for a connection (here
// an invalid header value) fails with ErrInvalidRequest before it is claimed:
// it is never taken for a request that may have been sent, and the next,
// valid call for the same booking is sent, not refused as in doubt.
func TestRefusedBeforeConnectingLeavesNothingInDoubt(t *testing.T) {
	e := newEnv(t)
	ctx := idemhttp.WithKey(context.Background(), "booking-9")
	book := func(note string) (*http.Response, error) {
		req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+bookingsHost+"/bookings", strings.NewReader(`{"slot":"d"}`))
		req.Header.Set("Content-Type", jsonType)
		req.Header.Set("X-Note", note)
		return e.transport().RoundTrip(req)
	}
	if _, err := book("line\nbreak"); !errors.Is(err, idemhttp.ErrInvalidRequest) {
		t.Fatalf("invalid header: got %v, want ErrInvalidRequest", err)
	}
	resp, err := book("fine")
	if err != nil {
		t.Fatalf("nothing was sent, yet the valid call fails: %v", err)
	}
	resp.Body.Close()
	if n := e.srv.Requests("POST", "/bookings"); n != 1 {
		t.Fatalf("%d requests reached the server, want 1", n)
	}
}

// fencedOnComplete is a store on which every Complete finds its claim taken
// over and abandoned: the record is left in doubt and Complete is fenced,
// so the holder, which knows the outcome, settles it with Resolve.
type fencedOnComplete struct{ *cache.Memory }

func (s fencedOnComplete) Complete(ctx context.Context, key string, token cache.Token, _ *cache.Entry, _ time.Duration) error {
	if err := s.Memory.MarkInDoubt(ctx, key, token, time.Hour); err != nil {
		return err
	}
	return fmt.Errorf("taken over: %w", cache.ErrFenced)
}

// An outcome settled through Resolve (the claim was fenced) whose body is over
// the store's bound is kept without its body, as Complete does, rather than
// lost: the next call replays it instead of finding the booking in doubt.
func TestFencedOversizedOutcomeKeptWithoutBody(t *testing.T) {
	e := newEnv(t)
	store := fencedOnComplete{cache.NewMemory(cache.WithMaxBytes(150))}
	ctx := idemhttp.WithKey(context.Background(), "booking-10")
	book := func() (*http.Response, error) {
		req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+bookingsHost+"/bookings", strings.NewReader(`{"slot":"e"}`))
		req.Header.Set("Content-Type", jsonType)
		return e.transport(idemhttp.WithStore(store)).RoundTrip(req)
	}
	resp, err := book()
	if err != nil {
		t.Fatalf("first call: %v", err)
	}
	resp.Body.Close()
	resp, err = book()
	if err != nil {
		t.Fatalf("second call: %v (the outcome was lost)", err)
	}
	resp.Body.Close()
	if !idemhttp.Replayed(resp) || resp.Header.Get(idemhttp.HeaderBodyOmitted) != "true" {
		t.Fatalf("second call: replayed=%v body omitted=%q, want a replay without body", idemhttp.Replayed(resp), resp.Header.Get(idemhttp.HeaderBodyOmitted))
	}
	if n := e.srv.Requests("POST", "/bookings"); n != 1 {
		t.Fatalf("%d requests reached the server, want 1", n)
	}
}

// A POST with an explicit key (WithKey, or an SDK's own Idempotency-Key,
// which the client copies) answered 307 or 308: net/http's Client follows it
// with the same POST, body, headers and context to the new location. The
// redirect is not recorded (nothing was done at the first URL): recorded,
// its key would refuse the follow-up (same key, other URL) with
// ErrKeyReused.
func TestRedirectFollowedWithExplicitKey(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		header bool // the key as an Idempotency-Key header, else WithKey
	}{{"307 WithKey", http.StatusTemporaryRedirect, false}, {"308 header", http.StatusPermanentRedirect, true}} {
		t.Run(tc.name, func(t *testing.T) {
			var created atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				switch r.URL.Path {
				case "/old":
					w.Header().Set("Location", "/new")
					w.WriteHeader(tc.status)
				case "/new":
					created.Add(1)
					w.WriteHeader(http.StatusCreated)
				}
			}))
			defer srv.Close()
			ctx := context.Background()
			if !tc.header {
				ctx = idemhttp.WithKey(ctx, "order-42")
			}
			req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/old", strings.NewReader(`{"a":1}`))
			req.Header.Set("Content-Type", "application/json")
			if tc.header {
				req.Header.Set("Idempotency-Key", "sdk-random-key-1")
			}
			resp, err := (&http.Client{Transport: idemhttp.New()}).Do(req)
			if err != nil {
				t.Fatalf("POST followed through a %d with an explicit key: %v (created %d)", tc.status, err, created.Load())
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated || created.Load() != 1 {
				t.Fatalf("status %d, created %d", resp.StatusCode, created.Load())
			}
		})
	}
}

// untracedRT stands for an alternate protocol registered on an
// *http.Transport (RegisterProtocol: an HTTP/3 round tripper, a custom
// scheme) that reports no httptrace events: it sends on a transport of its
// own, without the caller's trace.
type untracedRT struct{ inner *http.Transport }

func (u untracedRT) RoundTrip(req *http.Request) (*http.Response, error) {
	return u.inner.RoundTrip(req.Clone(context.WithoutCancel(context.Background())))
}

// *http.Transport hands a request to a registered alternate protocol before
// it asks for a connection (no GetConn event). "No GetConn, so not sent"
// would take a request that was sent, executed and lost its answer for one
// never written, and a non-de-duplicating provider would get it again.
func TestAlternateProtocolCountsAsWritten(t *testing.T) {
	var executed atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		executed.Add(1)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close() // executed, answer lost
		}
	}))
	defer srv.Close()
	base := &http.Transport{}
	base.RegisterProtocol("http", untracedRT{inner: &http.Transport{}})
	p := idemhttp.DefaultPolicy()
	p.InitialInterval, p.MaxInterval = 1, 1
	tr := idemhttp.New(idemhttp.WithBase(base), idemhttp.WithPolicy(p))
	req, _ := http.NewRequest("POST", srv.URL+"/charges", strings.NewReader(`{"amount":100}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := tr.RoundTrip(req)
	if err == nil {
		resp.Body.Close()
	}
	if n := executed.Load(); n != 1 {
		t.Fatalf("an operation sent through a registered alternate protocol, answer lost, executed %d times (err %v)", n, err)
	}
}

// countingBase answers 200 to every request and counts them.
type countingBase struct{ calls atomic.Int32 }

func (c *countingBase) RoundTrip(req *http.Request) (*http.Response, error) {
	c.calls.Add(1)
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody, Request: req}, nil
}

// Header fields are checked as net/http checks them before writing: names
// must be RFC 9110 tokens, values free of control characters but tab. A
// request that fails the check is refused before it is claimed or sent.
func TestInvalidHeaderRefusedBeforeClaim(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		ok          bool
	}{
		{"X-Token!#$%&'*+-.^_`|~9", "plain value", true},
		{"X-Tab", "a\tb", true},
		{"X-Utf8", "café", true},
		{"X-Bad Name", "v", false},
		{"X-Colon:", "v", false},
		{"", "v", false},
		{"X-Crlf", "a\r\nInjected: 1", false},
		{"X-Nul", "a\x00b", false},
		{"X-Del", "a\x7fb", false},
	} {
		base := &countingBase{}
		req, _ := http.NewRequest("POST", "https://api.example.test/orders", strings.NewReader(`{"a":1}`))
		req.Header[tc.name] = []string{tc.value}
		resp, err := idemhttp.New(idemhttp.WithBase(base)).RoundTrip(req)
		if tc.ok {
			if err != nil {
				t.Errorf("%q: %q: %v", tc.name, tc.value, err)
				continue
			}
			resp.Body.Close()
		} else if !errors.Is(err, idemhttp.ErrInvalidRequest) || base.calls.Load() != 0 {
			t.Errorf("%q: %q: err %v after %d sends, want ErrInvalidRequest and none", tc.name, tc.value, err, base.calls.Load())
		}
	}
}

// Resolve refuses a key or scope given on its ctx argument but not on req's
// own context, rather than settle another operation's record.
func TestResolveRefusesKeyOnlyOnCtx(t *testing.T) {
	e := newEnv(t)
	req, _ := http.NewRequest("POST", "http://"+bookingsHost+"/bookings", stringsReader(`{"slot":"r"}`))
	req.Header.Set("Content-Type", jsonType)
	for _, ctx := range []context.Context{
		idemhttp.WithKey(context.Background(), "booking-7"),
		idemhttp.WithScope(context.Background(), "task-1"),
	} {
		if err := e.transport().Resolve(ctx, req, nil); !errors.Is(err, idemhttp.ErrInvalidRequest) {
			t.Errorf("Resolve with the key or scope on ctx only: %v, want ErrInvalidRequest", err)
		}
	}
}

// claimCounter is a store that counts the Claims of one record key, and
// before the first one lets "another process" claim the key for lease.
type claimCounter struct {
	cache.Store
	lease  time.Duration
	claims atomic.Int32
}

func (s *claimCounter) Claim(ctx context.Context, key, fp string, lease time.Duration) (cache.Claim, error) {
	if s.claims.Add(1) == 1 {
		if c, err := s.Store.Claim(ctx, key, fp, s.lease); err != nil || c.Outcome != cache.Acquired {
			return c, fmt.Errorf("setup: the other process's claim: %v %v", c.Outcome, err)
		}
	}
	return s.Store.Claim(ctx, key, fp, lease)
}

// A caller whose clock is ahead of the store's sees a claim held elsewhere
// end before the store does. It waits out the store's lease with its poll
// backoff, a few Claims, instead of asking again at once until the store
// agrees.
func TestWaitWithClockAheadOfStoreBacksOff(t *testing.T) {
	e := newEnv(t)
	setOrdersRetention(e, time.Hour)
	behind := cache.NewMemory(cache.WithClock(func() time.Time { return time.Now().Add(-time.Minute) }))
	store := &claimCounter{Store: behind, lease: 300 * time.Millisecond}
	r := post(context.Background(), &http.Client{Transport: e.transport(idemhttp.WithStore(store))}, ordersHost, "/orders", jsonType, `{"sku":"R-2"}`)
	if r.err != nil {
		t.Fatalf("after the other claim's lease: %v", r.err)
	}
	if n := store.claims.Load(); n > 40 {
		t.Fatalf("%d Claims while another caller held the record for 300ms: the wait spins", n)
	}
}

// net/http refuses an invalid Trailer before asking for a connection, like
// an invalid header, with no trace event: it is refused before the claim,
// so the booking is not left in doubt and the next, valid call is sent.
func TestInvalidTrailerRefusedBeforeClaim(t *testing.T) {
	e := newEnv(t)
	ctx := idemhttp.WithKey(context.Background(), "booking-tr")
	book := func(trailer http.Header) (*http.Response, error) {
		req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+bookingsHost+"/bookings", strings.NewReader(`{"slot":"t"}`))
		req.Header.Set("Content-Type", jsonType)
		req.Trailer = trailer
		return e.transport().RoundTrip(req)
	}
	_, err := book(http.Header{"Bad Name": nil})
	if !errors.Is(err, idemhttp.ErrInvalidRequest) {
		t.Errorf("invalid trailer: got %v, want ErrInvalidRequest (nothing sent), not in doubt", err)
	}
	resp, err := book(nil)
	if err != nil {
		t.Fatalf("nothing was sent, yet the valid call fails: %v", err)
	}
	resp.Body.Close()
}

// The key header the Transport adds is checked as it will be sent: WithKey
// with a control character, which net/http would refuse to write, fails
// with ErrInvalidRequest before the claim, not as in doubt.
func TestKeyWithControlCharacterRefusedBeforeClaim(t *testing.T) {
	e := newEnv(t)
	ctx := idemhttp.WithKey(context.Background(), "booking\n1")
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+bookingsHost+"/bookings", strings.NewReader(`{"slot":"k"}`))
	req.Header.Set("Content-Type", jsonType)
	_, err := e.transport().RoundTrip(req)
	if !errors.Is(err, idemhttp.ErrInvalidRequest) || errors.Is(err, idemhttp.ErrInDoubt) {
		t.Errorf("key with a control character: got %v, want ErrInvalidRequest, not in doubt", err)
	}
	if n := e.srv.Requests("POST", "/bookings"); n != 0 {
		t.Fatalf("%d requests reached the server", n)
	}
}

// With Policy.ReplaceKeys, the caller's own key header is overwritten
// before sending: a value net/http would refuse is never sent, so the
// request is not refused for it.
func TestReplacedKeyHeaderNotChecked(t *testing.T) {
	e := newEnv(t)
	e.policy.ReplaceKeys = true
	req, _ := http.NewRequest("POST", "http://"+bookingsHost+"/bookings", strings.NewReader(`{"slot":"r3"}`))
	req.Header.Set("Content-Type", jsonType)
	req.Header["Idempotency-Key"] = []string{"sdk\x01key"}
	resp, err := e.transport().RoundTrip(req)
	if err != nil {
		t.Fatalf("the replaced key header is never sent, yet: %v", err)
	}
	resp.Body.Close()
}

// A probe that finds the operation not done sees it as of now: a send that
// lost its answer may still land. When the call then ends without an answer
// (here a 429 over the cap), the record stays in doubt, so the next call
// probes again before it sends, instead of sending blind as a new claim.
func TestProbedNotDoneThenNoAnswerProbesAgain(t *testing.T) {
	e := newEnv(t)
	var probes atomic.Int32
	e.withProbe(func(context.Context, http.RoundTripper, *http.Request, string) (*http.Response, error) {
		probes.Add(1)
		return nil, nil // not done (yet)
	}, false)
	e.srv.Inject("POST", "/v3/mail/send", faultserver.LostAckFault(), faultserver.StatusBeforeFault(429, "3600"))
	c := e.client()
	body := emailBody("ann@x.test", "Welcome!", "Hello")
	if r := post(context.Background(), c, sendgridHost, "/v3/mail/send", jsonType, body); r.err != nil || r.resp.StatusCode != 429 {
		t.Fatalf("setup: first call: %v", r.err)
	}
	before := probes.Load()
	post(context.Background(), c, sendgridHost, "/v3/mail/send", jsonType, body)
	if probes.Load() == before {
		t.Fatal("the next call sent without probing: the record of an email that may have gone out was released")
	}
}

// sinceUnknown is a store whose records do not say when they were first
// claimed, as records written by versions that did not keep that time.
type sinceUnknown struct{ cache.Store }

func (s sinceUnknown) Claim(ctx context.Context, key, fp string, lease time.Duration) (cache.Claim, error) {
	c, err := s.Store.Claim(ctx, key, fp, lease)
	c.Since = time.Time{}
	return c, err
}

// An in-doubt record of unknown age may be older than the provider's key
// retention: it is not re-sent, even to a provider that de-duplicates.
func TestInDoubtOfUnknownAgeNotResent(t *testing.T) {
	e := newEnv(t)
	e.policy.Lease = 200 * time.Millisecond
	setOrdersRetention(e, time.Hour)
	store := sinceUnknown{e.store}
	func() {
		defer func() { recover() }()
		e.transport(idemhttp.WithStore(store), idemhttp.WithBase(&panicAfterSend{base: e.base})).RoundTrip(orderReq(context.Background()))
	}()
	sent := e.srv.Requests("POST", "/orders")
	resp, err := e.transport(idemhttp.WithStore(store)).RoundTrip(orderReq(context.Background()))
	if err == nil {
		resp.Body.Close()
	}
	if n := e.srv.Requests("POST", "/orders"); n != sent || !errors.Is(err, idemhttp.ErrInDoubt) {
		t.Fatalf("in-doubt order of unknown age: %d requests, then %d; err %v (want ErrInDoubt, nothing sent)", sent, n, err)
	}
}

// inDoubtBooking leaves the booking of slot "a" under key in doubt (its
// answer lost), and returns a maker of bookings under that key.
func inDoubtBooking(t *testing.T, e *env, key string) (newReq func(slot string) *http.Request) {
	t.Helper()
	opCtx := idemhttp.WithKey(context.Background(), key)
	newReq = func(slot string) *http.Request {
		req, _ := http.NewRequestWithContext(opCtx, "POST", "http://"+bookingsHost+"/bookings", stringsReader(`{"slot":"`+slot+`"}`))
		req.Header.Set("Content-Type", jsonType)
		return req
	}
	e.srv.Inject("POST", "/bookings", faultserver.LostAckFault())
	if _, err := e.transport().RoundTrip(newReq("a")); !errors.Is(err, idemhttp.ErrInDoubt) {
		t.Fatalf("setup: want ErrInDoubt, got %v", err)
	}
	return newReq
}

// Resolve refuses a request whose key names a record made by another
// request (the same WithKey, another slot): it used to record the answer in
// that record, and the in-doubt booking's next call replayed it.
func TestResolveRefusesAnotherRequestsRecord(t *testing.T) {
	e := newEnv(t)
	newReq := inDoubtBooking(t, e, "booking-11")
	tr := e.transport()
	ok := &http.Response{StatusCode: 201, Header: http.Header{}, Body: http.NoBody}
	if err := tr.Resolve(context.Background(), newReq("b"), ok); !errors.Is(err, idemhttp.ErrKeyReused) {
		t.Fatalf("Resolve with another request under the in-doubt key: %v, want ErrKeyReused", err)
	}
	if _, err := tr.RoundTrip(newReq("a")); !errors.Is(err, idemhttp.ErrInDoubt) {
		t.Fatalf("the in-doubt booking after the refused Resolve: %v, want ErrInDoubt still", err)
	}
}

// replacedOnComplete is a store on which every Complete finds that the claim
// lapsed, the record was forgotten, and another request (another
// fingerprint) claimed the key and was left in doubt: Complete is fenced.
type replacedOnComplete struct {
	*cache.Memory
	key *string // the record key Complete was called with
}

func (s replacedOnComplete) Complete(ctx context.Context, key string, _ cache.Token, _ *cache.Entry, _ time.Duration) error {
	*s.key = key
	if err := s.Memory.Delete(ctx, key); err != nil {
		return err
	}
	c, err := s.Memory.Claim(ctx, key, "another-request", time.Minute)
	if err != nil {
		return err
	}
	if err := s.Memory.MarkInDoubt(ctx, key, c.Token, time.Hour); err != nil {
		return err
	}
	return fmt.Errorf("taken over: %w", cache.ErrFenced)
}

// getDown is a store whose Get cannot answer (a read that times out, a
// replica or connection hiccup, a Get path that fails where the scripted
// write path still works) while every other call goes through.
type getDown struct{ cache.Store }

func (getDown) Get(context.Context, string) (cache.Record, error) {
	return cache.Record{}, fmt.Errorf("get: %w: read timed out", cache.ErrUnavailable)
}

// Transport.Resolve for request B under a key whose in-doubt record is
// request A's, with the store's Get failing: the check that the record is
// B's used to let it through, and Resolve(nil) deleted A's in-doubt record
// (A's next call booked again) or Resolve(resp) recorded B's answer for A.
// A record whose owner cannot be checked is not resolved.
func TestResolveUnverifiedOwnerNotSettled(t *testing.T) {
	for _, tc := range []struct {
		name string
		resp func() *http.Response
	}{
		{"not done", func() *http.Response { return nil }},
		{"done", func() *http.Response {
			return &http.Response{StatusCode: 201, Header: http.Header{}, Body: http.NoBody}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			newReq := inDoubtBooking(t, e, "booking-13")
			flaky := e.transport(idemhttp.WithStore(getDown{e.store}))
			err := flaky.Resolve(context.Background(), newReq("b"), tc.resp())
			if err == nil {
				t.Errorf("Resolve of request b under request a's in-doubt record, Get failing: nil error, want a refusal (the owner cannot be checked)")
			}
			resp, err := e.transport().RoundTrip(newReq("a"))
			if resp != nil {
				resp.Body.Close()
			}
			if !errors.Is(err, idemhttp.ErrInDoubt) {
				t.Errorf("request a after b's Resolve: err %v, Replayed %v, %d bookings executed; want ErrInDoubt still (1 booking)",
					err, idemhttp.Replayed(resp), e.srv.RouteEffects("POST", "/bookings"))
			}
		})
	}
}

// A holder whose Complete is fenced settles the record with Resolve only if
// the record is known to be still its request's. It used to resolve another
// request's in-doubt record with its own answer, which that request's next
// call would have replayed: always, and then when the store's Get failed.
func TestFencedCompleteLeavesAnotherRequestsRecord(t *testing.T) {
	for name, wrap := range map[string]func(cache.Store) cache.Store{
		"record read":       func(s cache.Store) cache.Store { return s },
		"record unreadable": func(s cache.Store) cache.Store { return getDown{s} },
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			var key string
			mem := cache.NewMemory()
			req := bookingReq(idemhttp.WithKey(context.Background(), "booking-12"))
			resp, err := e.transport(idemhttp.WithStore(wrap(replacedOnComplete{mem, &key}))).RoundTrip(req)
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			resp.Body.Close()
			rec, err := mem.Get(context.Background(), key)
			if err != nil {
				t.Fatalf("record %q: %v", key, err)
			}
			if rec.State != cache.InDoubt || rec.Fingerprint != "another-request" {
				t.Fatalf("record %s: state %v, fingerprint %q; want the other request's, still in doubt", key, rec.State, rec.Fingerprint)
			}
		})
	}
}

// renewDown is a store that cannot renew a claim: the store went down while
// the call waited to retry.
type renewDown struct{ cache.Store }

func (renewDown) Renew(context.Context, string, cache.Token, time.Duration) error {
	return fmt.Errorf("renew: %w: connection refused", cache.ErrUnavailable)
}

// A store that fails while the call waits to retry (a 429 to a provider to
// which a re-send is not safe) ends the call with ErrStoreUnavailable,
// nothing more sent. It also matched ErrInFlight, "this call lost its
// claim", though no other caller had taken it.
func TestStoreDownBeforeRetryIsNotInFlight(t *testing.T) {
	e := newEnv(t)
	e.srv.Inject("POST", "/bookings", faultserver.StatusBeforeFault(429, "0"))
	_, err := e.transport(idemhttp.WithStore(renewDown{e.store})).RoundTrip(bookingReq(context.Background()))
	if !errors.Is(err, idemhttp.ErrStoreUnavailable) || errors.Is(err, idemhttp.ErrInFlight) {
		t.Fatalf("err %v: want ErrStoreUnavailable and not ErrInFlight", err)
	}
	if n := e.srv.Requests("POST", "/bookings"); n != 1 {
		t.Fatalf("%d requests sent, want 1 (nothing more after the store failed)", n)
	}
}
