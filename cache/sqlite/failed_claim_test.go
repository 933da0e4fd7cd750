package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/idemhttp/idemhttp/cache"
)

// TestFailedClaimLeavesNoOrphan: a Claim whose context ends
// while its upsert runs can commit the claim yet return the context's error.
// Nobody holds the token: the key is Busy for the lease, then the next claim
// is flagged in doubt for an operation that was never sent. (The Redis store
// releases such a claim in the background.)
func TestFailedClaimLeavesNoOrphan(t *testing.T) {
	s := openTest(t, WithSweepInterval(0))
	orphans, errs := 0, 0
	for i := range 1000 {
		key := fmt.Sprintf("k%d", i)
		ctx, cancel := context.WithCancel(context.Background())
		d := time.Duration(rand.IntN(400)) * time.Microsecond
		go func() { time.Sleep(d); cancel() }()
		_, err := s.Claim(ctx, key, "fp", time.Minute)
		cancel()
		if err == nil {
			continue
		}
		errs++
		if r, gerr := s.Get(context.Background(), key); gerr == nil && r.State == cache.InFlight {
			orphans++
			if orphans == 1 {
				c, _ := s.Claim(context.Background(), key, "fp", time.Minute)
				t.Logf("Claim returned %v, yet the row is held (token %d); a retry gets %v", err, r.Token, c.Outcome)
			}
		}
	}
	t.Logf("%d claims failed, %d of them left a held claim", errs, orphans)
	if orphans > 0 {
		t.Errorf("%d failed claims left an orphaned in-flight claim", orphans)
	}
}
