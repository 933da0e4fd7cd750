package redis

import (
	"testing"
	"time"

	"github.com/idemhttp/idemhttp/cache"
	"github.com/idemhttp/idemhttp/internal/redistest"
)

// TestReviewAbandonedClaimIsRememberedAfterItsLease: cache.DefaultAbandonedTTL
// is "how long stores remember a claim whose lease expired", so the next
// claim is flagged in doubt. The memory and SQLite stores keep an in-flight
// record until lease end + abandoned TTL; the Redis store sets its expiry to
// claim time + max(lease, abandoned TTL), so with an abandoned TTL not longer
// than the lease a crashed holder's claim vanishes the moment its lease ends
// and the next claim is a fresh one, not in doubt.
func TestReviewAbandonedClaimIsRememberedAfterItsLease(t *testing.T) {
	const lease, abandoned = 300 * time.Millisecond, 300 * time.Millisecond
	s := newTestStore(t, redistest.Start(t).Client(), WithAbandonedTTL(abandoned))
	ctx := t.Context()
	const k = "crashed"
	if _, err := s.Claim(ctx, k, "fp", lease); err != nil {
		t.Fatalf("Claim: %v", err)
	}
	rec, err := s.Get(ctx, k)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if want := rec.LeaseUntil.Add(abandoned); rec.ExpiresAt.Before(want) {
		t.Errorf("in-flight record expires at %v, before lease end + abandoned TTL %v", rec.ExpiresAt, want)
	}
	// The holder crashed. Poll until its lease has passed.
	var c cache.Claim
	eventually(t, "the crashed holder's lease ends", func() bool {
		c, err = s.Claim(ctx, k, "fp", time.Minute)
		if err != nil {
			t.Fatalf("Claim: %v", err)
		}
		return c.Outcome != cache.Busy
	})
	if c.Outcome != cache.Acquired || !c.InDoubt {
		t.Fatalf("claim after the holder crashed = %v in doubt %v, want acquired and flagged in doubt", c.Outcome, c.InDoubt)
	}
}
