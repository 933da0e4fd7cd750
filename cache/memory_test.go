package cache_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/idemhttp/idemhttp/cache"
	"github.com/idemhttp/idemhttp/cache/cachetest"
	"github.com/idemhttp/idemhttp/internal/testclock"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestMemoryConformance(t *testing.T) {
	cachetest.Run(t, func(*testing.T) cache.Store { return cache.NewMemory() })
}

// memStore wraps a Memory with helpers that fail the test on errors.
type memStore struct {
	*cache.Memory
	t *testing.T
}

func newMemStore(t *testing.T, opts ...cache.MemoryOption) memStore {
	return memStore{cache.NewMemory(opts...), t}
}

func (m memStore) claim(key string, lease time.Duration) cache.Claim {
	m.t.Helper()
	c, err := m.Claim(context.Background(), key, "fp", lease)
	if err != nil {
		m.t.Fatalf("Claim(%q): %v", key, err)
	}
	return c
}

func (m memStore) acquire(key string) cache.Token {
	m.t.Helper()
	c := m.claim(key, time.Minute)
	if c.Outcome != cache.Acquired {
		m.t.Fatalf("Claim(%q): %v, want acquired", key, c.Outcome)
	}
	return c.Token
}

func (m memStore) complete(key string, token cache.Token, e *cache.Entry, ttl time.Duration) {
	m.t.Helper()
	if err := m.Complete(context.Background(), key, token, e, ttl); err != nil {
		m.t.Fatalf("Complete(%q): %v", key, err)
	}
}

// record acquires and completes key with a body of n bytes.
func (m memStore) record(key string, n int) {
	m.t.Helper()
	m.complete(key, m.acquire(key), entryOfBody(n), time.Hour)
}

func (m memStore) state(key string) (cache.State, bool) {
	m.t.Helper()
	r, err := m.Get(context.Background(), key)
	if errors.Is(err, cache.ErrNotFound) {
		return 0, false
	}
	if err != nil {
		m.t.Fatalf("Get(%q): %v", key, err)
	}
	return r.State, true
}

func (m memStore) wantPresent(keys ...string) {
	m.t.Helper()
	for _, k := range keys {
		if _, ok := m.state(k); !ok {
			m.t.Errorf("%q was evicted, want present", k)
		}
	}
}

func (m memStore) wantAbsent(keys ...string) {
	m.t.Helper()
	for _, k := range keys {
		if s, ok := m.state(k); ok {
			m.t.Errorf("%q is present (%v), want evicted", k, s)
		}
	}
}

func entryOfBody(n int) *cache.Entry {
	return &cache.Entry{Status: http.StatusOK, Body: make([]byte, n)}
}

func TestMemoryLRUEvictsLeastRecentlyUsed(t *testing.T) {
	m := newMemStore(t, cache.WithMaxEntries(3))
	m.record("a", 1)
	m.record("b", 1)
	m.record("c", 1)
	if c := m.claim("a", time.Minute); c.Outcome != cache.Completed { // a is now most recent
		t.Fatalf("replay of a: %v", c.Outcome)
	}
	m.record("d", 1) // evicts b, the least recently used
	m.wantAbsent("b")
	m.wantPresent("a", "c", "d")
	m.record("e", 1) // then c
	m.wantAbsent("c")
	m.wantPresent("a", "d", "e")
	if n := m.Len(); n != 3 {
		t.Fatalf("Len = %d, want 3", n)
	}
}

func TestMemoryByteBound(t *testing.T) {
	size := int64(entryOfBody(1000).Size())
	m := newMemStore(t, cache.WithMaxBytes(3*size))
	m.record("a", 1000)
	m.record("b", 1000)
	m.record("c", 1000)
	m.wantPresent("a", "b", "c")
	m.record("d", 1000)
	m.wantAbsent("a")
	m.wantPresent("b", "c", "d")
	m.record("big", 1500) // needs the room of two entries
	m.wantAbsent("b", "c")
	m.wantPresent("d", "big")
}

func TestMemoryEntryTooLarge(t *testing.T) {
	m := newMemStore(t, cache.WithMaxBytes(1000))
	ctx := context.Background()
	m.record("small", 10)
	tok := m.acquire("k")
	err := m.Complete(ctx, "k", tok, entryOfBody(2000), time.Hour)
	if !errors.Is(err, cache.ErrEntryTooLarge) {
		t.Fatalf("Complete(too large) = %v, want ErrEntryTooLarge", err)
	}
	if s, _ := m.state("k"); s != cache.InFlight {
		t.Fatalf("after a refused Complete the record is %v, want in-flight", s)
	}
	m.wantPresent("small") // nothing was evicted for the refused entry
	if c := m.claim("k", time.Minute); c.Outcome != cache.Busy {
		t.Fatalf("claim still held? Claim = %v, want busy", c.Outcome)
	}
	// The holder records something smaller instead.
	omitted := &cache.Entry{Status: http.StatusOK, BodyOmitted: true}
	m.complete("k", tok, omitted, time.Hour)

	// Resolve refuses too large an entry the same way and keeps the record in doubt.
	tok = m.acquire("doubt")
	if err := m.MarkInDoubt(ctx, "doubt", tok, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := m.Resolve(ctx, "doubt", entryOfBody(2000), time.Hour); !errors.Is(err, cache.ErrEntryTooLarge) {
		t.Fatalf("Resolve(too large) = %v, want ErrEntryTooLarge", err)
	}
	if s, _ := m.state("doubt"); s != cache.InDoubt {
		t.Fatalf("after a refused Resolve the record is %v, want in-doubt", s)
	}
}

func TestMemoryNeverEvictsInFlightOrInDoubt(t *testing.T) {
	ctx := context.Background()
	m := newMemStore(t, cache.WithMaxEntries(4))
	m.record("done", 1)
	m.acquire("flight")
	if err := m.MarkInDoubt(ctx, "doubt", m.acquire("doubt"), time.Hour); err != nil {
		t.Fatal(err)
	}
	m.acquire("flight2")
	m.acquire("new") // fifth record: the completed one makes room
	m.wantAbsent("done")
	m.wantPresent("flight", "doubt", "flight2", "new")

	// Only in-flight and in-doubt records remain: fail closed, evict nothing.
	_, err := m.Claim(ctx, "one-too-many", "fp", time.Minute)
	if !errors.Is(err, cache.ErrUnavailable) {
		t.Fatalf("Claim on a full store = %v, want ErrUnavailable", err)
	}
	m.wantPresent("flight", "doubt", "flight2", "new")
	m.wantAbsent("one-too-many")
	// Existing records still answer.
	if c := m.claim("flight", time.Minute); c.Outcome != cache.Busy {
		t.Fatalf("Claim(flight) on a full store = %v, want busy", c.Outcome)
	}
	// Freeing one record makes room again.
	if err := m.Delete(ctx, "flight2"); err != nil {
		t.Fatal(err)
	}
	m.acquire("one-too-many")
}

func TestMemoryExpiryWithClock(t *testing.T) {
	ctx := context.Background()
	clock := testclock.New(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	m := newMemStore(t, cache.WithClock(clock.Now), cache.WithAbandonedTTL(time.Hour))

	m.complete("done", m.acquire("done"), entryOfBody(1), time.Minute)
	if err := m.MarkInDoubt(ctx, "doubt", m.acquire("doubt"), 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	lease := m.claim("lease", 10*time.Second)
	r, err := m.Get(ctx, "done")
	if err != nil || !r.ExpiresAt.Equal(clock.Now().Add(time.Minute)) {
		t.Fatalf("Get(done) = %+v, %v; want ExpiresAt one minute ahead", r, err)
	}

	clock.Advance(10 * time.Second) // the lease ends exactly now
	if c := m.claim("lease", time.Minute); c.Outcome != cache.Acquired || !c.InDoubt || c.Token == lease.Token {
		t.Fatalf("claim after lease expiry = %+v, want acquired in doubt with a new token", c)
	}
	clock.Advance(50*time.Second - 1)
	m.wantPresent("done", "doubt")
	clock.Advance(1) // one minute: done expires
	m.wantAbsent("done")
	m.wantPresent("doubt")
	clock.Advance(time.Minute) // two minutes: doubt expires
	m.wantAbsent("doubt")
	if c := m.claim("doubt", time.Minute); c.Outcome != cache.Acquired || c.InDoubt {
		t.Fatalf("claim after the in-doubt record expired = %+v, want a fresh acquire", c)
	}
}

func TestMemoryAbandonedClaimForgotten(t *testing.T) {
	clock := testclock.New(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	m := newMemStore(t, cache.WithClock(clock.Now), cache.WithAbandonedTTL(time.Hour))
	old := m.claim("k", time.Minute)
	clock.Advance(time.Minute + time.Hour - 1)
	if s, ok := m.state("k"); !ok || s != cache.InFlight {
		t.Fatalf("abandoned claim before its TTL: %v %v, want in-flight", s, ok)
	}
	clock.Advance(1)
	m.wantAbsent("k")
	if c := m.claim("k", time.Minute); c.Outcome != cache.Acquired || c.InDoubt {
		t.Fatalf("claim after the abandoned claim was forgotten = %+v, want a fresh acquire", c)
	}
	if err := m.Complete(context.Background(), "k", old.Token, entryOfBody(1), time.Hour); !errors.Is(err, cache.ErrFenced) {
		t.Fatalf("Complete with the forgotten claim's token = %v, want ErrFenced", err)
	}
}

func TestMemoryRenewMovesAbandonedTTL(t *testing.T) {
	ctx := context.Background()
	clock := testclock.New(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	m := newMemStore(t, cache.WithClock(clock.Now), cache.WithAbandonedTTL(time.Minute))
	tok := m.claim("k", time.Minute).Token
	clock.Advance(90 * time.Second)
	if err := m.Renew(ctx, "k", tok, time.Minute); err != nil {
		t.Fatalf("Renew: %v", err)
	}
	clock.Advance(time.Minute + 59*time.Second) // past the first expiry, not the renewed one
	m.wantPresent("k")
	m.complete("k", tok, entryOfBody(1), time.Hour)
}

func TestMemoryExpiredRecordsFreeRoom(t *testing.T) {
	ctx := context.Background()
	clock := testclock.New(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	m := newMemStore(t, cache.WithClock(clock.Now), cache.WithMaxEntries(100))
	for i := range 100 {
		k := strconv.Itoa(i)
		if err := m.MarkInDoubt(ctx, k, m.acquire(k), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Claim(ctx, "new", "fp", time.Minute); !errors.Is(err, cache.ErrUnavailable) {
		t.Fatalf("Claim on a store full of in-doubt records = %v, want ErrUnavailable", err)
	}
	clock.Advance(time.Minute)
	m.acquire("new")
	if n := m.Len(); n != 1 {
		t.Fatalf("Len after the in-doubt records expired = %d, want 1", n)
	}
}

func TestMemoryBoundedUnderManyKeys(t *testing.T) {
	const keys, bound = 1_000_000, 10_000
	m := newMemStore(t, cache.WithMaxEntries(bound))
	ctx := context.Background()
	e := entryOfBody(16)
	for i := range keys {
		k := strconv.Itoa(i)
		c, err := m.Claim(ctx, k, "fp", time.Minute)
		if err != nil || c.Outcome != cache.Acquired {
			t.Fatalf("Claim(%s) = %v, %v", k, c.Outcome, err)
		}
		if err := m.Complete(ctx, k, c.Token, e, time.Hour); err != nil {
			t.Fatalf("Complete(%s): %v", k, err)
		}
	}
	if n := m.Len(); n > bound || n < bound/2 {
		t.Fatalf("Len = %d after %d keys, want at most %d (and not emptied)", n, keys, bound)
	}
	m.wantPresent(strconv.Itoa(keys - 1))
	m.wantAbsent("0")
}

func TestMemoryInvalidInput(t *testing.T) {
	ctx := context.Background()
	m := newMemStore(t)
	for _, lease := range []time.Duration{0, -time.Second} {
		if _, err := m.Claim(ctx, "k", "fp", lease); err == nil {
			t.Errorf("Claim with lease %v: nil error", lease)
		}
	}
	m.wantAbsent("k")
	tok := m.acquire("k")
	if err := m.Renew(ctx, "k", tok, 0); err == nil {
		t.Error("Renew with a zero lease: nil error")
	}
	if err := m.Complete(ctx, "k", tok, nil, time.Hour); err == nil {
		t.Error("Complete with a nil entry: nil error")
	}
	if s, _ := m.state("k"); s != cache.InFlight {
		t.Fatalf("after invalid calls the record is %v, want in-flight", s)
	}
	m.complete("k", tok, entryOfBody(1), time.Hour)
}

func TestMemoryZeroTTLKeepsUntilEvicted(t *testing.T) {
	clock := testclock.New(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	m := newMemStore(t, cache.WithClock(clock.Now))
	m.complete("k", m.acquire("k"), entryOfBody(1), 0)
	clock.Advance(100 * 365 * 24 * time.Hour)
	if c := m.claim("k", time.Minute); c.Outcome != cache.Completed {
		t.Fatalf("Claim of a record completed without ttl = %v, want completed", c.Outcome)
	}
}

func TestMemoryStoredAtDefaultsToNow(t *testing.T) {
	clock := testclock.New(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	m := newMemStore(t, cache.WithClock(clock.Now))
	m.complete("k", m.acquire("k"), entryOfBody(1), time.Hour)
	if c := m.claim("k", time.Minute); !c.Entry.StoredAt.Equal(clock.Now()) {
		t.Fatalf("StoredAt = %v, want the clock's %v", c.Entry.StoredAt, clock.Now())
	}
}

func TestMemoryConcurrentMixedUse(t *testing.T) {
	m := cache.NewMemory(cache.WithMaxEntries(64))
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				k := fmt.Sprintf("k%d", (i*7+w)%100)
				c, err := m.Claim(ctx, k, "fp", time.Minute)
				if errors.Is(err, cache.ErrUnavailable) {
					continue // full of in-flight records: allowed
				}
				if err != nil {
					t.Errorf("Claim(%s): %v", k, err)
					return
				}
				if c.Outcome != cache.Acquired {
					continue
				}
				if i%3 == 0 {
					err = m.Release(ctx, k, c.Token)
				} else {
					err = m.Complete(ctx, k, c.Token, entryOfBody(8), time.Hour)
				}
				if err != nil {
					t.Errorf("settling %s: %v", k, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := m.Len(); n > 64 {
		t.Fatalf("Len = %d, want at most 64", n)
	}
}
