package cachetest

import (
	"time"

	"github.com/idemhttp/idemhttp/cache"
)

func leaseCases() []testCase {
	return []testCase{
		{"ExpiredIsReclaimedInDoubt", testExpiredIsReclaimedInDoubt},
		{"ExpiredButNotReclaimedIsStillHeld", testExpiredButNotReclaimedIsStillHeld},
		{"RenewExtends", testRenewExtends},
		{"RenewAfterExpiryBeforeReclaim", testRenewAfterExpiryBeforeReclaim},
		{"RenewWrongTokenFenced", testRenewWrongTokenFenced},
		{"SinceKeptAcrossTakeovers", testSinceKeptAcrossTakeovers},
	}
}

// testSinceKeptAcrossTakeovers: an in-doubt claim reports when the record
// was first claimed, through a takeover, MarkInDoubt and Complete, so a
// caller can tell whether a provider still remembers the key.
func testSinceKeptAcrossTakeovers(h *harness) {
	k := h.key("since")
	before := time.Now().Add(-time.Second) // a store's clock (Redis's) may lag a little
	h.acquireExpired(k)
	c := h.reclaimInDoubt(k)
	if c.Since.IsZero() || c.Since.Before(before) || c.Since.After(time.Now().Add(time.Second)) {
		h.t.Fatalf("in-doubt claim: Since = %v, want the first claim's time (after %v)", c.Since, before)
	}
	if r := h.get(k); !r.Since.Equal(c.Since) {
		h.t.Fatalf("Get: Since = %v, want %v", r.Since, c.Since)
	}
	h.markInDoubt(k, c.Token, longTTL)
	again := h.acquire(k, fpA, longLease, true)
	if !again.Since.Equal(c.Since) {
		h.t.Fatalf("claim of the in-doubt record: Since = %v, want %v (kept)", again.Since, c.Since)
	}
	h.complete(k, again.Token, sampleEntry(), longTTL)
	if r := h.get(k); !r.Since.Equal(c.Since) {
		h.t.Fatalf("Get after Complete: Since = %v, want %v", r.Since, c.Since)
	}
}

// testExpiredIsReclaimedInDoubt: once a lease passes, the next claim is
// acquired and flagged in doubt; the old holder is fenced and the new one can
// complete.
func testExpiredIsReclaimedInDoubt(h *harness) {
	k := h.key("k")
	old := h.acquire(k, fpA, shortLease, false)
	c := h.reclaimInDoubt(k)
	if c.Token == old.Token {
		h.t.Fatalf("reclaim reused token %d", c.Token)
	}
	r := h.wantState(k, cache.InFlight)
	if r.Token != c.Token || !r.ClaimInDoubt {
		h.t.Fatalf("Get after reclaim: Token %d ClaimInDoubt %v, want %d true", r.Token, r.ClaimInDoubt, c.Token)
	}
	h.wantFenced(k, old.Token)
	h.complete(k, c.Token, sampleEntry(), longTTL)
	h.wantReplay(k, sampleEntry())
}

// testExpiredButNotReclaimedIsStillHeld: a holder whose lease passed but
// whom nobody replaced still holds the claim and may complete it.
func testExpiredButNotReclaimedIsStillHeld(h *harness) {
	k := h.key("k")
	c := h.acquireExpired(k)
	r := h.wantState(k, cache.InFlight)
	if r.Token != c.Token {
		h.t.Fatalf("Get: Token %d, want %d", r.Token, c.Token)
	}
	if !r.LeaseUntil.Before(time.Now()) {
		h.t.Fatalf("Get: LeaseUntil %v not in the past after the lease passed", r.LeaseUntil)
	}
	h.complete(k, c.Token, sampleEntry(), longTTL)
	h.wantReplay(k, sampleEntry())
}

// testRenewExtends: after Renew, the record stays Busy past the original
// lease end.
func testRenewExtends(h *harness) {
	const lease = 200 * time.Millisecond
	k := h.key("k")
	c := h.acquire(k, fpA, lease, false)
	originalEnd := time.Now().Add(lease)
	if err := h.s.Renew(h.ctx, k, c.Token, 10*time.Second); err != nil {
		h.t.Fatalf("Renew: %v", err)
	}
	h.waitPast(originalEnd)
	b := h.wantOutcome(k, fpA, cache.Busy)
	if !b.Until.After(originalEnd) {
		h.t.Errorf("Busy.Until %v not after the original lease end %v", b.Until, originalEnd)
	}
	if r := h.get(k); !r.LeaseUntil.After(originalEnd) || r.ClaimInDoubt {
		h.t.Errorf("Get after Renew: LeaseUntil %v ClaimInDoubt %v", r.LeaseUntil, r.ClaimInDoubt)
	}
	h.complete(k, c.Token, sampleEntry(), longTTL)
	h.wantReplay(k, sampleEntry())
}

// testRenewAfterExpiryBeforeReclaim: a holder whose lease passed unnoticed
// may still renew it, and then it is Busy again for others.
func testRenewAfterExpiryBeforeReclaim(h *harness) {
	k := h.key("k")
	c := h.acquireExpired(k)
	if err := h.s.Renew(h.ctx, k, c.Token, longLease); err != nil {
		h.t.Fatalf("Renew after the lease passed: %v", err)
	}
	h.wantOutcome(k, fpA, cache.Busy)
}

// testRenewWrongTokenFenced: Renew with a token that is not the holder's
// fails with ErrFenced and changes nothing.
func testRenewWrongTokenFenced(h *harness) {
	k := h.key("k")
	c := h.acquire(k, fpA, longLease, false)
	before := h.snapshot(k)
	h.wantErr("Renew(wrong token)", h.s.Renew(h.ctx, k, c.Token+1, 10*longLease), cache.ErrFenced)
	h.wantUnchanged(k, before, "Renew with a wrong token")
}
