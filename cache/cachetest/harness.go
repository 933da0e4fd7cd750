package cachetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/idemhttp/idemhttp/cache"
)

// Durations used by the suite. Short ones are what the store must honour;
// pollDeadline bounds how long the suite waits for an expiry to show.
const (
	longLease    = time.Minute
	longTTL      = time.Hour
	shortLease   = 50 * time.Millisecond
	shortTTL     = 100 * time.Millisecond
	pollInterval = 5 * time.Millisecond
	pollDeadline = 10 * time.Second
)

// Fingerprints of two different requests.
const (
	fpA = "fingerprint-A"
	fpB = "fingerprint-B"
)

// harness is one subtest's view of a store: a random key prefix and helpers
// that fail the test on unexpected errors.
type harness struct {
	t      *testing.T
	s      cache.Store
	ctx    context.Context
	prefix string
}

func newHarness(t *testing.T, s cache.Store) *harness {
	if s == nil {
		t.Fatal("newStore returned a nil store")
	}
	return &harness{
		t:      t,
		s:      s,
		ctx:    t.Context(),
		prefix: fmt.Sprintf("cachetest-%016x-", rand.Uint64()),
	}
}

// key returns the record key name under this subtest's prefix.
func (h *harness) key(name string) string { return h.prefix + name }

// claim calls Claim and fails the test on error.
func (h *harness) claim(key, fp string, lease time.Duration) cache.Claim {
	h.t.Helper()
	c, err := h.s.Claim(h.ctx, key, fp, lease)
	if err != nil {
		h.t.Fatalf("Claim(%q, %q, %v): %v", key, fp, lease, err)
	}
	return c
}

// acquire claims key and asserts it was Acquired with the given in-doubt flag.
func (h *harness) acquire(key, fp string, lease time.Duration, wantInDoubt bool) cache.Claim {
	h.t.Helper()
	c := h.claim(key, fp, lease)
	if c.Outcome != cache.Acquired {
		h.t.Fatalf("Claim(%q): outcome %v, want %v", key, c.Outcome, cache.Acquired)
	}
	if c.Token == 0 {
		h.t.Fatalf("Claim(%q): Acquired with a zero token", key)
	}
	if c.InDoubt != wantInDoubt {
		h.t.Fatalf("Claim(%q): InDoubt = %v, want %v", key, c.InDoubt, wantInDoubt)
	}
	return c
}

// wantOutcome claims key and asserts the outcome.
func (h *harness) wantOutcome(key, fp string, want cache.Outcome) cache.Claim {
	h.t.Helper()
	c := h.claim(key, fp, longLease)
	if c.Outcome != want {
		h.t.Fatalf("Claim(%q, %q): outcome %v, want %v", key, fp, c.Outcome, want)
	}
	return c
}

// wantReplay claims key and asserts it replays want.
func (h *harness) wantReplay(key string, want *cache.Entry) {
	h.t.Helper()
	c := h.wantOutcome(key, fpA, cache.Completed)
	if d := diffEntry(c.Entry, want); d != "" {
		h.t.Fatalf("Claim(%q) replayed a different entry: %s", key, d)
	}
}

// complete calls Complete and fails the test on error.
func (h *harness) complete(key string, token cache.Token, e *cache.Entry, ttl time.Duration) {
	h.t.Helper()
	if err := h.s.Complete(h.ctx, key, token, e, ttl); err != nil {
		h.t.Fatalf("Complete(%q): %v", key, err)
	}
}

// markInDoubt calls MarkInDoubt and fails the test on error.
func (h *harness) markInDoubt(key string, token cache.Token, ttl time.Duration) {
	h.t.Helper()
	if err := h.s.MarkInDoubt(h.ctx, key, token, ttl); err != nil {
		h.t.Fatalf("MarkInDoubt(%q): %v", key, err)
	}
}

// get calls Get and fails the test on error.
func (h *harness) get(key string) cache.Record {
	h.t.Helper()
	r, err := h.s.Get(h.ctx, key)
	if err != nil {
		h.t.Fatalf("Get(%q): %v", key, err)
	}
	return r
}

// wantState gets key and asserts its state and fingerprint.
func (h *harness) wantState(key string, want cache.State) cache.Record {
	h.t.Helper()
	r := h.get(key)
	if r.State != want {
		h.t.Fatalf("Get(%q): state %v, want %v", key, r.State, want)
	}
	if r.Fingerprint != fpA {
		h.t.Fatalf("Get(%q): fingerprint %q, want %q", key, r.Fingerprint, fpA)
	}
	if r.Key != key {
		h.t.Fatalf("Get(%q): Key = %q", key, r.Key)
	}
	return r
}

// wantAbsent asserts that Get reports ErrNotFound for key.
func (h *harness) wantAbsent(key string) {
	h.t.Helper()
	r, err := h.s.Get(h.ctx, key)
	if !errors.Is(err, cache.ErrNotFound) {
		h.t.Fatalf("Get(%q) = %v state, err %v; want ErrNotFound", key, r.State, err)
	}
}

// wantErr asserts errors.Is(err, target), naming the call in the failure.
func (h *harness) wantErr(call string, err, target error) {
	h.t.Helper()
	if !errors.Is(err, target) {
		h.t.Fatalf("%s: err = %v, want %v", call, err, target)
	}
}

// snapshot returns the record under key, or a zero Record when absent.
func (h *harness) snapshot(key string) cache.Record {
	h.t.Helper()
	r, err := h.s.Get(h.ctx, key)
	if errors.Is(err, cache.ErrNotFound) {
		return cache.Record{}
	}
	if err != nil {
		h.t.Fatalf("Get(%q): %v", key, err)
	}
	return r
}

// wantUnchanged asserts that the record under key still equals before.
func (h *harness) wantUnchanged(key string, before cache.Record, after string) {
	h.t.Helper()
	if d := diffRecord(h.snapshot(key), before); d != "" {
		h.t.Fatalf("record %q changed after %s: %s", key, after, d)
	}
}

// eventually polls cond until it holds, failing after pollDeadline.
func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(pollDeadline)
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("%s: not observed within %v", what, pollDeadline)
		}
		select {
		case <-tick.C:
		case <-h.ctx.Done():
			h.t.Fatalf("%s: %v", what, h.ctx.Err())
		}
	}
}

// waitPast blocks until the wall clock is strictly after t.
func (h *harness) waitPast(t time.Time) {
	h.t.Helper()
	h.eventually("clock passing "+t.Format(time.RFC3339Nano), func() bool {
		return time.Now().After(t)
	})
}

// acquireExpired claims key with a short lease and waits until that lease has
// passed, returning the claim. Nobody else has claimed the record.
func (h *harness) acquireExpired(key string) cache.Claim {
	h.t.Helper()
	c := h.acquire(key, fpA, shortLease, false)
	h.waitPast(time.Now().Add(shortLease))
	return c
}

// reclaimInDoubt polls Claim on key until it is Acquired (after an expired
// lease) and asserts the claim is flagged in doubt.
func (h *harness) reclaimInDoubt(key string) cache.Claim {
	h.t.Helper()
	var c cache.Claim
	h.eventually("Claim("+key+") acquiring after lease expiry", func() bool {
		c = h.claim(key, fpA, longLease)
		switch c.Outcome {
		case cache.Acquired:
			return true
		case cache.Busy:
			return false
		}
		h.t.Fatalf("Claim(%q) while waiting for lease expiry: outcome %v", key, c.Outcome)
		return false
	})
	if !c.InDoubt {
		h.t.Fatalf("Claim(%q) after lease expiry: InDoubt = false, want true", key)
	}
	if c.Token == 0 {
		h.t.Fatalf("Claim(%q) after lease expiry: zero token", key)
	}
	return c
}

// sampleEntry returns a typical recorded response. Tests that mutate it get
// their own copy.
func sampleEntry() *cache.Entry {
	return &cache.Entry{
		Status: http.StatusCreated,
		Header: http.Header{
			"Content-Type": {"application/json"},
			"Set-Cookie":   {"a=1; Path=/", "b=2; Path=/"},
			"Request-Id":   {"req_123"},
		},
		Body:     []byte(`{"id":"ch_1","amount":1000}`),
		StoredAt: storedAt(),
	}
}

// storedAt is a fixed time with millisecond precision, in UTC.
func storedAt() time.Time {
	return time.Date(2025, time.March, 4, 5, 6, 7, 890_000_000, time.UTC)
}

// diffEntry describes the first difference between got and want, or "".
func diffEntry(got, want *cache.Entry) string {
	switch {
	case got == nil && want == nil:
		return ""
	case got == nil:
		return "got nil entry"
	case want == nil:
		return "got an entry, want nil"
	case got.Status != want.Status:
		return fmt.Sprintf("Status %d, want %d", got.Status, want.Status)
	case got.BodyOmitted != want.BodyOmitted:
		return fmt.Sprintf("BodyOmitted %v, want %v", got.BodyOmitted, want.BodyOmitted)
	case !bytes.Equal(got.Body, want.Body):
		return fmt.Sprintf("Body differs (len %d, want %d)", len(got.Body), len(want.Body))
	case !got.StoredAt.Equal(want.StoredAt):
		return fmt.Sprintf("StoredAt %v, want %v", got.StoredAt, want.StoredAt)
	}
	return diffHeader(got.Header, want.Header)
}

// diffHeader describes the first difference between two headers; a nil and
// an empty header are equal.
func diffHeader(got, want http.Header) string {
	if len(got) != len(want) {
		return fmt.Sprintf("Header has %d keys %v, want %d %v", len(got), got, len(want), want)
	}
	for k, wv := range want {
		gv, ok := got[k]
		if !ok {
			return fmt.Sprintf("Header lacks %q", k)
		}
		if !slices.Equal(gv, wv) {
			return fmt.Sprintf("Header[%q] = %q, want %q", k, gv, wv)
		}
	}
	return ""
}

// diffRecord describes the first difference between two records, or "".
func diffRecord(got, want cache.Record) string {
	switch {
	case got.Key != want.Key:
		return fmt.Sprintf("Key %q, want %q", got.Key, want.Key)
	case got.State != want.State:
		return fmt.Sprintf("State %v, want %v", got.State, want.State)
	case got.Fingerprint != want.Fingerprint:
		return fmt.Sprintf("Fingerprint %q, want %q", got.Fingerprint, want.Fingerprint)
	case got.Token != want.Token:
		return fmt.Sprintf("Token %d, want %d", got.Token, want.Token)
	case !got.LeaseUntil.Equal(want.LeaseUntil):
		return fmt.Sprintf("LeaseUntil %v, want %v", got.LeaseUntil, want.LeaseUntil)
	case got.ClaimInDoubt != want.ClaimInDoubt:
		return fmt.Sprintf("ClaimInDoubt %v, want %v", got.ClaimInDoubt, want.ClaimInDoubt)
	case !got.ExpiresAt.Equal(want.ExpiresAt):
		return fmt.Sprintf("ExpiresAt %v, want %v", got.ExpiresAt, want.ExpiresAt)
	}
	if d := diffEntry(got.Entry, want.Entry); d != "" {
		return "Entry: " + d
	}
	return ""
}
