package sqlite

import (
	"context"
	"testing"
	"time"

	"github.com/idemhttp/idemhttp/cache"
	"github.com/idemhttp/idemhttp/internal/testclock"
)

// waitingForWriter runs call while the store's writer connection is taken,
// advances the clock by wait once call is queued for it (as a long wait for
// the write lock would), then frees the writer and returns once call has.
func waitingForWriter(t *testing.T, s *Store, clock *testclock.Clock, wait time.Duration, call func()) {
	t.Helper()
	ctx := context.Background()
	tx, err := s.writer.BeginTx(ctx, nil) // the only writer connection
	if err != nil {
		t.Fatal(err)
	}
	before := s.writer.Stats().WaitCount
	done := make(chan struct{})
	go func() { defer close(done); call() }()
	deadline := time.Now().Add(20 * time.Second)
	for s.writer.Stats().WaitCount == before {
		if time.Now().After(deadline) {
			t.Fatal("the call never queued for the writer")
		}
		time.Sleep(time.Millisecond) // poll the pool's counter
	}
	clock.Advance(wait)
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	<-done
}

// A lease starts once the write lock is held: a Claim that waited longer
// than its lease for the lock (another writer of this process, or another
// process's transaction) still holds a whole lease when it returns, and a
// second claimer finds it busy.
func TestClaimLeaseStartsAfterTheLockWait(t *testing.T) {
	s := openTest(t, WithSweepInterval(0))
	clock := testclock.New(time.Now())
	s.now = clock.Now
	const lease = 300 * time.Millisecond
	var c1 cache.Claim
	var err error
	waitingForWriter(t, s, clock, time.Minute, func() { c1, err = s.Claim(context.Background(), "k", "fp", lease) })
	if err != nil || c1.Outcome != cache.Acquired {
		t.Fatalf("first claim: %+v, %v", c1, err)
	}
	if left := mustClaim(t, s, "k", "fp", lease, cache.Busy).Until.Sub(clock.Now()); left < lease-time.Millisecond {
		t.Fatalf("lease left after the wait: %v, want %v", left, lease)
	}
}

// The same for Renew, which the transport calls right before a send to
// confirm its claim: a renewal that waited for the lock grants a whole lease
// from then, so no other claimer takes the key over under the sender.
func TestRenewLeaseStartsAfterTheLockWait(t *testing.T) {
	s := openTest(t, WithSweepInterval(0))
	clock := testclock.New(time.Now())
	s.now = clock.Now
	const lease = 300 * time.Millisecond
	c := mustClaim(t, s, "k", "fp", lease, cache.Acquired)
	var err error
	waitingForWriter(t, s, clock, time.Minute, func() { err = s.Renew(context.Background(), "k", c.Token, lease) })
	if err != nil {
		t.Fatalf("Renew: %v", err)
	}
	mustClaim(t, s, "k", "fp", lease, cache.Busy)
}
