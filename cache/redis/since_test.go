package redis

import (
	"testing"
	"time"

	"github.com/idemhttp/idemhttp/cache"
	"github.com/idemhttp/idemhttp/internal/redistest"
)

// TestSinceIsFirstClaimTime checks the first-claim time of a record: kept,
// to the millisecond, across a takeover of an expired lease and a re-claim
// of an in-doubt record; started afresh once a Release made the key absent.
func TestSinceIsFirstClaimTime(t *testing.T) {
	s := newTestStore(t, redistest.Start(t).Client())
	ctx := t.Context()
	const k = "since"

	if _, err := s.Claim(ctx, k, "fp", 50*time.Millisecond); err != nil {
		t.Fatalf("Claim: %v", err)
	}
	first := mustGet(t, s, k).Since
	if first.IsZero() || first.After(time.Now()) || !first.Equal(time.UnixMilli(first.UnixMilli())) {
		t.Fatalf("first claim: Since = %v, want a server time in ms, not after now", first)
	}

	c := takeOver(t, s, k)
	if !c.InDoubt || !c.Since.Equal(first) {
		t.Fatalf("takeover: InDoubt %v Since %v, want in doubt since %v", c.InDoubt, c.Since, first)
	}
	if got := mustGet(t, s, k).Since; !got.Equal(first) {
		t.Fatalf("Get after takeover: Since = %v, want %v", got, first)
	}

	if err := s.MarkInDoubt(ctx, k, c.Token, longTTL); err != nil {
		t.Fatalf("MarkInDoubt: %v", err)
	}
	if got := mustGet(t, s, k).Since; !got.Equal(first) {
		t.Fatalf("Get of the in-doubt record: Since = %v, want %v", got, first)
	}
	c = mustClaim(t, s, k, cache.Acquired)
	if !c.InDoubt || !c.Since.Equal(first) {
		t.Fatalf("claim of the in-doubt record: InDoubt %v Since %v, want in doubt since %v", c.InDoubt, c.Since, first)
	}

	if err := s.Release(ctx, k, c.Token); err != nil {
		t.Fatalf("Release: %v", err)
	}
	c = mustClaim(t, s, k, cache.Acquired)
	if c.InDoubt || !c.Since.IsZero() {
		t.Fatalf("claim after Release: InDoubt %v Since %v, want a fresh claim without Since", c.InDoubt, c.Since)
	}
	// The first lease had passed before the Release, so a fresh first-claim
	// time is later than the old one.
	if got := mustGet(t, s, k).Since; !got.After(first) {
		t.Fatalf("Get after a fresh claim: Since = %v, want after %v", got, first)
	}
}

// TestSinceOfRecordsWithoutIt checks that records written before the
// first-claim time was kept report a zero Since, and keep working.
func TestSinceOfRecordsWithoutIt(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestStore(t, srv.Client())
	ctx := t.Context()
	const k = "old"
	if err := srv.Client().HSet(ctx, s.recordKey(k), "s", stateInDoubt, "p", "fp", "x", "0").Err(); err != nil {
		t.Fatalf("HSET: %v", err)
	}
	if got := mustGet(t, s, k).Since; !got.IsZero() {
		t.Fatalf("Get: Since = %v, want zero", got)
	}
	c := mustClaim(t, s, k, cache.Acquired)
	if !c.InDoubt || !c.Since.IsZero() {
		t.Fatalf("claim: InDoubt %v Since %v, want in doubt with zero Since", c.InDoubt, c.Since)
	}
	if err := s.Complete(ctx, k, c.Token, testEntry(), longTTL); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	if r := mustGet(t, s, k); r.State != cache.Done || !r.Since.IsZero() {
		t.Fatalf("Get after Complete: %v Since %v, want completed with zero Since", r.State, r.Since)
	}
}

// takeOver polls Claim on key until the current holder's lease has passed.
func takeOver(t *testing.T, s *Store, key string) cache.Claim {
	t.Helper()
	var c cache.Claim
	eventually(t, "the lease of "+key+" ends", func() bool {
		var err error
		if c, err = s.Claim(t.Context(), key, "fp", longLease); err != nil {
			t.Fatalf("Claim: %v", err)
		}
		return c.Outcome != cache.Busy
	})
	if c.Outcome != cache.Acquired {
		t.Fatalf("Claim after the lease: outcome %v, want acquired", c.Outcome)
	}
	return c
}

// mustGet returns the record under key, failing the test on an error.
func mustGet(t *testing.T, s *Store, key string) cache.Record {
	t.Helper()
	r, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return r
}
