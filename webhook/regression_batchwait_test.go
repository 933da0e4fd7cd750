package webhook_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/idemhttp/idemhttp/cache"
	"github.com/idemhttp/idemhttp/internal/testclock"
	"github.com/idemhttp/idemhttp/webhook"
)

// A batch that holds the claim of one event and finds another held
// elsewhere does not wait (WithWait) while holding it: nothing renews that
// claim until the handler runs, and once it lapsed a redelivery of the event
// would take it over and handle it, and then the waiting batch would handle
// it again. The batch answers 409 and releases what it holds.
func TestBatchHoldingClaimsDoesNotWait(t *testing.T) {
	clock := testclock.New(time.Now())
	store := cache.NewMemory(cache.WithClock(clock.Now))
	done := newEffects()
	block, entered := make(chan struct{}), make(chan struct{})
	app := &batchApp{t: t}
	h := webhook.Dedup(store, webhook.SendGrid(),
		webhook.WithLease(300*time.Millisecond), webhook.WithWait(time.Hour),
	)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		app.ServeHTTP(httptest.NewRecorder(), r)
		ids := app.last()
		for _, id := range ids {
			done.add(id)
		}
		if len(ids) == 1 && ids[0] == "e2" {
			close(entered)
			<-block
		}
	}))
	deliver := func(ids ...string) int {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(sendgridBatch(ids...))))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code
	}
	first := make(chan int)
	go func() { first <- deliver("e2") }() // holds e2 while its handler runs
	<-entered
	batch := make(chan int, 1)
	go func() { batch <- deliver("e1", "e2") }() // claims e1, finds e2 held
	var returned bool
	waitFor(t, "the batch to claim e1 or answer", func() bool {
		if _, held := recordOf(t, cache.Store(store), "webhook:sendgrid:e1"); held {
			return true
		}
		select {
		case code := <-batch:
			batch <- code
			returned = true
		default:
		}
		return returned
	})
	clock.Advance(time.Minute) // any claim the batch still holds has lapsed
	if code := deliver("e1"); code != http.StatusOK {
		t.Fatalf("redelivery of e1: %d", code)
	}
	close(block)
	if code := <-first; code != http.StatusOK {
		t.Fatalf("delivery of e2: %d", code)
	}
	if code := <-batch; code != http.StatusConflict {
		t.Fatalf("batch with e2 held elsewhere: %d, want 409", code)
	}
	if n := done.of("e1"); n != 1 {
		t.Fatalf("event e1 handled %d times, want once", n)
	}
}
