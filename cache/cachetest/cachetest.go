// Package cachetest is the conformance suite for cache.Store implementations.
//
// Every store shipped with idemhttp runs it, and a user's own store should too:
//
//	func TestConformance(t *testing.T) {
//		cachetest.Run(t, func(t *testing.T) cache.Store {
//			return mystore.Open(t.TempDir())
//		})
//	}
//
// The suite checks the state machine documented in package cache: claims and
// their outcomes, fingerprint mismatches, fencing tokens, lease expiry and
// renewal, in-doubt records and their resolution, TTLs, deletion, entries kept
// byte for byte, concurrent claims, and cancelled contexts.
//
// Lease and TTL expiry are checked with short durations (tens to hundreds of
// milliseconds) and polled with a generous deadline, so the suite is robust on
// slow machines but takes a few seconds. Each subtest uses its own random key
// prefix, so newStore may hand out stores that share one backend.
//
// Beyond the package cache doc, the suite pins down these details:
//   - a holder whose lease passed keeps its claim (Renew, Complete, Release,
//     MarkInDoubt succeed) until another Claim takes the record over;
//   - Complete, Release, Renew and MarkInDoubt on an absent key, a completed
//     or in-doubt record, or with a token that is not the current one, fail
//     with ErrFenced and change nothing;
//   - Resolve of an in-flight record whose lease has not passed fails with
//     ErrNotInDoubt; Resolve fences the holder of an expired lease;
//   - a key whose record expired or was deleted is absent: its next claim is
//     not flagged in doubt;
//   - entries are compared field by field (a nil and an empty header or body
//     are equal) and StoredAt must keep at least millisecond precision;
//   - a call with a cancelled context returns an error and changes nothing.
package cachetest

import (
	"testing"

	"github.com/idemhttp/idemhttp/cache"
)

// Run runs the conformance suite against stores made by newStore. newStore
// must return a fresh, empty store (or one whose existing keys cannot collide
// with the suite's random prefixes); Run may call it several times, once per
// subtest. newStore should register any cleanup with t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) cache.Store) {
	t.Helper()
	for _, group := range suite() {
		t.Run(group.name, func(t *testing.T) {
			for _, c := range group.cases {
				t.Run(c.name, func(t *testing.T) {
					c.run(newHarness(t, newStore(t)))
				})
			}
		})
	}
}

// testCase is one subtest of the suite.
type testCase struct {
	name string
	run  func(h *harness)
}

// testGroup is a named group of subtests covering one part of the contract.
type testGroup struct {
	name  string
	cases []testCase
}

// suite lists every subtest. Names are stable: stores may refer to them with
// go test -run.
func suite() []testGroup {
	return []testGroup{
		{"Claim", claimCases()},
		{"Concurrency", concurrencyCases()},
		{"Fencing", fencingCases()},
		{"Lease", leaseCases()},
		{"InDoubt", inDoubtCases()},
		{"TTL", ttlCases()},
		{"Delete", deleteCases()},
		{"Entry", entryCases()},
		{"Context", contextCases()},
	}
}
