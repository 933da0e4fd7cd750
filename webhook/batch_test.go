package webhook_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/idemhttp/idemhttp/cache"
	"github.com/idemhttp/idemhttp/webhook"
)

// sendgridBatch is a SendGrid Event Webhook body with one event per id.
func sendgridBatch(ids ...string) []byte {
	items := make([]string, len(ids))
	for i, id := range ids {
		items[i] = fmt.Sprintf(`{"email":"a@example.com", "event":"delivered","sg_event_id":%q}`, id)
	}
	return []byte("[" + strings.Join(items, ",\n ") + "]")
}

// batchApp records the event ids of every batch it is given.
type batchApp struct {
	t       *testing.T
	mu      sync.Mutex
	batches [][]string
	fail    bool
	raw     []string
}

func (a *batchApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var events []map[string]any
	if err := json.Unmarshal(body, &events); err != nil {
		a.t.Errorf("handler got a body that is not a JSON array: %v: %s", err, body)
	}
	var ids []string
	for _, e := range events {
		id, _ := e["sg_event_id"].(string)
		ids = append(ids, id)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.batches = append(a.batches, ids)
	a.raw = append(a.raw, string(body))
	if a.fail {
		http.Error(w, "failed", http.StatusInternalServerError)
		return
	}
	fmt.Fprintf(w, "took %d", len(ids))
}

func (a *batchApp) last() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.batches) == 0 {
		return nil
	}
	return a.batches[len(a.batches)-1]
}

func (a *batchApp) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.batches)
}

func TestSendGridBatchesPassOnlyNewEvents(t *testing.T) {
	for _, sc := range stores() {
		t.Run(sc.name, func(t *testing.T) {
			store := sc.open(t)
			app := &batchApp{t: t}
			srv := serve(t, webhook.Dedup(store, webhook.SendGrid())(app))
			steps := []struct {
				batch    []string
				handled  []string // nil: handler not called
				replayed bool
			}{
				{[]string{"a", "b", "c"}, []string{"a", "b", "c"}, false},
				{[]string{"b", "c", "d"}, []string{"d"}, false},
				{[]string{"a", "d"}, nil, true},
				{[]string{"e", "e", "f", "e"}, []string{"e", "f"}, false},
				{[]string{"f", "g", "a", "h"}, []string{"g", "h"}, false},
			}
			for i, step := range steps {
				before := app.count()
				got := post(t, srv.Client(), srv.URL, nil, sendgridBatch(step.batch...))
				if got.status != http.StatusOK || (got.header.Get("Idempotent-Replayed") == "true") != step.replayed {
					t.Fatalf("step %d: %d %q replayed=%q", i, got.status, got.body, got.header.Get("Idempotent-Replayed"))
				}
				if step.handled == nil {
					if app.count() != before {
						t.Fatalf("step %d: handler called for an all-duplicate batch with %v", i, app.last())
					}
					continue
				}
				if app.count() != before+1 || !slices.Equal(app.last(), step.handled) {
					t.Fatalf("step %d: handler got %v, want %v", i, app.last(), step.handled)
				}
			}
			// Each event is passed byte for byte as SendGrid sent it.
			if !strings.Contains(app.raw[1], `{"email":"a@example.com", "event":"delivered","sg_event_id":"d"}`) {
				t.Fatalf("event bytes changed: %s", app.raw[1])
			}
			for _, id := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
				if rec, ok := recordOf(t, store, "webhook:sendgrid:"+id); !ok || rec.State != cache.Done {
					t.Fatalf("event %s: record %+v found=%v", id, rec, ok)
				}
			}
		})
	}
}

func TestSendGridBatchFailureReleasesEveryEvent(t *testing.T) {
	store := cache.NewMemory()
	app := &batchApp{t: t, fail: true}
	srv := serve(t, webhook.Dedup(store, webhook.SendGrid())(app))
	post(t, srv.Client(), srv.URL, nil, sendgridBatch("a"))
	if got := post(t, srv.Client(), srv.URL, nil, sendgridBatch("a", "g", "h")); got.status != http.StatusInternalServerError {
		t.Fatalf("failing batch got %d", got.status)
	}
	for _, id := range []string{"a", "g", "h"} {
		if _, ok := recordOf(t, store, "webhook:sendgrid:"+id); ok {
			t.Fatalf("event %s kept a record after the handler failed", id)
		}
	}
	app.mu.Lock()
	app.fail = false
	app.mu.Unlock()
	post(t, srv.Client(), srv.URL, nil, sendgridBatch("a", "g", "h"))
	post(t, srv.Client(), srv.URL, nil, sendgridBatch("a", "g", "h"))
	if app.count() != 3 || !slices.Equal(app.last(), []string{"a", "g", "h"}) {
		t.Fatalf("after the failure: %d batches, last %v", app.count(), app.last())
	}
}

func TestSendGridBatchWithABusyEventGets409AndHoldsNothing(t *testing.T) {
	store := cache.NewMemory()
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	app := &batchApp{t: t}
	srv := serve(t, webhook.Dedup(store, webhook.SendGrid())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() {
			close(entered)
			<-release
		})
		app.ServeHTTP(w, r)
	})))
	first := make(chan response, 1)
	go func() { first <- post(t, srv.Client(), srv.URL, nil, sendgridBatch("x", "y")) }()
	<-entered
	got := post(t, srv.Client(), srv.URL, nil, sendgridBatch("z", "y"))
	if got.status != http.StatusConflict || got.header.Get("Retry-After") == "" {
		t.Fatalf("batch overlapping a running one got %d %v", got.status, got.header)
	}
	if _, ok := recordOf(t, store, "webhook:sendgrid:z"); ok {
		t.Fatal("the refused batch kept its claim on z")
	}
	close(release)
	if r := <-first; r.status != http.StatusOK {
		t.Fatalf("first batch got %d", r.status)
	}
	post(t, srv.Client(), srv.URL, nil, sendgridBatch("z", "y"))
	if !slices.Equal(app.last(), []string{"z"}) {
		t.Fatalf("retried batch passed %v, want [z]", app.last())
	}
}

func TestBatchEventsWithoutIDs(t *testing.T) {
	body := []byte(`[{"sg_event_id":"k1"},{"event":"open"}]`)
	refused := serve(t, webhook.Dedup(cache.NewMemory(), webhook.SendGrid())(&batchApp{t: t}))
	if got := post(t, refused.Client(), refused.URL, nil, body); got.status != http.StatusBadRequest || !strings.Contains(got.body, "batch event 1") {
		t.Fatalf("event without id: %d %q", got.status, got.body)
	}
	for _, bad := range []string{`{"sg_event_id":"k"}`, `[1,2]`, `[{"sg_event_id":"k"}`} {
		if got := post(t, refused.Client(), refused.URL, nil, []byte(bad)); got.status != http.StatusBadRequest {
			t.Fatalf("body %s: %d %q", bad, got.status, got.body)
		}
	}

	app := &batchApp{t: t}
	passing := serve(t, webhook.Dedup(cache.NewMemory(), webhook.SendGrid(), webhook.WithPassThroughMissingID())(app))
	for range 2 {
		if got := post(t, passing.Client(), passing.URL, nil, body); got.status != http.StatusOK {
			t.Fatalf("pass-through: %d %q", got.status, got.body)
		}
	}
	if app.count() != 2 || !slices.Equal(app.batches[0], []string{"k1", ""}) || !slices.Equal(app.batches[1], []string{""}) {
		t.Fatalf("pass-through batches %v, want [k1 ''] then ['']", app.batches)
	}
}
