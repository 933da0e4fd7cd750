package webhook_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idemhttp/idemhttp/cache"
	"github.com/idemhttp/idemhttp/internal/testclock"
	"github.com/idemhttp/idemhttp/webhook"
)

// eventIDOf reads the Stripe event id the handler is given.
func eventIDOf(t *testing.T, r *http.Request) string {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.Errorf("handler reading body: %v", err)
	}
	_, rest, _ := strings.Cut(string(body), `"id":"`)
	id, _, _ := strings.Cut(rest, `"`)
	return id
}

func TestDedupHandlesOnceAndReplaysTheRecordedResponse(t *testing.T) {
	for _, sc := range stores() {
		t.Run(sc.name, func(t *testing.T) {
			store := sc.open(t)
			done := newEffects()
			app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				id := eventIDOf(t, r)
				n := done.add(id)
				w.Header().Set("X-Handled", id)
				http.SetCookie(w, &http.Cookie{Name: "session", Value: "secret"})
				w.WriteHeader(http.StatusAccepted)
				fmt.Fprintf(w, "handled %s #%d", id, n)
			})
			srv := serve(t, webhook.Dedup(store, webhook.Stripe())(app))

			first := post(t, srv.Client(), srv.URL, nil, stripeEvent("evt_1"))
			if first.status != http.StatusAccepted || first.body != "handled evt_1 #1" || first.header.Get("Idempotent-Replayed") != "" {
				t.Fatalf("first delivery: %d %q replayed=%q", first.status, first.body, first.header.Get("Idempotent-Replayed"))
			}
			for range 3 {
				again := post(t, srv.Client(), srv.URL, nil, stripeEvent("evt_1"))
				if again.status != first.status || again.body != first.body {
					t.Fatalf("duplicate got %d %q, want the recorded %d %q", again.status, again.body, first.status, first.body)
				}
				if again.header.Get("Idempotent-Replayed") != "true" || again.header.Get("X-Handled") != "evt_1" {
					t.Fatalf("duplicate headers: %v", again.header)
				}
				if again.header.Get("Set-Cookie") != "" {
					t.Fatalf("a cookie was replayed: %v", again.header)
				}
			}
			if got := done.of("evt_1"); got != 1 {
				t.Fatalf("handled %d times, want 1", got)
			}
			rec, ok := recordOf(t, store, "webhook:stripe:evt_1")
			if !ok || rec.State != cache.Done || rec.Entry.Status != http.StatusAccepted {
				t.Fatalf("record: found=%v %+v", ok, rec)
			}
		})
	}
}

func TestDedupRemembersForTheSendersRedeliveryWindow(t *testing.T) {
	cases := []struct {
		extractor webhook.Extractor
		opts      []webhook.Option
		header    http.Header
		body      []byte
		remembers time.Duration
	}{
		{webhook.Stripe(), nil, nil, stripeEvent("evt_ttl"), 96 * time.Hour}, // Stripe redelivers for 3 days
		{webhook.Twilio(), nil, twilioHeader("tok-ttl"), nil, 24 * time.Hour},
		{webhook.Twilio(), []webhook.Option{webhook.WithTTL(time.Hour)}, twilioHeader("tok-ttl"), nil, time.Hour},
		{webhook.Header("acme", "X-Id"), nil, http.Header{"X-Id": {"a"}}, nil, webhook.DefaultTTL},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s/%v", tc.extractor.Sender, tc.remembers), func(t *testing.T) {
			clock := testclock.New(time.Now())
			store := cache.NewMemory(cache.WithClock(clock.Now))
			var calls atomic.Int32
			srv := serve(t, webhook.Dedup(store, tc.extractor, tc.opts...)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { calls.Add(1) })))
			post(t, srv.Client(), srv.URL, tc.header, tc.body)
			clock.Advance(tc.remembers - time.Minute)
			if got := post(t, srv.Client(), srv.URL, tc.header, tc.body); got.header.Get("Idempotent-Replayed") != "true" || calls.Load() != 1 {
				t.Fatalf("a minute before the TTL: replayed=%q, %d calls", got.header.Get("Idempotent-Replayed"), calls.Load())
			}
			clock.Advance(2 * time.Minute)
			if got := post(t, srv.Client(), srv.URL, tc.header, tc.body); got.header.Get("Idempotent-Replayed") != "" || calls.Load() != 2 {
				t.Fatalf("a minute after the TTL: replayed=%q, %d calls", got.header.Get("Idempotent-Replayed"), calls.Load())
			}
		})
	}
}

func TestDedupReleasesFailuresSoTheRedeliveryIsHandledOnce(t *testing.T) {
	for _, sc := range stores() {
		t.Run(sc.name, func(t *testing.T) {
			store := sc.open(t)
			done := newEffects()
			var calls atomic.Int32
			app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				id := eventIDOf(t, r)
				switch calls.Add(1) {
				case 1:
					http.Error(w, "database down", http.StatusInternalServerError)
				case 2:
					http.Redirect(w, r, "/elsewhere", http.StatusFound) // not 2xx either
				default:
					done.add(id)
					w.WriteHeader(http.StatusOK)
				}
			})
			srv := serve(t, webhook.Dedup(store, webhook.Stripe())(app))
			client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			defer client.CloseIdleConnections()

			for _, want := range []int{http.StatusInternalServerError, http.StatusFound, http.StatusOK, http.StatusOK, http.StatusOK} {
				if got := post(t, client, srv.URL, nil, stripeEvent("evt_fail")).status; got != want {
					t.Fatalf("delivery got %d, want %d", got, want)
				}
				if want != http.StatusOK {
					if rec, found := recordOf(t, store, "webhook:stripe:evt_fail"); found {
						t.Fatalf("failed delivery left a record: %+v", rec)
					}
				}
			}
			if calls.Load() != 3 || done.of("evt_fail") != 1 {
				t.Fatalf("handler called %d times with %d effects, want 3 calls and 1 effect", calls.Load(), done.of("evt_fail"))
			}
		})
	}
}

func TestDedupReleasesOnPanicAndRepanicsTheSameValue(t *testing.T) {
	store := cache.NewMemory()
	var calls atomic.Int32
	h := webhook.Dedup(store, twilioLike())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			panic(http.ErrAbortHandler)
		}
		io.WriteString(w, "ok")
	}))
	req := func() *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/twilio", strings.NewReader("Body=hi"))
		r.Header.Set("I-Twilio-Idempotency-Token", "tok-1")
		return r
	}

	recovered := func() (v any) {
		defer func() { v = recover() }()
		h.ServeHTTP(httptest.NewRecorder(), req())
		return nil
	}()
	if recovered != http.ErrAbortHandler {
		t.Fatalf("recovered %v, want http.ErrAbortHandler passed through", recovered)
	}
	if rec, found := recordOf(t, store, "webhook:twilio:tok-1"); found {
		t.Fatalf("panicking delivery left a record: %+v", rec)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req())
	if w.Code != http.StatusOK || w.Body.String() != "ok" || calls.Load() != 2 {
		t.Fatalf("redelivery after panic: %d %q after %d calls", w.Code, w.Body.String(), calls.Load())
	}
}

// blockingApp is a handler that signals when it starts and waits for a
// release before answering.
type blockingApp struct {
	entered chan string
	release chan struct{}
	fails   atomic.Int32 // how many first calls answer 500
	calls   atomic.Int32
	done    *effects
}

func newBlockingApp() *blockingApp {
	return &blockingApp{entered: make(chan string, 16), release: make(chan struct{}), done: newEffects()}
}

func (a *blockingApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get("I-Twilio-Idempotency-Token")
	a.entered <- id
	<-a.release
	if a.calls.Add(1) <= a.fails.Load() {
		http.Error(w, "failed", http.StatusInternalServerError)
		return
	}
	a.done.add(id)
	fmt.Fprintf(w, "handled %s", id)
}

// background delivers in a goroutine; the returned channel yields the answer.
func background(t *testing.T, client *http.Client, url string, header http.Header) <-chan response {
	out := make(chan response, 1)
	go func() {
		resp, err := deliver(context.Background(), client, url, header, []byte("x"))
		if err != nil {
			t.Errorf("background delivery: %v", err)
		}
		out <- resp
	}()
	return out
}

func TestDedupConcurrentDuplicateGets409(t *testing.T) {
	for _, sc := range stores() {
		t.Run(sc.name, func(t *testing.T) {
			store := sc.open(t)
			app := newBlockingApp()
			srv := serve(t, webhook.Dedup(store, twilioLike())(app))

			first := background(t, srv.Client(), srv.URL, twilioHeader("tok-c"))
			<-app.entered
			dup := post(t, srv.Client(), srv.URL, twilioHeader("tok-c"), []byte("x"))
			if dup.status != http.StatusConflict {
				t.Fatalf("concurrent duplicate got %d %q, want 409", dup.status, dup.body)
			}
			if s, err := strconv.Atoi(dup.header.Get("Retry-After")); err != nil || s < 1 {
				t.Fatalf("409 Retry-After = %q, want seconds ≥ 1", dup.header.Get("Retry-After"))
			}
			close(app.release)
			if got := <-first; got.status != http.StatusOK {
				t.Fatalf("first delivery got %d", got.status)
			}
			if again := post(t, srv.Client(), srv.URL, twilioHeader("tok-c"), []byte("x")); again.header.Get("Idempotent-Replayed") != "true" {
				t.Fatalf("later duplicate not replayed: %d %v", again.status, again.header)
			}
			if n := app.done.of("tok-c"); n != 1 {
				t.Fatalf("handled %d times", n)
			}
		})
	}
}

// busyCounter is a real store that counts the Busy answers it gives, so a
// test can tell when a waiting delivery has seen the holder.
type busyCounter struct {
	cache.Store
	busy atomic.Int32
}

func (s *busyCounter) Claim(ctx context.Context, key, fp string, lease time.Duration) (cache.Claim, error) {
	c, err := s.Store.Claim(ctx, key, fp, lease)
	if err == nil && c.Outcome == cache.Busy {
		s.busy.Add(1)
	}
	return c, err
}

func TestDedupWithWaitGetsTheOutcomeOfTheRunningDelivery(t *testing.T) {
	for _, holderFails := range []bool{false, true} {
		t.Run(fmt.Sprintf("holderFails=%v", holderFails), func(t *testing.T) {
			store := &busyCounter{Store: cache.NewMemory()}
			app := newBlockingApp()
			if holderFails {
				app.fails.Store(1)
			}
			srv := serve(t, webhook.Dedup(store, twilioLike(), webhook.WithWait(time.Minute))(app))

			first := background(t, srv.Client(), srv.URL, twilioHeader("tok-w"))
			<-app.entered
			second := background(t, srv.Client(), srv.URL, twilioHeader("tok-w"))
			waitFor(t, "the duplicate to find the event busy", func() bool { return store.busy.Load() > 0 })
			close(app.release)
			r1 := <-first
			if holderFails {
				if r1.status != http.StatusInternalServerError {
					t.Fatalf("holder got %d, want 500", r1.status)
				}
				// The waiting duplicate takes the released claim over.
				if id := <-app.entered; id != "tok-w" {
					t.Fatalf("entered with %q", id)
				}
			}
			r2 := <-second
			if r2.status != http.StatusOK || r2.body != "handled tok-w" {
				t.Fatalf("waiting duplicate got %d %q", r2.status, r2.body)
			}
			if replayed := r2.header.Get("Idempotent-Replayed") == "true"; replayed == holderFails {
				t.Fatalf("waiting duplicate replayed=%v, want %v", replayed, !holderFails)
			}
			if n := app.done.of("tok-w"); n != 1 {
				t.Fatalf("handled %d times", n)
			}
		})
	}
}

func TestDedupStoreUnavailableFailsClosedOrOpen(t *testing.T) {
	for _, failOpen := range []bool{false, true} {
		t.Run(fmt.Sprintf("failOpen=%v", failOpen), func(t *testing.T) {
			// A memory store full of in-flight records cannot take a claim.
			store := cache.NewMemory(cache.WithMaxEntries(1))
			if _, err := store.Claim(context.Background(), "someone-else", "fp", time.Hour); err != nil {
				t.Fatal(err)
			}
			var calls atomic.Int32
			var opts []webhook.Option
			if failOpen {
				opts = append(opts, webhook.WithFailOpen())
			}
			srv := serve(t, webhook.Dedup(store, twilioLike(), opts...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
			})))
			got := post(t, srv.Client(), srv.URL, twilioHeader("tok-u"), nil)
			if failOpen {
				if got.status != http.StatusOK || calls.Load() != 1 {
					t.Fatalf("fail open: %d, %d calls", got.status, calls.Load())
				}
				return
			}
			if got.status != http.StatusServiceUnavailable || calls.Load() != 0 || got.header.Get("Retry-After") == "" {
				t.Fatalf("fail closed: %d %q Retry-After=%q, %d calls", got.status, got.body, got.header.Get("Retry-After"), calls.Load())
			}
			if !strings.Contains(got.body, "unavailable") {
				t.Fatalf("503 body %q does not say why", got.body)
			}
		})
	}
}

func TestDedupRefusesDeliveriesWithoutAUsableID(t *testing.T) {
	long := strings.Repeat("x", webhook.MaxIDLength+1)
	cases := []struct {
		name      string
		extractor webhook.Extractor
		header    http.Header
		body      string
		status    int
		mentions  string
	}{
		{"stripe body without id", webhook.Stripe(), nil, `{"object":"event"}`, 400, `"id"`},
		{"stripe body not JSON", webhook.Stripe(), nil, `id=evt_1`, 400, "not a JSON object"},
		{"stripe id not a string", webhook.Stripe(), nil, `{"id":42}`, 400, "missing event id"},
		{"github without delivery header", webhook.GitHub(), nil, `{}`, 400, "X-Github-Delivery"},
		{"id too long", twilioLike(), twilioHeader(long), ``, 400, "invalid event id"},
		{"id with control characters", webhook.Func("f", func(*http.Request, []byte) (string, error) { return "a\x00b", nil }), nil, ``, 400, "control"},
		{"func returning empty id", webhook.Func("f", func(*http.Request, []byte) (string, error) { return "", nil }), nil, ``, 400, "missing event id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, passThrough := range []bool{false, true} {
				var calls atomic.Int32
				var opts []webhook.Option
				if passThrough {
					opts = append(opts, webhook.WithPassThroughMissingID())
				}
				h := webhook.Dedup(cache.NewMemory(), tc.extractor, opts...)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { calls.Add(1) }))
				r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
				for k, v := range tc.header {
					r.Header[k] = v
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				missing := strings.Contains(w.Body.String(), "missing event id") || (passThrough && calls.Load() == 1)
				if passThrough && missing {
					if calls.Load() != 1 || w.Code != http.StatusOK {
						t.Fatalf("pass-through: %d, %d calls", w.Code, calls.Load())
					}
					continue
				}
				if w.Code != tc.status || calls.Load() != 0 || !strings.Contains(strings.ToLower(w.Body.String()), strings.ToLower(tc.mentions)) {
					t.Fatalf("passThrough=%v: got %d %q with %d calls, want %d mentioning %q", passThrough, w.Code, w.Body.String(), calls.Load(), tc.status, tc.mentions)
				}
			}
		})
	}
}

func TestDedupBoundsTheBody(t *testing.T) {
	var calls atomic.Int32
	h := webhook.Dedup(cache.NewMemory(), twilioLike(), webhook.WithMaxBodyBytes(100))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		calls.Add(1)
		fmt.Fprint(w, len(b))
	}))
	srv := serve(t, h)
	if got := post(t, srv.Client(), srv.URL, twilioHeader("big"), make([]byte, 101)); got.status != http.StatusRequestEntityTooLarge || calls.Load() != 0 {
		t.Fatalf("101-byte body: %d %q, %d calls", got.status, got.body, calls.Load())
	}
	// Without Content-Length (chunked), the bound still holds.
	r := httptest.NewRequest(http.MethodPost, "/", io.MultiReader(strings.NewReader(strings.Repeat("a", 150))))
	r.ContentLength = -1
	r.Header.Set("I-Twilio-Idempotency-Token", "chunked")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusRequestEntityTooLarge || calls.Load() != 0 {
		t.Fatalf("150-byte chunked body: %d, %d calls", w.Code, calls.Load())
	}
	if got := post(t, srv.Client(), srv.URL, twilioHeader("fits"), make([]byte, 100)); got.status != http.StatusOK || got.body != "100" {
		t.Fatalf("100-byte body: %d %q (the handler must read it whole)", got.status, got.body)
	}
}

func TestDedupRenewsTheLeaseOfASlowHandler(t *testing.T) {
	store := cache.NewMemory()
	const lease = 600 * time.Millisecond
	app := newBlockingApp()
	srv := serve(t, webhook.Dedup(store, twilioLike(), webhook.WithLease(lease))(app))

	first := background(t, srv.Client(), srv.URL, twilioHeader("tok-slow"))
	<-app.entered
	rec, _ := recordOf(t, store, "webhook:twilio:tok-slow")
	firstLeaseEnd := rec.LeaseUntil
	waitFor(t, "the original lease to pass while renewed", func() bool {
		rec, _ := recordOf(t, store, "webhook:twilio:tok-slow")
		return time.Now().After(firstLeaseEnd) && rec.LeaseUntil.After(time.Now())
	})
	if dup := post(t, srv.Client(), srv.URL, twilioHeader("tok-slow"), nil); dup.status != http.StatusConflict {
		t.Fatalf("duplicate after the first lease passed got %d, want 409 (claim kept by renewal)", dup.status)
	}
	close(app.release)
	if r := <-first; r.status != http.StatusOK {
		t.Fatalf("slow delivery got %d", r.status)
	}
	if rec, _ := recordOf(t, store, "webhook:twilio:tok-slow"); rec.State != cache.Done {
		t.Fatalf("slow delivery recorded as %v", rec.State)
	}
}

func TestDedupFlagsTheHandlerWhenAnEarlierAttemptWasAbandoned(t *testing.T) {
	store := cache.NewMemory()
	// A process claimed tok-crash and died: its lease runs out without an outcome.
	c, err := store.Claim(context.Background(), "webhook:twilio:tok-crash", "webhook/v1", 5*time.Millisecond)
	if err != nil || c.Outcome != cache.Acquired {
		t.Fatalf("claim: %v %v", c.Outcome, err)
	}
	waitFor(t, "the abandoned lease to run out", func() bool {
		rec, _ := recordOf(t, store, "webhook:twilio:tok-crash")
		return time.Now().After(rec.LeaseUntil)
	})
	seen := map[string]bool{}
	var mu sync.Mutex
	srv := serve(t, webhook.Dedup(store, twilioLike())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Header.Get("I-Twilio-Idempotency-Token")] = webhook.InDoubt(r.Context())
		mu.Unlock()
	})))
	post(t, srv.Client(), srv.URL, twilioHeader("tok-crash"), nil)
	post(t, srv.Client(), srv.URL, twilioHeader("tok-fresh"), nil)
	mu.Lock()
	defer mu.Unlock()
	if !seen["tok-crash"] || seen["tok-fresh"] {
		t.Fatalf("InDoubt: abandoned=%v fresh=%v, want true and false", seen["tok-crash"], seen["tok-fresh"])
	}
}

func TestDedupRecordsALargeResponseWithoutItsBody(t *testing.T) {
	store := cache.NewMemory()
	big := strings.Repeat("b", 100)
	srv := serve(t, webhook.Dedup(store, twilioLike(), webhook.WithMaxRecordedBytes(10))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, big)
	})))
	if got := post(t, srv.Client(), srv.URL, twilioHeader("tok-big"), nil); got.body != big {
		t.Fatalf("first delivery body %q", got.body)
	}
	rec, _ := recordOf(t, store, "webhook:twilio:tok-big")
	if rec.Entry == nil || !rec.Entry.BodyOmitted || len(rec.Entry.Body) != 0 {
		t.Fatalf("recorded entry %+v, want the body omitted", rec.Entry)
	}
	again := post(t, srv.Client(), srv.URL, twilioHeader("tok-big"), nil)
	if again.status != http.StatusOK || again.body != "" || again.header.Get("Idempotent-Replayed") != "true" || again.header.Get("Content-Type") != "text/plain" {
		t.Fatalf("replay: %d %q %v", again.status, again.body, again.header)
	}
}

func TestDedupRecordsAHandlerThatWritesNothingAs200(t *testing.T) {
	store := cache.NewMemory()
	var calls atomic.Int32
	srv := serve(t, webhook.Dedup(store, twilioLike())(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { calls.Add(1) })))
	for range 2 {
		if got := post(t, srv.Client(), srv.URL, twilioHeader("tok-empty"), nil); got.status != http.StatusOK {
			t.Fatalf("got %d", got.status)
		}
	}
	if calls.Load() != 1 {
		t.Fatalf("called %d times", calls.Load())
	}
}

func TestDedupKeepsTheResponseControllerFeatures(t *testing.T) {
	errs := make(chan error, 2)
	srv := serve(t, webhook.Dedup(cache.NewMemory(), twilioLike())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		io.WriteString(w, "part one;")
		errs <- rc.Flush()
		errs <- rc.SetWriteDeadline(time.Now().Add(time.Minute))
		io.WriteString(w, "part two")
	})))
	got := post(t, srv.Client(), srv.URL, twilioHeader("tok-flush"), nil)
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("response controller through Dedup: %v", err)
		}
	}
	again := post(t, srv.Client(), srv.URL, twilioHeader("tok-flush"), nil)
	if got.body != "part one;part two" || again.body != got.body {
		t.Fatalf("bodies %q then %q", got.body, again.body)
	}
}

func TestExtractorsNameTheEvent(t *testing.T) {
	cases := []struct {
		name      string
		extractor webhook.Extractor
		opts      []webhook.Option
		header    http.Header
		body      string
		key       string
	}{
		{"stripe", webhook.Stripe(), nil, nil, `{"id":"evt_9","object":"event"}`, "webhook:stripe:evt_9"},
		{"standard", webhook.StandardWebhooks(), nil, http.Header{"Webhook-Id": {"msg_1"}}, `{}`, "webhook:standard-webhooks:msg_1"},
		{"svix", webhook.StandardWebhooks(), nil, http.Header{"Svix-Id": {"msg_2"}}, `{}`, "webhook:standard-webhooks:msg_2"},
		{"github", webhook.GitHub(), nil, http.Header{"X-Github-Delivery": {"72d3162e-cc78-11e3-81ab-4c9367dc0958"}}, `{}`, "webhook:github:72d3162e-cc78-11e3-81ab-4c9367dc0958." + bodyDigest(`{}`)},
		{"shopify event id", webhook.Shopify(), nil, http.Header{"X-Shopify-Event-Id": {"ev1"}, "X-Shopify-Webhook-Id": {"wh1"}}, `{}`, "webhook:shopify:ev1." + bodyDigest(`{}`)},
		{"shopify webhook id", webhook.Shopify(), nil, http.Header{"X-Shopify-Webhook-Id": {"wh2"}}, `{}`, "webhook:shopify:wh2." + bodyDigest(`{}`)},
		{"twilio", webhook.Twilio(), nil, twilioHeader("tok"), ``, "webhook:twilio:tok." + uriBodyDigest("/", ``)},
		{"header", webhook.Header("acme", "X-Acme-Id"), nil, http.Header{"X-Acme-Id": {"a1"}}, ``, "webhook:acme:a1"},
		{"func", webhook.Func("acme", func(r *http.Request, body []byte) (string, error) { return "f-" + string(body), nil }), nil, nil, `7`, "webhook:acme:f-7"},
		{"namespace", webhook.Stripe(), []webhook.Option{webhook.WithNamespace("acct:1")}, nil, `{"id":"evt_n"}`, "webhook:stripe/acct%3A1:evt_n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			store := cache.NewMemory()
			h := webhook.Dedup(store, tc.extractor, tc.opts...)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
			for k, v := range tc.header {
				r.Header[k] = v
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				t.Fatalf("got %d %q", w.Code, w.Body.String())
			}
			if rec, found := recordOf(t, store, tc.key); !found || rec.State != cache.Done {
				t.Fatalf("no completed record under %q (store holds %d records)", tc.key, store.Len())
			}
		})
	}
}

func TestDedupReportsAnExtractorError(t *testing.T) {
	boom := errors.New("boom")
	h := webhook.Dedup(cache.NewMemory(), webhook.Func("f", func(*http.Request, []byte) (string, error) { return "", boom }))(http.NotFoundHandler())
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", nil))
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "boom") {
		t.Fatalf("got %d %q", w.Code, w.Body.String())
	}
}

func TestDedupAfterVerifyReadsTheWholeBodyOnce(t *testing.T) {
	const secret = "whsec_body"
	verify, err := webhook.VerifyStripe(secret)
	if err != nil {
		t.Fatal(err)
	}
	// A middleware between them that reads part of the body.
	peek := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.ReadFull(r.Body, make([]byte, 5))
			next.ServeHTTP(w, r)
		})
	}
	var got []byte
	h := verify(peek(webhook.Dedup(cache.NewMemory(), webhook.Stripe())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
	}))))
	payload := stripeEvent("evt_body")
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(payload)))
	r.Header.Set("Stripe-Signature", webhook.SignStripe(secret, time.Now(), payload))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK || string(got) != string(payload) {
		t.Fatalf("got %d, handler read %q, want the whole %q", w.Code, got, payload)
	}
}

func TestDedupWithAnEmptyExtractorIsAServerError(t *testing.T) {
	var calls atomic.Int32
	h := webhook.Dedup(cache.NewMemory(), webhook.Extractor{Sender: "nothing"}, webhook.WithLogger(slog.New(slog.DiscardHandler)))(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { calls.Add(1) }))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", nil))
	if w.Code != http.StatusInternalServerError || calls.Load() != 0 {
		t.Fatalf("got %d with %d calls", w.Code, calls.Load())
	}
}

// bodyDigest is the body digest the record keys of GitHub and Shopify
// carry: the first 12 bytes of SHA-256, hex.
func bodyDigest(body string) string {
	sum := sha256.Sum256([]byte(body))
	return hex.EncodeToString(sum[:12])
}

// uriBodyDigest is the digest Twilio record keys carry: of the request URI
// and the body, the first 12 bytes of SHA-256, hex.
func uriBodyDigest(uri, body string) string {
	sum := sha256.Sum256([]byte(uri + "\x00" + body))
	return hex.EncodeToString(sum[:12])
}
