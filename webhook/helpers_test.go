package webhook_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/idemhttp/idemhttp/cache"
	redisstore "github.com/idemhttp/idemhttp/cache/redis"
	"github.com/idemhttp/idemhttp/cache/sqlite"
	"github.com/idemhttp/idemhttp/internal/redistest"
	"github.com/idemhttp/idemhttp/webhook"
)

// storeCase names a real store constructor the tests run against.
type storeCase struct {
	name string
	open func(t *testing.T) cache.Store
}

// stores are the real backends every end-to-end test runs against.
func stores() []storeCase {
	return []storeCase{
		{"memory", func(t *testing.T) cache.Store { return cache.NewMemory() }},
		{"sqlite", func(t *testing.T) cache.Store {
			store, err := sqlite.Open(filepath.Join(t.TempDir(), "webhooks.db"))
			if err != nil {
				t.Fatalf("sqlite.Open: %v", err)
			}
			t.Cleanup(func() {
				if err := store.Close(); err != nil {
					t.Errorf("sqlite Close: %v", err)
				}
			})
			return store
		}},
		{"redis", func(t *testing.T) cache.Store {
			srv := redistest.Start(t)
			client := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true})
			store := redisstore.New(client)
			t.Cleanup(func() { store.Close(); client.Close() })
			return store
		}},
	}
}

// effects counts, per event id, how many times a handler took effect.
type effects struct {
	mu     sync.Mutex
	counts map[string]int
}

func newEffects() *effects { return &effects{counts: map[string]int{}} }

func (e *effects) add(id string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.counts[id]++
	return e.counts[id]
}

func (e *effects) of(id string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.counts[id]
}

func (e *effects) total() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, c := range e.counts {
		n += c
	}
	return n
}

// serve starts a loopback server for h, closed at the end of the test.
func serve(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Client().CloseIdleConnections()
		srv.Close()
	})
	return srv
}

// response is what a delivery got back.
type response struct {
	status int
	header http.Header
	body   string
}

// post delivers body with header to url and reads the whole response.
func post(t *testing.T, client *http.Client, url string, header http.Header, body []byte) response {
	t.Helper()
	resp, err := deliver(context.Background(), client, url, header, body)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	return resp
}

func deliver(ctx context.Context, client *http.Client, url string, header http.Header, body []byte) (response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return response{}, err
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}, nil
}

// stripeEvent is a Stripe-shaped event body.
func stripeEvent(id string) []byte {
	return fmt.Appendf(nil, `{"id":%q,"object":"event","type":"charge.succeeded","data":{"object":{"amount":1000}}}`, id)
}

// twilioHeader carries a Twilio idempotency token.
// twilioLike keys deliveries on Twilio's idempotency header alone, as a
// header-keyed sender whose header is signed: the tests of Dedup's own
// behaviour use it (Twilio() adds a body digest to the key).
func twilioLike() webhook.Extractor {
	return webhook.Header("twilio", "I-Twilio-Idempotency-Token")
}

func twilioHeader(id string) http.Header {
	return http.Header{"I-Twilio-Idempotency-Token": {id}}
}

// waitFor polls cond until it holds, failing the test after a generous deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// recordOf reads the record under key, failing on anything but ErrNotFound.
func recordOf(t *testing.T, store cache.Store, key string) (cache.Record, bool) {
	t.Helper()
	rec, err := store.Get(context.Background(), key)
	if errors.Is(err, cache.ErrNotFound) {
		return rec, false
	}
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return rec, true
}
