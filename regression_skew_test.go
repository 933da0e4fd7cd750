package idemhttp_test

import (
	"context"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idemhttp/idemhttp"
	"github.com/idemhttp/idemhttp/cache"
	redisstore "github.com/idemhttp/idemhttp/cache/redis"
	"github.com/idemhttp/idemhttp/internal/redistest"
	goredis "github.com/redis/go-redis/v9"
)

// skewedRedis is the real Redis Store (so a cache.Waiter) as a caller whose
// clock is a minute ahead of the Redis server sees it while another process
// holds the record for 300ms: Claim answers Busy with an Until that has
// passed by the caller's clock, and the record's lease field l, which Wait
// compares with the caller's time.Now, has passed too.
type skewedRedis struct {
	*redisstore.Store
	raw    goredis.UniversalClient
	prefix string
	end    atomic.Int64 // Unix ns when the other process's claim ends (store clock, here real)
	claims atomic.Int32
}

const skew = time.Minute

func (s *skewedRedis) Claim(ctx context.Context, key, fp string, lease time.Duration) (cache.Claim, error) {
	s.claims.Add(1)
	if s.end.Load() == 0 {
		end := time.Now().Add(300 * time.Millisecond)
		s.end.Store(end.UnixNano())
		// The other process's record, with its lease as seen from this
		// caller's clock (skew ahead): already passed.
		l := strconv.FormatInt(end.Add(-skew).UnixMilli(), 10)
		if err := s.raw.HSet(ctx, s.prefix+key, "s", "f", "p", fp, "t", "1", "l", l).Err(); err != nil {
			return cache.Claim{}, err
		}
	}
	if end := time.Unix(0, s.end.Load()); time.Now().Before(end) {
		return cache.Claim{Outcome: cache.Busy, Until: end.Add(-skew)}, nil
	}
	s.raw.Del(ctx, s.prefix+key)
	return s.Store.Claim(ctx, key, fp, lease)
}

// TestWaitWithClockAheadOfRedisBacksOff: TestWaitWithClockAheadOfStoreBacksOff
// with the Redis store, which implements cache.Waiter. Its Wait would return
// at once (the lease has passed by the local clock), so the claim loop
// sleeps its poll backoff instead of spinning on Claim.
func TestWaitWithClockAheadOfRedisBacksOff(t *testing.T) {
	e := newEnv(t)
	srv := redistest.Start(t)
	client := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true, MaxRetries: -1})
	t.Cleanup(func() { client.Close() })
	const prefix = "skew:"
	rs := redisstore.New(client, redisstore.WithPrefix(prefix))
	t.Cleanup(func() { rs.Close() })
	store := &skewedRedis{Store: rs, raw: client, prefix: prefix}
	r := post(context.Background(), &http.Client{Transport: e.transport(idemhttp.WithStore(store))}, ordersHost, "/orders", jsonType, `{"sku":"R-2"}`)
	if r.err != nil {
		t.Fatalf("after the other claim's lease: %v", r.err)
	}
	if n := store.claims.Load(); n > 40 {
		t.Fatalf("%d Claims while another caller held the record for 300ms: the wait spins (Waiter store)", n)
	}
}
