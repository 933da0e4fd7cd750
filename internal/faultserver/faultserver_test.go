package faultserver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const chargePath = "/v1/charges"

// start runs a server for the test and closes it at the end.
func start(t *testing.T, routes ...Route) *Server {
	t.Helper()
	srv, err := Start(routes...)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// chargeRoute is a Stripe-like route de-duplicating on Idempotency-Key.
func chargeRoute() Route {
	return Route{Method: http.MethodPost, Path: chargePath, KeyHeader: "Idempotency-Key", LookupPath: "/v1/charges/lookup", Prefix: "ch_"}
}

// newClient returns a client with its own transport, so every test starts
// without pooled connections (net/http never silently resends the first
// request of a fresh connection).
func newClient(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// waitCtx bounds a wait generously; reaching it is a failure, not a timing.
func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func await(t *testing.T, srv *Server, what string, cond func() bool) {
	t.Helper()
	if err := srv.Await(waitCtx(t), cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

type result struct {
	resp *http.Response
	body []byte
	err  error
}

// send POSTs body to srv's path with the given key ("" for none).
func send(ctx context.Context, c *http.Client, srv *Server, path, key, body string) result {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL()+path, strings.NewReader(body))
	if err != nil {
		return result{err: err}
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	return do(c, req)
}

func do(c *http.Client, req *http.Request) result {
	resp, err := c.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return result{resp: resp, body: body, err: err}
}

func get(t *testing.T, c *http.Client, url string) result {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(c, req)
}

// mustStatus fails unless r is a response with the status.
func mustStatus(t *testing.T, r result, status int) {
	t.Helper()
	if r.err != nil {
		t.Fatalf("want status %d, got error %v", status, r.err)
	}
	if r.resp.StatusCode != status {
		t.Fatalf("status = %d, want %d (body %s)", r.resp.StatusCode, status, r.body)
	}
}

// mustDrop fails unless r is a transport error that is not the client's own
// cancellation.
func mustDrop(t *testing.T, r result) {
	t.Helper()
	if r.err == nil {
		t.Fatalf("want a connection error, got status %d", r.resp.StatusCode)
	}
	if errors.Is(r.err, context.Canceled) || errors.Is(r.err, context.DeadlineExceeded) {
		t.Fatalf("want a connection error, got %v", r.err)
	}
}

func effectOf(method, path, body string) string {
	sum := sha256.Sum256([]byte(body))
	return method + " " + path + " " + hex.EncodeToString(sum[:])
}

func TestNormalRequestPerformsEffectWithDefaultID(t *testing.T) {
	srv := start(t, Route{Method: http.MethodPost, Path: "/v1/orders", Status: http.StatusCreated})
	c := newClient(t)
	r := send(t.Context(), c, srv, "/v1/orders", "", `{"sku":"a"}`)
	mustStatus(t, r, http.StatusCreated)
	effect := effectOf(http.MethodPost, "/v1/orders", `{"sku":"a"}`)
	var got struct {
		ID     string `json:"id"`
		Effect string `json:"effect"`
		Seq    int    `json:"seq"`
	}
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatalf("success body %s: %v", r.body, err)
	}
	if got.ID != "obj_1" || got.Effect != effect || got.Seq != 1 {
		t.Errorf("success body = %+v, want id obj_1, effect %q, seq 1", got, effect)
	}
	if n := srv.Effects(effect); n != 1 {
		t.Errorf("Effects = %d, want 1", n)
	}
	recs := srv.Received(http.MethodPost, "/v1/orders")
	if len(recs) != 1 || string(recs[0].Body) != `{"sku":"a"}` || recs[0].Status != http.StatusCreated || !recs[0].Finished || recs[0].Fault != 0 {
		t.Errorf("Received = %+v", recs)
	}
}

func TestResetDropsWithoutEffect(t *testing.T) {
	srv := start(t, chargeRoute())
	c := newClient(t)
	srv.Inject(http.MethodPost, chargePath, ResetFault())
	mustDrop(t, send(t.Context(), c, srv, chargePath, "k1", "amount=1"))
	if n := srv.RouteEffects(http.MethodPost, chargePath); n != 0 {
		t.Fatalf("effects after Reset = %d, want 0", n)
	}
	// Nothing was remembered for the key: the retry executes (no replay).
	r := send(t.Context(), c, srv, chargePath, "k1", "amount=1")
	mustStatus(t, r, http.StatusOK)
	if r.resp.Header.Get("Idempotent-Replayed") != "" {
		t.Error("retry after Reset was a replay; the key must not be remembered")
	}
	if n := srv.Effects(effectOf(http.MethodPost, chargePath, "amount=1")); n != 1 {
		t.Errorf("effects = %d, want 1", n)
	}
	recs := srv.Received(http.MethodPost, chargePath)
	if len(recs) != 2 || recs[0].Fault != Reset || recs[0].Status != 0 || recs[1].Fault != 0 {
		t.Errorf("Received = %+v", recs)
	}
}

func TestLostAckPerformsEffectAndDrops(t *testing.T) {
	srv := start(t, chargeRoute())
	c := newClient(t)
	srv.Inject(http.MethodPost, chargePath, LostAckFault())
	mustDrop(t, send(t.Context(), c, srv, chargePath, "k1", "amount=1"))
	if n := srv.RouteEffects(http.MethodPost, chargePath); n != 1 {
		t.Fatalf("effects after LostAck = %d, want 1", n)
	}
	// The request did execute: the same key replays its success response.
	r := send(t.Context(), c, srv, chargePath, "k1", "amount=1")
	mustStatus(t, r, http.StatusOK)
	if r.resp.Header.Get("Idempotent-Replayed") != "true" || !bytes.Contains(r.body, []byte(`"id":"ch_1"`)) {
		t.Errorf("retry = %v %s, want a replay of ch_1", r.resp.Header, r.body)
	}
	if n := srv.RouteEffects(http.MethodPost, chargePath); n != 1 {
		t.Errorf("effects after retry = %d, want 1", n)
	}
}

func TestStatusBeforeAnswersWithoutEffect(t *testing.T) {
	srv := start(t, chargeRoute())
	c := newClient(t)
	srv.Inject(http.MethodPost, chargePath, StatusBeforeFault(http.StatusTooManyRequests, "2"))
	r := send(t.Context(), c, srv, chargePath, "k1", "amount=1")
	mustStatus(t, r, http.StatusTooManyRequests)
	if got := r.resp.Header.Get("Retry-After"); got != "2" {
		t.Errorf("Retry-After = %q, want 2", got)
	}
	if n := srv.RouteEffects(http.MethodPost, chargePath); n != 0 {
		t.Errorf("effects after StatusBefore = %d, want 0", n)
	}
	r = send(t.Context(), c, srv, chargePath, "k1", "amount=1")
	mustStatus(t, r, http.StatusOK)
	if r.resp.Header.Get("Idempotent-Replayed") != "" || srv.RouteEffects(http.MethodPost, chargePath) != 1 {
		t.Errorf("retry after 429: replayed=%q effects=%d, want a first execution", r.resp.Header.Get("Idempotent-Replayed"), srv.RouteEffects(http.MethodPost, chargePath))
	}
}

func TestStatusAfterPerformsEffectAndAnswersStatus(t *testing.T) {
	srv := start(t, chargeRoute())
	c := newClient(t)
	srv.Inject(http.MethodPost, chargePath, StatusAfterFault(http.StatusInternalServerError))
	r := send(t.Context(), c, srv, chargePath, "k1", "amount=1")
	mustStatus(t, r, http.StatusInternalServerError)
	if n := srv.RouteEffects(http.MethodPost, chargePath); n != 1 {
		t.Fatalf("effects after StatusAfter = %d, want 1", n)
	}
	r = send(t.Context(), c, srv, chargePath, "k1", "amount=1")
	mustStatus(t, r, http.StatusOK)
	if r.resp.Header.Get("Idempotent-Replayed") != "true" {
		t.Error("retry after StatusAfter was not a replay")
	}
	if recs := srv.Received(http.MethodPost, chargePath); recs[0].Status != http.StatusInternalServerError || recs[1].Replayed != true {
		t.Errorf("Received = %+v", recs)
	}
}

func TestFaultsAreConsumedInOrderThenNormal(t *testing.T) {
	srv := start(t, Route{Method: http.MethodPost, Path: "/v1/mail"})
	c := newClient(t)
	srv.Inject(http.MethodPost, "/v1/mail", StatusBeforeFault(http.StatusServiceUnavailable, ""), StatusAfterFault(http.StatusBadGateway))
	if n := srv.Pending(http.MethodPost, "/v1/mail"); n != 2 {
		t.Fatalf("Pending = %d, want 2", n)
	}
	for _, want := range []int{http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusOK} {
		mustStatus(t, send(t.Context(), c, srv, "/v1/mail", "", "hi"), want)
	}
	var kinds []Kind
	for _, rec := range srv.Received(http.MethodPost, "/v1/mail") {
		kinds = append(kinds, rec.Fault)
	}
	if fmt.Sprint(kinds) != fmt.Sprint([]Kind{StatusBefore, StatusAfter, 0}) {
		t.Errorf("faults consumed = %v", kinds)
	}
	if n := srv.Effects(effectOf(http.MethodPost, "/v1/mail", "hi")); n != 2 {
		t.Errorf("effects = %d, want 2 (StatusAfter and the normal request)", n)
	}
}

// hangUntilEffect sends a request that the server hangs on, cancels it once
// the effect was performed, and returns the client's result.
func hangUntilEffect(t *testing.T, srv *Server, key string) result {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	waited := make(chan error, 1)
	go func() {
		waited <- srv.Await(waitCtx(t), func() bool { return srv.RouteEffects(http.MethodPost, chargePath) == 1 })
		cancel()
	}()
	r := send(ctx, newClient(t), srv, chargePath, key, "amount=1")
	if err := <-waited; err != nil {
		t.Fatalf("effect never performed: %v", err)
	}
	return r
}

func TestHangPerformsEffectUntilClientGivesUp(t *testing.T) {
	srv := start(t, chargeRoute())
	srv.Inject(http.MethodPost, chargePath, HangFault(nil))
	r := hangUntilEffect(t, srv, "k1")
	if !errors.Is(r.err, context.Canceled) {
		t.Fatalf("client result = %+v, want its own cancellation", r)
	}
	await(t, srv, "the hang to end", func() bool { return srv.Received(http.MethodPost, chargePath)[0].Finished })
	if recs := srv.Received(http.MethodPost, chargePath); recs[0].Status != 0 || recs[0].Fault != Hang {
		t.Errorf("Received = %+v, want a dropped Hang", recs)
	}
	// The effect happened: the key replays it.
	r = send(t.Context(), newClient(t), srv, chargePath, "k1", "amount=1")
	mustStatus(t, r, http.StatusOK)
	if r.resp.Header.Get("Idempotent-Replayed") != "true" || srv.RouteEffects(http.MethodPost, chargePath) != 1 {
		t.Errorf("retry after Hang: replayed=%q effects=%d", r.resp.Header.Get("Idempotent-Replayed"), srv.RouteEffects(http.MethodPost, chargePath))
	}
}

func TestHangAnswersNormallyWhenReleased(t *testing.T) {
	srv := start(t, chargeRoute())
	release := make(chan struct{})
	srv.Inject(http.MethodPost, chargePath, HangFault(release))
	done := make(chan result, 1)
	go func() { done <- send(t.Context(), newClient(t), srv, chargePath, "k1", "amount=1") }()
	await(t, srv, "the effect", func() bool { return srv.RouteEffects(http.MethodPost, chargePath) == 1 })
	// Still executing: a duplicate is told the key is in use.
	r := send(t.Context(), newClient(t), srv, chargePath, "k1", "amount=1")
	mustStatus(t, r, http.StatusConflict)
	close(release)
	r = <-done
	mustStatus(t, r, http.StatusOK)
	if !bytes.Contains(r.body, []byte(`"id":"ch_1"`)) {
		t.Errorf("released Hang body = %s, want ch_1", r.body)
	}
}

func TestHoldBeforeDelaysEffectAndConflictsDuplicates(t *testing.T) {
	srv := start(t, chargeRoute())
	release := make(chan struct{})
	srv.Inject(http.MethodPost, chargePath, HoldFault(release))
	done := make(chan result, 1)
	go func() { done <- send(t.Context(), newClient(t), srv, chargePath, "k1", "amount=1") }()
	await(t, srv, "the held request", func() bool { return srv.Requests(http.MethodPost, chargePath) == 1 })

	c := newClient(t)
	r := send(t.Context(), c, srv, chargePath, "k1", "amount=1")
	mustStatus(t, r, http.StatusConflict)
	var conflict struct {
		Error struct{ Code string } `json:"error"`
	}
	if err := json.Unmarshal(r.body, &conflict); err != nil || conflict.Error.Code != "idempotency_key_in_use" {
		t.Errorf("409 body = %s (%v)", r.body, err)
	}
	if n := srv.RouteEffects(http.MethodPost, chargePath); n != 0 {
		t.Fatalf("effects while held = %d, want 0", n)
	}
	close(release)
	mustStatus(t, <-done, http.StatusOK)
	if n := srv.RouteEffects(http.MethodPost, chargePath); n != 1 {
		t.Errorf("effects after release = %d, want 1", n)
	}
}

func TestHoldBeforeClientGoneForgetsKey(t *testing.T) {
	srv := start(t, chargeRoute())
	srv.Inject(http.MethodPost, chargePath, HoldFault(nil))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan result, 1)
	go func() { done <- send(ctx, newClient(t), srv, chargePath, "k1", "amount=1") }()
	await(t, srv, "the held request", func() bool { return srv.Requests(http.MethodPost, chargePath) == 1 })
	cancel()
	if r := <-done; !errors.Is(r.err, context.Canceled) {
		t.Fatalf("held client result = %+v, want its cancellation", r)
	}
	await(t, srv, "the hold to end", func() bool { return srv.Received(http.MethodPost, chargePath)[0].Finished })
	if n := srv.RouteEffects(http.MethodPost, chargePath); n != 0 {
		t.Fatalf("effects = %d, want 0", n)
	}
	r := send(t.Context(), newClient(t), srv, chargePath, "k1", "amount=1")
	mustStatus(t, r, http.StatusOK)
	if r.resp.Header.Get("Idempotent-Replayed") != "" {
		t.Error("key of an abandoned hold was replayed")
	}
}

func TestKeyHeaderDeduplicates(t *testing.T) {
	srv := start(t, chargeRoute())
	c := newClient(t)
	first := send(t.Context(), c, srv, chargePath, "k1", "amount=1")
	mustStatus(t, first, http.StatusOK)
	again := send(t.Context(), c, srv, chargePath, "k1", "amount=1")
	mustStatus(t, again, http.StatusOK)
	if again.resp.Header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(first.body, again.body) {
		t.Errorf("repeat = %q %s, want a replay of %s", again.resp.Header.Get("Idempotent-Replayed"), again.body, first.body)
	}
	if first.resp.Header.Get("Idempotent-Replayed") != "" {
		t.Error("first response marked as replayed")
	}
	other := send(t.Context(), c, srv, chargePath, "k1", "amount=2")
	mustStatus(t, other, http.StatusBadRequest)
	if !bytes.Contains(other.body, []byte(`"type":"idempotency_error"`)) {
		t.Errorf("400 body = %s", other.body)
	}
	mustStatus(t, send(t.Context(), c, srv, chargePath, "k2", "amount=1"), http.StatusOK)
	mustStatus(t, send(t.Context(), c, srv, chargePath, "", "amount=1"), http.StatusOK)
	if n := srv.Effects(effectOf(http.MethodPost, chargePath, "amount=1")); n != 3 {
		t.Errorf("effects = %d, want 3 (k1, k2, no key)", n)
	}
	if n := srv.Requests(http.MethodPost, chargePath); n != 5 {
		t.Errorf("Requests = %d, want 5", n)
	}
}

func TestConcurrentSameKeyHasOneEffect(t *testing.T) {
	srv := start(t, chargeRoute())
	c := newClient(t)
	const callers = 50
	results := make(chan result, callers)
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() { results <- send(t.Context(), c, srv, chargePath, "same", "amount=1") })
	}
	wg.Wait()
	close(results)
	for r := range results {
		if r.err != nil || (r.resp.StatusCode != http.StatusOK && r.resp.StatusCode != http.StatusConflict) {
			t.Fatalf("result = %+v, want 200 or 409", r)
		}
		if r.resp.StatusCode == http.StatusOK && !bytes.Contains(r.body, []byte(`"id":"ch_1"`)) {
			t.Errorf("200 body = %s, want ch_1", r.body)
		}
	}
	if n := srv.RouteEffects(http.MethodPost, chargePath); n != 1 {
		t.Errorf("effects = %d, want 1", n)
	}
}

func TestLookupPath(t *testing.T) {
	traced := Route{Method: http.MethodPost, Path: "/v3/mail/send", TraceHeader: "X-Trace", LookupPath: "/v3/messages"}
	srv := start(t, chargeRoute(), traced)
	c := newClient(t)
	srv.Inject(http.MethodPost, chargePath, LostAckFault())
	mustDrop(t, send(t.Context(), c, srv, chargePath, "k1", "amount=1"))
	found := get(t, c, srv.URL()+"/v1/charges/lookup?key=k1")
	mustStatus(t, found, http.StatusOK)
	if !bytes.Contains(found.body, []byte(`"id":"ch_1"`)) {
		t.Errorf("lookup body = %s, want ch_1", found.body)
	}
	mustStatus(t, get(t, c, srv.URL()+"/v1/charges/lookup?key=k2"), http.StatusNotFound)

	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL()+"/v3/mail/send", strings.NewReader("hello"))
	req.Header.Set("X-Trace", "t1")
	mustStatus(t, do(c, req), http.StatusOK)
	mustStatus(t, get(t, c, srv.URL()+"/v3/messages?key=t1"), http.StatusOK)
	mustStatus(t, get(t, c, srv.URL()+"/v3/messages?key=k1"), http.StatusNotFound)
	if n := srv.Requests(http.MethodGet, "/v3/messages"); n != 2 {
		t.Errorf("lookup Requests = %d, want 2", n)
	}
}

func TestTraceHeaderDoesNotDeduplicate(t *testing.T) {
	srv := start(t, Route{Method: http.MethodPost, Path: "/v3/mail/send", TraceHeader: "X-Trace", LookupPath: "/v3/messages"})
	c := newClient(t)
	for range 2 {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL()+"/v3/mail/send", strings.NewReader("hello"))
		req.Header.Set("X-Trace", "t1")
		mustStatus(t, do(c, req), http.StatusOK)
	}
	if n := srv.RouteEffects(http.MethodPost, "/v3/mail/send"); n != 2 {
		t.Errorf("effects = %d, want 2", n)
	}
}

func TestUnknownRouteIsNotFound(t *testing.T) {
	srv := start(t, chargeRoute())
	c := newClient(t)
	mustStatus(t, get(t, c, srv.URL()+chargePath), http.StatusNotFound)
	mustStatus(t, send(t.Context(), c, srv, "/v1/other", "", "x"), http.StatusNotFound)
	if srv.Requests(http.MethodPost, "/v1/other") != 1 || len(srv.EffectsByID()) != 0 {
		t.Errorf("Requests = %d, effects = %v", srv.Requests(http.MethodPost, "/v1/other"), srv.EffectsByID())
	}
}

func TestManyGoroutinesCountExactly(t *testing.T) {
	const goroutines, ops = 200, 10
	srv := start(t, Route{
		Method: http.MethodPost, Path: "/v1/ops",
		EffectID: func(r *http.Request, _ []byte) string { return "op-" + r.Header.Get("X-Op") },
	})
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: goroutines}}
	t.Cleanup(c.CloseIdleConnections)
	var wg sync.WaitGroup
	ids := make(chan string, goroutines*ops)
	errs := make(chan error, goroutines*ops)
	for range goroutines {
		wg.Go(func() {
			for op := range ops {
				req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL()+"/v1/ops", strings.NewReader("x"))
				req.Header.Set("X-Op", fmt.Sprint(op))
				r := do(c, req)
				var body struct{ ID string }
				if r.err == nil {
					r.err = json.Unmarshal(r.body, &body)
				}
				if r.err != nil {
					errs <- r.err
					continue
				}
				ids <- body.ID
			}
		})
	}
	wg.Wait()
	close(ids)
	close(errs)
	for err := range errs {
		t.Fatalf("request failed: %v", err)
	}
	unique := map[string]bool{}
	for id := range ids {
		unique[id] = true
	}
	if len(unique) != goroutines*ops {
		t.Errorf("distinct ids = %d, want %d", len(unique), goroutines*ops)
	}
	want := map[string]int{}
	for op := range ops {
		want[fmt.Sprint("op-", op)] = goroutines
	}
	if got := srv.EffectsByID(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("EffectsByID = %v, want %v", got, want)
	}
	if n := srv.RouteEffects(http.MethodPost, "/v1/ops"); n != goroutines*ops {
		t.Errorf("RouteEffects = %d, want %d", n, goroutines*ops)
	}
}

func TestCloseEndsHangsAndHolds(t *testing.T) {
	srv, err := Start(chargeRoute())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(srv.URL(), "http://127.0.0.1:") {
		t.Errorf("URL = %q, want loopback", srv.URL())
	}
	srv.Inject(http.MethodPost, chargePath, HangFault(nil), HoldFault(nil))
	done := make(chan result, 2)
	for _, key := range []string{"hang", "hold"} {
		go func() { done <- send(t.Context(), newClient(t), srv, chargePath, key, "amount=1") }()
	}
	await(t, srv, "the hang's effect and the hold", func() bool {
		return srv.Requests(http.MethodPost, chargePath) == 2 && srv.RouteEffects(http.MethodPost, chargePath) == 1
	})
	srv.Close()
	for range 2 {
		mustDrop(t, <-done)
	}
	srv.Close() // idempotent
	if n := srv.RouteEffects(http.MethodPost, chargePath); n != 1 {
		t.Errorf("effects = %d, want 1 (the Hang's; the Hold never proceeds)", n)
	}
	for _, rec := range srv.Received(http.MethodPost, chargePath) {
		if !rec.Finished || rec.Status != 0 {
			t.Errorf("after Close: %+v, want finished and dropped", rec)
		}
	}
}

func TestResetForgetsEverything(t *testing.T) {
	srv := start(t, chargeRoute())
	c := newClient(t)
	mustStatus(t, send(t.Context(), c, srv, chargePath, "k1", "amount=1"), http.StatusOK)
	srv.Inject(http.MethodPost, chargePath, ResetFault())
	srv.Reset()
	if srv.Pending(http.MethodPost, chargePath) != 0 || srv.Requests(http.MethodPost, chargePath) != 0 || len(srv.EffectsByID()) != 0 {
		t.Fatal("Reset kept state")
	}
	r := send(t.Context(), c, srv, chargePath, "k1", "amount=1")
	mustStatus(t, r, http.StatusOK)
	if r.resp.Header.Get("Idempotent-Replayed") != "" || srv.RouteEffects(http.MethodPost, chargePath) != 1 {
		t.Error("key remembered across Reset")
	}
}

func TestStartRejectsInvalidRoutes(t *testing.T) {
	for name, routes := range map[string][]Route{
		"no method":      {{Path: "/a"}},
		"relative path":  {{Method: "POST", Path: "a"}},
		"duplicate":      {{Method: "POST", Path: "/a"}, {Method: "POST", Path: "/a"}},
		"lookup clash":   {{Method: "POST", Path: "/a", LookupPath: "/b"}, {Method: "GET", Path: "/b"}},
		"non-2xx status": {{Method: "POST", Path: "/a", Status: 500}},
	} {
		srv, err := Start(routes...)
		if !errors.Is(err, ErrInvalidRoute) {
			t.Errorf("%s: err = %v, want ErrInvalidRoute", name, err)
		}
		if srv != nil {
			srv.Close()
		}
	}
}

// net/http itself resends a request carrying an Idempotency-Key header when a
// reused keep-alive connection fails after the request was written. The
// server sees two requests; the key keeps the effect single.
func TestNetHTTPResendsKeyedRequestOnReusedConnection(t *testing.T) {
	srv := start(t, chargeRoute())
	c := newClient(t)
	mustStatus(t, send(t.Context(), c, srv, chargePath, "warm", "amount=0"), http.StatusOK)
	srv.Inject(http.MethodPost, chargePath, LostAckFault())
	r := send(t.Context(), c, srv, chargePath, "k1", "amount=1")
	mustStatus(t, r, http.StatusOK)
	if r.resp.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("resent request was not a replay")
	}
	if n := srv.Effects(effectOf(http.MethodPost, chargePath, "amount=1")); n != 1 {
		t.Errorf("effects = %d, want 1", n)
	}
	if n := srv.Requests(http.MethodPost, chargePath); n != 3 {
		t.Errorf("Requests = %d, want 3 (warm-up, lost, silent resend)", n)
	}
}
