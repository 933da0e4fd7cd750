package cachetest

import (
	"fmt"

	"github.com/idemhttp/idemhttp/cache"
)

func fencingCases() []testCase {
	return []testCase{
		{"WrongTokenOnInFlight", testWrongTokenOnInFlight},
		{"AfterRelease", testFencedAfterRelease},
		{"AfterComplete", testFencedAfterComplete},
		{"AfterMarkInDoubt", testFencedAfterMarkInDoubt},
		{"AbsentKey", testFencedOnAbsentKey},
		{"ReleaseMakesAbsent", testReleaseMakesAbsent},
	}
}

// wantFenced asserts that Complete, Release, Renew and MarkInDoubt with token
// all fail with ErrFenced and leave the record under k unchanged.
func (h *harness) wantFenced(k string, token cache.Token) {
	h.t.Helper()
	before := h.snapshot(k)
	calls := []struct {
		name string
		call func() error
	}{
		{"Complete", func() error { return h.s.Complete(h.ctx, k, token, sampleEntry(), longTTL) }},
		{"Release", func() error { return h.s.Release(h.ctx, k, token) }},
		{"Renew", func() error { return h.s.Renew(h.ctx, k, token, longLease) }},
		{"MarkInDoubt", func() error { return h.s.MarkInDoubt(h.ctx, k, token, longTTL) }},
	}
	for _, c := range calls {
		name := fmt.Sprintf("%s(%q, token %d)", c.name, k, token)
		h.wantErr(name, c.call(), cache.ErrFenced)
		h.wantUnchanged(k, before, name)
	}
}

// testWrongTokenOnInFlight: a token the store did not issue for the current
// claim is fenced, and the real holder is undisturbed.
func testWrongTokenOnInFlight(h *harness) {
	k := h.key("k")
	c := h.acquire(k, fpA, longLease, false)
	h.wantFenced(k, c.Token+1)
	h.wantFenced(k, 0)
	h.complete(k, c.Token, sampleEntry(), longTTL)
	h.wantReplay(k, sampleEntry())
}

// testFencedAfterRelease: a released claim's token is dead, also after the
// key is claimed again.
func testFencedAfterRelease(h *harness) {
	k := h.key("k")
	c := h.acquire(k, fpA, longLease, false)
	if err := h.s.Release(h.ctx, k, c.Token); err != nil {
		h.t.Fatalf("Release: %v", err)
	}
	h.wantFenced(k, c.Token)
	h.wantAbsent(k)
	h.acquire(k, fpA, longLease, false)
	h.wantFenced(k, c.Token)
}

// testFencedAfterComplete: a completed record cannot be completed again,
// released, renewed or marked in doubt.
func testFencedAfterComplete(h *harness) {
	k := h.key("k")
	c := h.acquire(k, fpA, longLease, false)
	h.complete(k, c.Token, sampleEntry(), longTTL)
	h.wantFenced(k, c.Token)
	h.wantReplay(k, sampleEntry())
}

// testFencedAfterMarkInDoubt: marking in doubt ends the claim.
func testFencedAfterMarkInDoubt(h *harness) {
	k := h.key("k")
	c := h.acquire(k, fpA, longLease, false)
	h.markInDoubt(k, c.Token, longTTL)
	h.wantFenced(k, c.Token)
	h.wantState(k, cache.InDoubt)
}

// testFencedOnAbsentKey: nothing can be done with a token on a key that was
// never claimed, and the key stays absent.
func testFencedOnAbsentKey(h *harness) {
	k := h.key("never-claimed")
	h.wantFenced(k, 1)
	h.wantAbsent(k)
}

// testReleaseMakesAbsent: Release forgets the record; the next claim is a
// fresh one, not in doubt.
func testReleaseMakesAbsent(h *harness) {
	k := h.key("k")
	c := h.acquire(k, fpA, longLease, false)
	if err := h.s.Release(h.ctx, k, c.Token); err != nil {
		h.t.Fatalf("Release: %v", err)
	}
	h.wantAbsent(k)
	c2 := h.acquire(k, fpB, longLease, false) // a new request may use the key
	if c2.Token == c.Token {
		h.t.Fatalf("claim after Release reused token %d", c.Token)
	}
}
