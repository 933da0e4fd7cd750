package cachetest

import (
	"github.com/idemhttp/idemhttp/cache"
)

func inDoubtCases() []testCase {
	return []testCase{
		{"MarkInDoubtThenClaim", testMarkInDoubtThenClaim},
		{"ResolveWithEntryCompletes", testResolveWithEntryCompletes},
		{"ResolveNilMakesAbsent", testResolveNilMakesAbsent},
		{"ResolveExpiredLease", testResolveExpiredLease},
		{"ResolveExpiredLeaseNil", testResolveExpiredLeaseNil},
		{"ResolveCompletedNotInDoubt", testResolveCompletedNotInDoubt},
		{"ResolveHeldNotInDoubt", testResolveHeldNotInDoubt},
		{"ResolveMissingNotFound", testResolveMissingNotFound},
	}
}

// inDoubtRecord creates an in-doubt record under k and returns the token of
// the claim that was marked.
func (h *harness) inDoubtRecord(k string) cache.Token {
	h.t.Helper()
	c := h.acquire(k, fpA, longLease, false)
	h.markInDoubt(k, c.Token, longTTL)
	return c.Token
}

// resolve calls Resolve and fails the test on error.
func (h *harness) resolve(k string, e *cache.Entry) {
	h.t.Helper()
	if err := h.s.Resolve(h.ctx, k, e, longTTL); err != nil {
		h.t.Fatalf("Resolve(%q): %v", k, err)
	}
}

// testMarkInDoubtThenClaim: an in-doubt record is reported as such, and the
// next claim is acquired and flagged in doubt.
func testMarkInDoubtThenClaim(h *harness) {
	k := h.key("k")
	old := h.inDoubtRecord(k)
	if r := h.wantState(k, cache.InDoubt); r.Entry != nil {
		h.t.Fatalf("Get: in-doubt record carries an entry: %+v", r.Entry)
	}
	c := h.acquire(k, fpA, longLease, true)
	if c.Token == old {
		h.t.Fatalf("claim of an in-doubt record reused token %d", old)
	}
	r := h.wantState(k, cache.InFlight)
	if !r.ClaimInDoubt || r.Token != c.Token {
		h.t.Fatalf("Get: ClaimInDoubt %v Token %d, want true %d", r.ClaimInDoubt, r.Token, c.Token)
	}
	h.wantOutcome(k, fpA, cache.Busy)
	h.complete(k, c.Token, sampleEntry(), longTTL)
	h.wantReplay(k, sampleEntry())
}

func testResolveWithEntryCompletes(h *harness) {
	k := h.key("k")
	h.inDoubtRecord(k)
	h.resolve(k, sampleEntry())
	if r := h.wantState(k, cache.Done); diffEntry(r.Entry, sampleEntry()) != "" {
		h.t.Fatalf("Get after Resolve: %s", diffEntry(r.Entry, sampleEntry()))
	}
	h.wantReplay(k, sampleEntry())
}

func testResolveNilMakesAbsent(h *harness) {
	k := h.key("k")
	h.inDoubtRecord(k)
	h.resolve(k, nil)
	h.wantAbsent(k)
	h.acquire(k, fpA, longLease, false)
}

// testResolveExpiredLease: an in-flight record whose lease passed can be
// resolved, and resolving fences its holder.
func testResolveExpiredLease(h *harness) {
	k := h.key("k")
	c := h.acquireExpired(k)
	h.resolve(k, sampleEntry())
	h.wantFenced(k, c.Token)
	h.wantReplay(k, sampleEntry())
}

func testResolveExpiredLeaseNil(h *harness) {
	k := h.key("k")
	c := h.acquireExpired(k)
	h.resolve(k, nil)
	h.wantAbsent(k)
	h.wantFenced(k, c.Token)
	h.acquire(k, fpA, longLease, false)
}

func testResolveCompletedNotInDoubt(h *harness) {
	k := h.key("k")
	c := h.acquire(k, fpA, longLease, false)
	h.complete(k, c.Token, sampleEntry(), longTTL)
	h.wantResolveRefused(k, cache.ErrNotInDoubt)
	h.wantReplay(k, sampleEntry())
}

// testResolveHeldNotInDoubt: a claim whose lease has not passed cannot be
// resolved, whether it is a first claim or the claim of an in-doubt record.
func testResolveHeldNotInDoubt(h *harness) {
	first := h.key("first")
	h.acquire(first, fpA, longLease, false)
	h.wantResolveRefused(first, cache.ErrNotInDoubt)

	again := h.key("again")
	h.inDoubtRecord(again)
	h.acquire(again, fpA, longLease, true)
	h.wantResolveRefused(again, cache.ErrNotInDoubt)
}

func testResolveMissingNotFound(h *harness) {
	k := h.key("missing")
	h.wantResolveRefused(k, cache.ErrNotFound)
	h.wantAbsent(k)
}

// wantResolveRefused asserts that Resolve with an entry and with nil both
// fail with target and leave the record unchanged.
func (h *harness) wantResolveRefused(k string, target error) {
	h.t.Helper()
	before := h.snapshot(k)
	for _, e := range []*cache.Entry{sampleEntry(), nil} {
		h.wantErr("Resolve("+k+")", h.s.Resolve(h.ctx, k, e, longTTL), target)
		h.wantUnchanged(k, before, "a refused Resolve")
	}
}
