package cache_test

import (
	"context"
	"testing"
	"time"

	"github.com/idemhttp/idemhttp/cache"
	"github.com/idemhttp/idemhttp/internal/testclock"
)

// TestReviewMemoryReclaimedInDoubtRecordKeepsItsTTL: an in-doubt record is
// kept for the ttl given to MarkInDoubt (or forever for ttl <= 0). When it is
// claimed again and that holder crashes too, the record must still be in
// doubt until that ttl ends: the operation may have taken effect. The SQLite
// and Redis stores keep the later of the two deadlines (MAX / later()); the
// memory store replaces it by lease+abandoned TTL, so the key becomes absent
// early and the next claim is a fresh one, not flagged in doubt.
func TestMemoryReclaimedInDoubtRecordKeepsItsTTL(t *testing.T) {
	for _, tc := range []struct {
		name string
		ttl  time.Duration // ttl of MarkInDoubt
	}{
		{"ttl 72h", 72 * time.Hour},
		{"ttl never", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			clock := testclock.New(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
			m := newMemStore(t, cache.WithClock(clock.Now), cache.WithAbandonedTTL(time.Hour))
			const k = "charge-1"

			if err := m.MarkInDoubt(ctx, k, m.acquire(k), tc.ttl); err != nil {
				t.Fatalf("MarkInDoubt: %v", err)
			}
			// Claimed again (flagged in doubt) by a holder that then crashes.
			if c := m.claim(k, time.Minute); c.Outcome != cache.Acquired || !c.InDoubt {
				t.Fatalf("claim of the in-doubt record = %+v, want acquired in doubt", c)
			}
			// Past that holder's lease and the abandoned TTL, but well within
			// the in-doubt ttl.
			clock.Advance(time.Minute + time.Hour + time.Second)

			c := m.claim(k, time.Minute)
			if c.Outcome != cache.Acquired || !c.InDoubt {
				t.Fatalf("claim after the re-claimer crashed = %+v, want acquired and flagged in doubt "+
					"(the in-doubt record was marked for %v)", c, tc.ttl)
			}
		})
	}
}
