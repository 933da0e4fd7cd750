package redis

import (
	"fmt"
	"testing"
	"time"

	"github.com/idemhttp/idemhttp/cache"
	"github.com/idemhttp/idemhttp/internal/redistest"
)

// TestShortTTLSettleNeverLeavesPermanentRecord: a record completed for a
// TTL that has run out by the time the script sets it (1 ms: the clock read
// by TIME is floored to the ms, so its deadline is often already past when
// PEXPIREAT runs) is gone, as if it had expired; it must never come back as
// a record without fingerprint and without expiry, which Redis then keeps
// for ever and every claim of the key finds a mismatch.
//
// Whether a given call hits the window is luck (about 1 in 200 here); the
// loop makes a miss of the defect all but impossible, and asserts nothing
// about time.
func TestShortTTLSettleNeverLeavesPermanentRecord(t *testing.T) {
	srv := redistest.Start(t)
	raw := srv.Client()
	s := newTestStore(t, raw)
	ctx := t.Context()
	for i := range 3000 {
		key := fmt.Sprint("short-", i)
		c := mustClaim(t, s, key, cache.Acquired)
		if err := s.Complete(ctx, key, c.Token, testEntry(), time.Millisecond); err != nil {
			t.Fatalf("Complete: %v", err)
		}
		ttl, err := raw.PTTL(ctx, s.recordKey(key)).Result()
		if err != nil {
			t.Fatalf("PTTL: %v", err)
		}
		if ttl == -1 { // -2 (gone) or a deadline are both fine
			fields, _ := raw.HKeys(ctx, s.recordKey(key)).Result()
			t.Fatalf("call %d: record %s completed for 1ms is kept for ever, fields %q", i, key, fields)
		}
	}
}
