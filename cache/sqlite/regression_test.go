package sqlite

import (
	"context"
	"testing"
	"time"

	"github.com/idemhttp/idemhttp/cache"
	"github.com/idemhttp/idemhttp/internal/testclock"
)

// TestReviewReclaimedInDoubtRecordKeepsItsTTL: an in-doubt record claimed
// again by a holder that crashes stays in doubt until the ttl given to
// MarkInDoubt, even past that holder's lease plus the abandoned TTL.
func TestReclaimedInDoubtRecordKeepsItsTTL(t *testing.T) {
	for _, ttl := range []time.Duration{72 * time.Hour, 0} {
		ctx := context.Background()
		s := openTest(t, WithSweepInterval(0), WithAbandonedTTL(time.Hour))
		clock := testclock.New(time.Now())
		s.now = clock.Now
		const k = "charge-1"
		c := mustClaim(t, s, k, "fp", time.Minute, cache.Acquired)
		if err := s.MarkInDoubt(ctx, k, c.Token, ttl); err != nil {
			t.Fatalf("MarkInDoubt: %v", err)
		}
		if c := mustClaim(t, s, k, "fp", time.Minute, cache.Acquired); !c.InDoubt {
			t.Fatalf("claim of the in-doubt record not flagged in doubt")
		}
		clock.Advance(time.Minute + time.Hour + time.Second)
		if _, err := s.Sweep(ctx); err != nil {
			t.Fatalf("Sweep: %v", err)
		}
		if c := mustClaim(t, s, k, "fp", time.Minute, cache.Acquired); !c.InDoubt {
			t.Errorf("ttl %v: claim after the re-claimer crashed is not flagged in doubt", ttl)
		}
	}
}
