package cachetest

import (
	"time"

	"github.com/idemhttp/idemhttp/cache"
)

func claimCases() []testCase {
	return []testCase{
		{"AbsentIsAcquired", testAbsentIsAcquired},
		{"HeldIsBusy", testHeldIsBusy},
		{"CompletedReplays", testCompletedReplays},
		{"KeysAreIndependent", testKeysAreIndependent},
		{"TokensDiffer", testTokensDiffer},
		{"MismatchOnInFlight", testMismatchOnInFlight},
		{"MismatchOnExpiredLease", testMismatchOnExpiredLease},
		{"MismatchOnCompleted", testMismatchOnCompleted},
		{"MismatchOnInDoubt", testMismatchOnInDoubt},
	}
}

// testAbsentIsAcquired: a first claim is acquired, not in doubt, and Get
// reports the in-flight record with its token and lease.
func testAbsentIsAcquired(h *harness) {
	k := h.key("k")
	before := time.Now()
	c := h.acquire(k, fpA, longLease, false)
	if c.Entry != nil {
		h.t.Errorf("Acquired claim carries an entry: %+v", c.Entry)
	}
	r := h.wantState(k, cache.InFlight)
	if r.Token != c.Token {
		h.t.Errorf("Get: Token %d, want the claim's %d", r.Token, c.Token)
	}
	if r.ClaimInDoubt {
		h.t.Error("Get: ClaimInDoubt on a first claim")
	}
	if !r.LeaseUntil.After(before) {
		h.t.Errorf("Get: LeaseUntil %v is not after the claim started (%v)", r.LeaseUntil, before)
	}
	if r.Entry != nil {
		h.t.Errorf("Get: in-flight record carries an entry: %+v", r.Entry)
	}
}

// testHeldIsBusy: a held record is Busy for everyone else until its lease ends.
func testHeldIsBusy(h *harness) {
	k := h.key("k")
	h.acquire(k, fpA, longLease, false)
	before := h.snapshot(k)
	c := h.wantOutcome(k, fpA, cache.Busy)
	now := time.Now()
	if !c.Until.After(now) {
		h.t.Errorf("Busy.Until = %v, want after now (%v)", c.Until, now)
	}
	if c.Until.After(now.Add(longLease + time.Minute)) {
		h.t.Errorf("Busy.Until = %v, far beyond the %v lease", c.Until, longLease)
	}
	h.wantUnchanged(k, before, "a Busy claim")
}

// testCompletedReplays: after Complete, every claim replays the entry.
func testCompletedReplays(h *harness) {
	k := h.key("k")
	c := h.acquire(k, fpA, longLease, false)
	want := sampleEntry()
	h.complete(k, c.Token, want, longTTL)
	h.wantReplay(k, want)
	h.wantReplay(k, want)
	r := h.wantState(k, cache.Done)
	if d := diffEntry(r.Entry, want); d != "" {
		h.t.Errorf("Get: entry differs: %s", d)
	}
	if !r.ExpiresAt.IsZero() && !r.ExpiresAt.After(time.Now()) {
		h.t.Errorf("Get: ExpiresAt %v already passed for a %v ttl", r.ExpiresAt, longTTL)
	}
}

// testKeysAreIndependent: what happens to one key does not touch another.
func testKeysAreIndependent(h *harness) {
	a, b := h.key("a"), h.key("b")
	ca := h.acquire(a, fpA, longLease, false)
	cb := h.acquire(b, fpB, longLease, false)
	h.complete(a, ca.Token, sampleEntry(), longTTL)
	h.wantOutcome(b, fpB, cache.Busy)
	if err := h.s.Release(h.ctx, b, cb.Token); err != nil {
		h.t.Fatalf("Release(b): %v", err)
	}
	h.wantReplay(a, sampleEntry())
	h.wantAbsent(b)
}

// testTokensDiffer: successive claims of one key get distinct tokens.
func testTokensDiffer(h *harness) {
	k := h.key("k")
	seen := map[cache.Token]bool{}
	for i := range 8 {
		c := h.acquire(k, fpA, longLease, false)
		if seen[c.Token] {
			h.t.Fatalf("claim %d reused token %d", i, c.Token)
		}
		seen[c.Token] = true
		if err := h.s.Release(h.ctx, k, c.Token); err != nil {
			h.t.Fatalf("Release: %v", err)
		}
	}
	first := h.acquire(k, fpA, shortLease, false)
	second := h.reclaimInDoubt(k)
	if first.Token == second.Token || seen[second.Token] {
		h.t.Fatalf("claim after lease expiry reused token %d", second.Token)
	}
}

// wantMismatch asserts that a claim with another fingerprint reports
// Mismatch and leaves the record exactly as it was.
func (h *harness) wantMismatch(k string) {
	h.t.Helper()
	before := h.snapshot(k)
	h.wantOutcome(k, fpB, cache.Mismatch)
	h.wantUnchanged(k, before, "a Mismatch claim")
}

func testMismatchOnInFlight(h *harness) {
	k := h.key("k")
	c := h.acquire(k, fpA, longLease, false)
	h.wantMismatch(k)
	h.complete(k, c.Token, sampleEntry(), longTTL) // the holder is not disturbed
	h.wantReplay(k, sampleEntry())
}

func testMismatchOnExpiredLease(h *harness) {
	k := h.key("k")
	h.acquireExpired(k)
	h.wantMismatch(k)
	h.reclaimInDoubt(k)
}

func testMismatchOnCompleted(h *harness) {
	k := h.key("k")
	c := h.acquire(k, fpA, longLease, false)
	h.complete(k, c.Token, sampleEntry(), longTTL)
	h.wantMismatch(k)
	h.wantReplay(k, sampleEntry())
}

func testMismatchOnInDoubt(h *harness) {
	k := h.key("k")
	c := h.acquire(k, fpA, longLease, false)
	h.markInDoubt(k, c.Token, longTTL)
	h.wantMismatch(k)
	h.acquire(k, fpA, longLease, true)
}
