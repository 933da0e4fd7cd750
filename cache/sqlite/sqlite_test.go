package sqlite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/idemhttp/idemhttp/cache"
	"github.com/idemhttp/idemhttp/cache/cachetest"
)

func TestConformance(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) cache.Store {
		return openTest(t)
	})
}

// TestConformanceSharedFile runs the suite with every subtest on one file
// through its own Store, as separate processes would share it.
func TestConformanceSharedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	cachetest.Run(t, func(t *testing.T) cache.Store {
		return openAt(t, path)
	})
}

func TestStoreImplementsCacheStore(t *testing.T) {
	var s cache.Store = openTest(t)
	if _, ok := s.(*Store); !ok {
		t.Fatal("not a *Store")
	}
}

func testEntry(body string) *cache.Entry {
	return &cache.Entry{
		Status:   http.StatusCreated,
		Header:   http.Header{"Content-Type": {"application/json"}, "Request-Id": {"req_" + body}},
		Body:     []byte(body),
		StoredAt: time.Date(2025, 1, 2, 3, 4, 5, 123456789, time.UTC),
	}
}

// TestRecordsSurviveReopen: every state of record is still there, with its
// entry, token and flags, after the store is closed and opened again.
func TestRecordsSurviveReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "idem.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	done := mustClaim(t, s, "done", "fp", longLease, cache.Acquired)
	mustComplete(t, s, "done", done.Token, testEntry("paid"), longTTL)
	held := mustClaim(t, s, "held", "fp", longLease, cache.Acquired)
	doubt := mustClaim(t, s, "doubt", "fp", longLease, cache.Acquired)
	if err := s.MarkInDoubt(ctx, "doubt", doubt.Token, longTTL); err != nil {
		t.Fatal(err)
	}
	before := map[string]cache.Record{}
	for _, k := range []string{"done", "held", "doubt"} {
		if before[k], err = s.Get(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = openAt(t, path)
	for k, want := range before {
		got, err := s.Get(ctx, k)
		if err != nil {
			t.Fatalf("Get(%q) after reopen: %v", k, err)
		}
		if got.State != want.State || got.Token != want.Token || !got.LeaseUntil.Equal(want.LeaseUntil) ||
			!got.ExpiresAt.Equal(want.ExpiresAt) || got.Fingerprint != want.Fingerprint {
			t.Errorf("Get(%q) after reopen = %+v, want %+v", k, got, want)
		}
	}
	replay := mustClaim(t, s, "done", "fp", longLease, cache.Completed)
	if want := testEntry("paid"); replay.Entry.Status != want.Status || !bytes.Equal(replay.Entry.Body, want.Body) ||
		!replay.Entry.StoredAt.Equal(want.StoredAt) || replay.Entry.Header.Get("Request-Id") != "req_paid" {
		t.Errorf("replay after reopen = %+v, want %+v", replay.Entry, want)
	}
	mustClaim(t, s, "held", "fp", longLease, cache.Busy)
	mustComplete(t, s, "held", held.Token, testEntry("late"), longTTL) // the holder's token still works
	if c := mustClaim(t, s, "doubt", "fp", longLease, cache.Acquired); !c.InDoubt {
		t.Error("in-doubt record reclaimed after reopen without InDoubt")
	}
}

// TestExpiredIsAbsentBeforeSweep: with the background sweep off, a record
// past its TTL is absent to Get and Claim although its row is still in the
// file; Sweep then deletes it.
func TestExpiredIsAbsentBeforeSweep(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, WithSweepInterval(0))
	db := rawDB(t, s.Path())
	c := mustClaim(t, s, "k", "fp", longLease, cache.Acquired)
	mustComplete(t, s, "k", c.Token, testEntry("x"), shortTTL)
	wantAbsentEventually(t, s, "k")
	if n := rowCount(t, db, "k"); n != 1 {
		t.Fatalf("expired row count %d before any sweep, want 1 (still in the file)", n)
	}
	if n, err := s.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1, nil", n, err)
	}
	if n := rowCount(t, db, "k"); n != 0 {
		t.Fatalf("row count %d after Sweep, want 0", n)
	}
	if c := mustClaim(t, s, "k", "other-fp", longLease, cache.Acquired); c.InDoubt {
		t.Error("claim of an expired key flagged in doubt")
	}
}

// TestExpiredRowIsReclaimedInPlace: a claim of a key whose expired row is
// still in the file takes it over as a fresh claim, not in doubt.
func TestExpiredRowIsReclaimedInPlace(t *testing.T) {
	s := openTest(t, WithSweepInterval(0))
	c := mustClaim(t, s, "k", "fp", longLease, cache.Acquired)
	if err := s.MarkInDoubt(context.Background(), "k", c.Token, shortTTL); err != nil {
		t.Fatal(err)
	}
	wantAbsentEventually(t, s, "k")
	if c := mustClaim(t, s, "k", "new-fp", longLease, cache.Acquired); c.InDoubt {
		t.Error("claim over an expired in-doubt row flagged in doubt")
	}
}

// TestAbandonedClaimIsForgotten: a claim whose lease passed is remembered
// for the abandoned TTL only; then the key is absent and a claim is fresh.
func TestAbandonedClaimIsForgotten(t *testing.T) {
	s := openTest(t, WithSweepInterval(0), WithAbandonedTTL(shortTTL))
	mustClaim(t, s, "k", "fp", 20*time.Millisecond, cache.Acquired)
	wantAbsentEventually(t, s, "k")
	if c := mustClaim(t, s, "k", "fp", longLease, cache.Acquired); c.InDoubt {
		t.Error("claim after the abandoned TTL flagged in doubt")
	}
}

// TestInDoubtReclaimKeepsLongerExpiry: re-claiming an in-doubt record does
// not shorten how long it is remembered.
func TestInDoubtReclaimKeepsLongerExpiry(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, WithAbandonedTTL(time.Minute))
	c := mustClaim(t, s, "k", "fp", longLease, cache.Acquired)
	if err := s.MarkInDoubt(ctx, "k", c.Token, 48*time.Hour); err != nil {
		t.Fatal(err)
	}
	doubt, err := s.Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	mustClaim(t, s, "k", "fp", time.Second, cache.Acquired)
	again, err := s.Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if !again.ExpiresAt.Equal(doubt.ExpiresAt) {
		t.Errorf("ExpiresAt after reclaim %v, want the in-doubt record's %v", again.ExpiresAt, doubt.ExpiresAt)
	}
}

// TestSweepDeletesInBatches: Sweep deletes every expired row, more than one
// batch of them, and nothing else.
func TestSweepDeletesInBatches(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, WithSweepInterval(0))
	const expiring = 2*sweepBatch + 3
	for i := range expiring {
		k := fmt.Sprintf("old-%04d", i)
		c := mustClaim(t, s, k, "fp", longLease, cache.Acquired)
		mustComplete(t, s, k, c.Token, testEntry(k), shortTTL)
	}
	for i := range 5 {
		k := fmt.Sprintf("live-%d", i)
		c := mustClaim(t, s, k, "fp", longLease, cache.Acquired)
		mustComplete(t, s, k, c.Token, testEntry(k), longTTL)
	}
	wantAbsentEventually(t, s, fmt.Sprintf("old-%04d", expiring-1))
	n, err := s.Sweep(ctx)
	if err != nil || n != expiring {
		t.Fatalf("Sweep = %d, %v; want %d, nil", n, err, expiring)
	}
	db := rawDB(t, s.Path())
	if got := rowCount(t, db, "%"); got != 5 {
		t.Fatalf("%d rows left after Sweep, want the 5 live ones", got)
	}
	if n, err := s.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("second Sweep = %d, %v; want 0, nil", n, err)
	}
}

// TestBackgroundSweep: the background sweep deletes expired rows by itself.
func TestBackgroundSweep(t *testing.T) {
	s := openTest(t, WithSweepInterval(10*time.Millisecond))
	db := rawDB(t, s.Path())
	for i := range 10 {
		k := fmt.Sprintf("k%d", i)
		c := mustClaim(t, s, k, "fp", longLease, cache.Acquired)
		mustComplete(t, s, k, c.Token, testEntry(k), shortTTL)
	}
	eventually(t, "background sweep deleting expired rows", func() bool {
		return rowCount(t, db, "%") == 0
	})
}

// TestEntryTooLarge: an entry over the bound is refused, the claim stays
// held and a smaller entry can still be recorded.
func TestEntryTooLarge(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, WithMaxEntryBytes(1000))
	c := mustClaim(t, s, "k", "fp", longLease, cache.Acquired)
	big := testEntry(string(make([]byte, 2000)))
	if err := s.Complete(ctx, "k", c.Token, big, longTTL); !errors.Is(err, cache.ErrEntryTooLarge) {
		t.Fatalf("Complete(big) = %v, want ErrEntryTooLarge", err)
	}
	r, err := s.Get(ctx, "k")
	if err != nil || r.State != cache.InFlight || r.Token != c.Token {
		t.Fatalf("Get after a refused Complete = %+v, %v; want in flight with token %d", r, err, c.Token)
	}
	if err := s.MarkInDoubt(ctx, "k", c.Token, longTTL); err != nil {
		t.Fatal(err)
	}
	if err := s.Resolve(ctx, "k", big, longTTL); !errors.Is(err, cache.ErrEntryTooLarge) {
		t.Fatalf("Resolve(big) = %v, want ErrEntryTooLarge", err)
	}
	if err := s.Resolve(ctx, "k", testEntry("small"), longTTL); err != nil {
		t.Fatalf("Resolve(small): %v", err)
	}
	mustClaim(t, s, "k", "fp", longLease, cache.Completed)
}

// TestZeroStoredAtIsSet: an entry without StoredAt is stamped with the time
// of Complete.
func TestZeroStoredAtIsSet(t *testing.T) {
	s := openTest(t)
	before := time.Now()
	c := mustClaim(t, s, "k", "fp", longLease, cache.Acquired)
	mustComplete(t, s, "k", c.Token, &cache.Entry{Status: 204}, longTTL)
	got := mustClaim(t, s, "k", "fp", longLease, cache.Completed).Entry
	if got.StoredAt.Before(before) || got.StoredAt.After(time.Now()) {
		t.Errorf("StoredAt %v not within the Complete call (from %v)", got.StoredAt, before)
	}
	if got.Header != nil || len(got.Body) != 0 {
		t.Errorf("entry without header and body came back as %+v", got)
	}
}

// TestTokensArePositive63Bit: tokens are non-zero and fit a signed 64-bit
// INTEGER, and differ between claims.
func TestTokensArePositive63Bit(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	seen := map[cache.Token]bool{}
	for i := range 100 {
		c := mustClaim(t, s, "k", "fp", longLease, cache.Acquired)
		if c.Token == 0 || c.Token > 1<<63-1 || seen[c.Token] {
			t.Fatalf("claim %d: token %d zero, over 63 bits or repeated", i, c.Token)
		}
		seen[c.Token] = true
		if err := s.Release(ctx, "k", c.Token); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFencedErrorsOnAbsentKey: a token operation on a key with no record
// reports both ErrFenced and ErrNotFound; on another claim, only ErrFenced.
func TestFencedErrorsOnAbsentKey(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	err := s.Complete(ctx, "none", 42, testEntry("x"), longTTL)
	if !errors.Is(err, cache.ErrFenced) || !errors.Is(err, cache.ErrNotFound) {
		t.Errorf("Complete on an absent key = %v, want ErrFenced and ErrNotFound", err)
	}
	c := mustClaim(t, s, "k", "fp", longLease, cache.Acquired)
	err = s.Release(ctx, "k", c.Token+1)
	if !errors.Is(err, cache.ErrFenced) || errors.Is(err, cache.ErrNotFound) {
		t.Errorf("Release with a wrong token = %v, want ErrFenced only", err)
	}
}

// TestInvalidArguments: a non-positive lease, a nil entry and bad options
// are refused without touching anything.
func TestInvalidArguments(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	if _, err := s.Claim(ctx, "k", "fp", 0); err == nil {
		t.Error("Claim with a zero lease: nil error")
	}
	if _, err := s.Get(ctx, "k"); !errors.Is(err, cache.ErrNotFound) {
		t.Errorf("Get after a refused Claim = %v, want ErrNotFound", err)
	}
	c := mustClaim(t, s, "k", "fp", longLease, cache.Acquired)
	if err := s.Renew(ctx, "k", c.Token, -time.Second); err == nil {
		t.Error("Renew with a negative lease: nil error")
	}
	if err := s.Complete(ctx, "k", c.Token, nil, longTTL); err == nil {
		t.Error("Complete with a nil entry: nil error")
	}
	if err := s.Complete(ctx, "k", c.Token, &cache.Entry{Status: 200, StoredAt: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}, longTTL); err == nil {
		t.Error("Complete with a StoredAt beyond 2262: nil error")
	}
	if r, err := s.Get(ctx, "k"); err != nil || r.State != cache.InFlight {
		t.Errorf("Get after refused calls = %+v, %v; want in flight", r, err)
	}
	dir := t.TempDir()
	for name, opt := range map[string]Option{
		"abandoned TTL": WithAbandonedTTL(-1),
		"busy timeout":  WithBusyTimeout(-1),
		"sweep":         WithSweepInterval(-1),
		"max entry":     WithMaxEntryBytes(0),
	} {
		if s, err := Open(filepath.Join(dir, "x.db"), opt); err == nil {
			_ = s.Close()
			t.Errorf("Open with a negative %s: nil error", name)
		}
	}
}

// TestClosedStore: calls after Close fail with ErrUnavailable; Close is
// idempotent.
func TestClosedStore(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "idem.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, err = s.Claim(context.Background(), "k", "fp", longLease)
	wantUnavailable(t, "Claim after Close", err, "closed")
	_, err = s.Sweep(context.Background())
	wantUnavailable(t, "Sweep after Close", err, "closed")
}
