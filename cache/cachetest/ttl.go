package cachetest

import (
	"errors"

	"github.com/idemhttp/idemhttp/cache"
)

func ttlCases() []testCase {
	return []testCase{
		{"CompletedExpires", testCompletedExpires},
		{"InDoubtExpires", testInDoubtExpires},
		{"ResolvedExpires", testResolvedExpires},
	}
}

// testCompletedExpires: after its ttl a completed record is forgotten: the
// next claim is a fresh one, not in doubt.
func testCompletedExpires(h *harness) {
	k := h.key("k")
	c := h.acquire(k, fpA, longLease, false)
	h.complete(k, c.Token, sampleEntry(), shortTTL)
	var got cache.Claim
	h.eventually("completed record expiring", func() bool {
		got = h.claim(k, fpA, longLease)
		switch got.Outcome {
		case cache.Acquired:
			return true
		case cache.Completed:
			return false
		}
		h.t.Fatalf("Claim while waiting for expiry: outcome %v", got.Outcome)
		return false
	})
	if got.InDoubt {
		h.t.Fatal("claim after a completed record expired is flagged in doubt")
	}
}

// testInDoubtExpires: after its ttl an in-doubt record is forgotten.
func testInDoubtExpires(h *harness) {
	k := h.key("k")
	c := h.acquire(k, fpA, longLease, false)
	h.markInDoubt(k, c.Token, shortTTL)
	h.wantAbsentEventually(k)
	h.acquire(k, fpA, longLease, false)
}

// testResolvedExpires: an entry recorded by Resolve expires with its ttl.
func testResolvedExpires(h *harness) {
	k := h.key("k")
	h.inDoubtRecord(k)
	if err := h.s.Resolve(h.ctx, k, sampleEntry(), shortTTL); err != nil {
		h.t.Fatalf("Resolve: %v", err)
	}
	h.wantAbsentEventually(k)
}

// wantAbsentEventually polls Get until the record under k is gone.
func (h *harness) wantAbsentEventually(k string) {
	h.t.Helper()
	h.eventually("record "+k+" expiring", func() bool {
		_, err := h.s.Get(h.ctx, k)
		if err != nil && !errors.Is(err, cache.ErrNotFound) {
			h.t.Fatalf("Get(%q): %v", k, err)
		}
		return errors.Is(err, cache.ErrNotFound)
	})
}
