package idemhttp_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/idemhttp/idemhttp"
	redisstore "github.com/idemhttp/idemhttp/cache/redis"
	"github.com/idemhttp/idemhttp/internal/redistest"
	goredis "github.com/redis/go-redis/v9"
)

// redisEnv is an env whose store is a real redis-server the test owns.
func redisEnv(t *testing.T) (*env, *redistest.Server) {
	t.Helper()
	e := newEnv(t)
	srv := redistest.Start(t)
	client := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true, MaxRetries: -1})
	store := redisstore.New(client)
	t.Cleanup(func() { store.Close(); client.Close() })
	e.store = store
	return e, srv
}

// Redis killed mid-run: de-duplicating providers fail open (sent with the
// key), the others fail closed (nothing sent); once Redis is back the same
// Transport records and replays again, with no restart of the process.
func TestRedisKilledAndRestarted(t *testing.T) {
	e, redis := redisEnv(t)
	c := e.client()
	ctx := idemhttp.WithScope(context.Background(), "s")
	if r := e.charge(ctx, c); r.err != nil {
		t.Fatal(r.err)
	}

	redis.Kill()
	r := post(ctx, c, stripeHost, "/v1/charges", formType, "amount=1&currency=usd")
	if r.err != nil || r.resp.StatusCode != 200 {
		t.Fatalf("Stripe with Redis down: want fail open, got %v", r.err)
	}
	if rs := e.srv.Received("POST", "/v1/charges"); rs[len(rs)-1].Header.Get("Idempotency-Key") == "" {
		t.Fatal("fail-open request went out without its key")
	}
	r = post(ctx, c, sendgridHost, "/v3/mail/send", jsonType, emailBody("a@x.test", "Hi", "x"))
	if !errors.Is(r.err, idemhttp.ErrStoreUnavailable) {
		t.Fatalf("SendGrid with Redis down: want ErrStoreUnavailable, got %v", r.err)
	}
	if n := e.srv.Requests("POST", "/v3/mail/send"); n != 0 {
		t.Fatalf("sent without a record: %d", n)
	}

	redis.Restart() // empty: the records are gone
	r = post(ctx, c, sendgridHost, "/v3/mail/send", jsonType, emailBody("a@x.test", "Hi", "x"))
	if r.err != nil || r.resp.StatusCode != 202 {
		t.Fatalf("after restart: %v", r.err)
	}
	r = post(ctx, c, sendgridHost, "/v3/mail/send", jsonType, emailBody("a@x.test", "Hi", "x"))
	if r.err != nil || !idemhttp.Replayed(r.resp) || e.srv.RouteEffects("POST", "/v3/mail/send") != 1 {
		t.Fatalf("not recorded after recovery: %v", r.err)
	}
	// Redis restarted empty lost the first charge's record: Stripe's own key
	// memory keeps it to one charge.
	if r := e.charge(ctx, c); r.err != nil || idOf(t, r.body) != "ch_1" || e.srv.RouteEffects("POST", "/v1/charges") != 2 {
		t.Fatalf("charge after the record was lost: %v %s", r.err, r.body)
	}
}

// Many goroutines, one Redis, one fault server: one execution per operation.
func TestRedisConcurrentOperations(t *testing.T) {
	e, _ := redisEnv(t)
	clients := []*http.Client{e.client(), e.client(), e.client()}
	var wg sync.WaitGroup
	for i := range 120 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := post(context.Background(), clients[i%3], bookingsHost, "/bookings", jsonType, `{"slot":`+strconv.Itoa(i%10)+`}`)
			if r.err != nil || r.resp.StatusCode != 201 {
				t.Errorf("op %d: %v", i%10, r.err)
			}
		}()
	}
	wg.Wait()
	if n := e.srv.RouteEffects("POST", "/bookings"); n != 10 {
		t.Fatalf("%d executions, want 10", n)
	}
}
