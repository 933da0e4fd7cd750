package sqlite

import (
	"context"
	"testing"
	"time"

	"github.com/idemhttp/idemhttp/cache"
	"github.com/idemhttp/idemhttp/internal/testclock"
)

// wantSince asserts got is first, the time of the first claim, as stored
// (whole milliseconds), and not after now.
func wantSince(t *testing.T, what string, got, first, now time.Time) {
	t.Helper()
	if got.IsZero() || got.After(first) || first.Sub(got) >= time.Millisecond || got.After(now) {
		t.Fatalf("%s: Since = %v, want the first claim's %v to the millisecond, not after %v", what, got, first, now)
	}
}

// TestSinceIsTheFirstClaim: Since stays the time of the claim that created
// the record through a lease expiry and takeover, MarkInDoubt and a
// re-claim, and Complete; after a Release, or once the abandoned record
// expired, the next claim starts afresh.
func TestSinceIsTheFirstClaim(t *testing.T) {
	ctx := context.Background()
	const abandoned = time.Hour
	s := openTest(t, WithSweepInterval(0), WithAbandonedTTL(abandoned))
	clock := testclock.New(time.Now())
	s.now = clock.Now
	get := func(key string) cache.Record {
		t.Helper()
		r, err := s.Get(ctx, key)
		if err != nil {
			t.Fatalf("Get(%q): %v", key, err)
		}
		return r
	}
	reclaimInDoubt := func(key string) cache.Claim {
		t.Helper()
		c := mustClaim(t, s, key, "fp", time.Minute, cache.Acquired)
		if !c.InDoubt {
			t.Fatalf("Claim(%q) not flagged in doubt", key)
		}
		return c
	}

	const k = "charge"
	first := clock.Now()
	if c := mustClaim(t, s, k, "fp", time.Minute, cache.Acquired); c.InDoubt {
		t.Fatal("first claim flagged in doubt")
	}
	wantSince(t, "Get after the first claim", get(k).Since, first, clock.Now())

	clock.Advance(2 * time.Minute) // the lease passes; the holder is gone
	c := reclaimInDoubt(k)
	wantSince(t, "takeover", c.Since, first, clock.Now())
	wantSince(t, "Get after the takeover", get(k).Since, first, clock.Now())

	if err := s.MarkInDoubt(ctx, k, c.Token, time.Hour); err != nil {
		t.Fatalf("MarkInDoubt: %v", err)
	}
	clock.Advance(time.Minute)
	c = reclaimInDoubt(k)
	wantSince(t, "claim of the in-doubt record", c.Since, first, clock.Now())
	mustComplete(t, s, k, c.Token, testEntry("paid"), time.Hour)
	wantSince(t, "Get after Complete", get(k).Since, first, clock.Now())

	const r = "released"
	mustClaim(t, s, r, "fp", time.Minute, cache.Acquired)
	clock.Advance(2 * time.Minute)
	c = reclaimInDoubt(r)
	if err := s.Release(ctx, r, c.Token); err != nil {
		t.Fatalf("Release: %v", err)
	}
	clock.Advance(time.Minute)
	fresh := clock.Now()
	if c := mustClaim(t, s, r, "fp", time.Minute, cache.Acquired); c.InDoubt || !c.Since.IsZero() {
		t.Fatalf("claim after Release: InDoubt %v Since %v, want a fresh claim", c.InDoubt, c.Since)
	}
	wantSince(t, "Get after a fresh claim", get(r).Since, fresh, clock.Now())

	// The abandoned row expires but stays in the file (no sweep): the next
	// claim takes it over in place and starts afresh.
	clock.Advance(time.Minute + abandoned + time.Second)
	fresh = clock.Now()
	if c := mustClaim(t, s, r, "fp", time.Minute, cache.Acquired); c.InDoubt {
		t.Fatal("claim of an expired abandoned record flagged in doubt")
	}
	wantSince(t, "Get after reclaiming an expired row", get(r).Since, fresh, clock.Now())
}
