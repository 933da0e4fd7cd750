package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/idemhttp/idemhttp/cache"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Durations of the tests. Expiry is always polled up to pollDeadline, never
// assumed after a sleep.
const (
	longLease    = time.Minute
	longTTL      = time.Hour
	shortTTL     = 50 * time.Millisecond
	pollDeadline = 20 * time.Second
)

// openTest opens a store in a fresh file under t.TempDir and closes it at
// the end of the test.
func openTest(t *testing.T, opts ...Option) *Store {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "idem.db"), opts...)
}

// openAt opens the store at path and closes it at the end of the test.
func openAt(t *testing.T, path string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(path, opts...)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// rawDB opens a plain database/sql handle on the file, to look at or damage
// rows behind the store's back.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatalf("sql.Open: %v", err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// rowCount returns the number of rows in records whose key matches the LIKE
// pattern, whether or not they expired.
func rowCount(t *testing.T, db *sql.DB, pattern string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM records WHERE key LIKE ?`, pattern).Scan(&n); err != nil {
		t.Fatalf("counting rows: %v", err)
	}
	return n
}

// eventually polls cond every few milliseconds until it holds, failing the
// test after pollDeadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(pollDeadline)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not observed within %v", what, pollDeadline)
		}
		<-tick.C
	}
}

// mustClaim claims key and asserts the outcome.
func mustClaim(t *testing.T, s cache.Store, key, fp string, lease time.Duration, want cache.Outcome) cache.Claim {
	t.Helper()
	c, err := s.Claim(context.Background(), key, fp, lease)
	if err != nil {
		t.Fatalf("Claim(%q): %v", key, err)
	}
	if c.Outcome != want {
		t.Fatalf("Claim(%q): outcome %v, want %v", key, c.Outcome, want)
	}
	return c
}

// mustComplete completes a held claim.
func mustComplete(t *testing.T, s cache.Store, key string, token cache.Token, e *cache.Entry, ttl time.Duration) {
	t.Helper()
	if err := s.Complete(context.Background(), key, token, e, ttl); err != nil {
		t.Fatalf("Complete(%q): %v", key, err)
	}
}

// wantAbsentEventually polls until Get reports the key absent.
func wantAbsentEventually(t *testing.T, s cache.Store, key string) {
	t.Helper()
	eventually(t, "record "+key+" expiring", func() bool {
		_, err := s.Get(context.Background(), key)
		if err != nil && !errors.Is(err, cache.ErrNotFound) {
			t.Fatalf("Get(%q): %v", key, err)
		}
		return err != nil
	})
}

// wantUnavailable asserts err wraps cache.ErrUnavailable and mentions each
// of words.
func wantUnavailable(t *testing.T, what string, err error, words ...string) {
	t.Helper()
	if !errors.Is(err, cache.ErrUnavailable) {
		t.Fatalf("%s: err = %v, want one wrapping cache.ErrUnavailable", what, err)
	}
	for _, w := range words {
		if !containsFold(err.Error(), w) {
			t.Errorf("%s: error %q does not mention %q", what, err, w)
		}
	}
}

// containsFold reports whether s contains sub, ignoring case.
func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}
