package redis

import (
	"fmt"
	"testing"
	"time"

	"github.com/idemhttp/idemhttp/cache"
)

// TestLostTakeoverClaimStaysInDoubt: a Claim whose reply is lost after it
// took over an in-doubt record (an earlier attempt may have executed the
// operation) is undone to in doubt, not deleted: deleted, the next Claim
// would be Acquired not in doubt and the transport would send the
// operation afresh (a double for a provider that does not de-duplicate).
func TestLostTakeoverClaimStaysInDoubt(t *testing.T) {
	for _, pipelining := range []bool{true, false} {
		t.Run(fmt.Sprint("pipelining=", pipelining), func(t *testing.T) {
			l := newLossyRetrying(t, -1, WithPipelining(pipelining))
			ctx := t.Context()
			first := mustClaim(t, l.s, "op", cache.Acquired)
			if err := l.s.MarkInDoubt(ctx, "op", first.Token, longTTL); err != nil {
				t.Fatal(err)
			}
			l.armed.Store(true)
			if _, err := l.s.Claim(ctx, "op", "fp", time.Minute); err == nil {
				t.Fatal("setup: Claim with its reply lost succeeded")
			}
			if l.armed.Load() {
				t.Fatal("setup: no reply was lost")
			}
			// Let the background release run (Close waits for it), then
			// claim again through a fresh store on the same server.
			if err := l.s.Close(); err != nil {
				t.Fatal(err)
			}
			s2 := newTestStore(t, l.raw, WithPrefix(l.s.cfg.prefix))
			c, err := s2.Claim(ctx, "op", "fp", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if c.Outcome != cache.Acquired || !c.InDoubt {
				f, _ := l.fields(t, "op")
				t.Fatalf("claim after the lost takeover of an in-doubt record = %v, in doubt %v; want acquired in doubt (the earlier attempt may have run). record before: %v", c.Outcome, c.InDoubt, f)
			}
		})
	}
}
