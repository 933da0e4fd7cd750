package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/idemhttp/idemhttp/cache"
)

// userVersion reads PRAGMA user_version of the file.
func userVersion(t *testing.T, path string) int {
	t.Helper()
	var v int
	if err := rawDB(t, path).QueryRow(`PRAGMA user_version`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// olderFile writes a file at the current schema, which the tests below treat
// as the older version, holding one record in each state.
func olderFile(t *testing.T) (path string, records map[string]cache.Record) {
	t.Helper()
	ctx := context.Background()
	path = filepath.Join(t.TempDir(), "idem.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	done := mustClaim(t, s, "done", "fp", longLease, cache.Acquired)
	mustComplete(t, s, "done", done.Token, testEntry("paid"), longTTL)
	mustClaim(t, s, "held", "fp", longLease, cache.Acquired)
	doubt := mustClaim(t, s, "doubt", "fp", longLease, cache.Acquired)
	if err := s.MarkInDoubt(ctx, "doubt", doubt.Token, longTTL); err != nil {
		t.Fatal(err)
	}
	records = map[string]cache.Record{}
	for _, k := range []string{"done", "held", "doubt"} {
		if records[k], err = s.Get(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path, records
}

// nextVersion is a plausible version 2: a column with a default and an
// index, added to the version 1 table, with the existing rows backfilled.
func nextVersion() migration {
	return migration{version: len(migrations()) + 1, apply: execAll(
		`ALTER TABLE records ADD COLUMN tenant TEXT NOT NULL DEFAULT ''`,
		`UPDATE records SET tenant = 'default'`,
		`CREATE INDEX records_by_tenant ON records (tenant)`,
	)}
}

// TestMigrationPreservesRecords: opening an older file with a program that
// knows one more schema version upgrades it in place, keeps every record,
// and then the older program refuses the newer file without touching it.
func TestMigrationPreservesRecords(t *testing.T) {
	ctx := context.Background()
	path, records := olderFile(t)
	older := userVersion(t, path)

	steps := append(migrations(), nextVersion())
	s, err := open(path, defaultConfig(), steps)
	if err != nil {
		t.Fatalf("open with a newer schema: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if v := userVersion(t, path); v != older+1 {
		t.Fatalf("user_version after migration %d, want %d", v, older+1)
	}
	var backfilled int
	if err := rawDB(t, path).QueryRow(`SELECT count(*) FROM records WHERE tenant = 'default'`).Scan(&backfilled); err != nil {
		t.Fatal(err)
	}
	if backfilled != len(records) {
		t.Errorf("%d rows backfilled, want %d", backfilled, len(records))
	}
	for k, want := range records {
		got, err := s.Get(ctx, k)
		if err != nil {
			t.Fatalf("Get(%q) after migration: %v", k, err)
		}
		if got.State != want.State || got.Token != want.Token || !got.ExpiresAt.Equal(want.ExpiresAt) {
			t.Errorf("Get(%q) after migration = %+v, want %+v", k, got, want)
		}
	}
	if c := mustClaim(t, s, "done", "fp", longLease, cache.Completed); string(c.Entry.Body) != "paid" {
		t.Errorf("replay after migration: body %q", c.Entry.Body)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Opening again runs no step twice.
	s2, err := open(path, defaultConfig(), steps)
	if err != nil {
		t.Fatalf("reopen at the new version: %v", err)
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}

	before := snapshotFile(t, path)
	wantOpenFails(t, path, "newer")
	before.wantUnchanged(t, path)
}

// TestFailedMigrationChangesNothing: a step that fails rolls the whole
// upgrade back: the version, the schema and the records are as before, and
// the file still opens with the older program.
func TestFailedMigrationChangesNothing(t *testing.T) {
	path, records := olderFile(t)
	older := userVersion(t, path)
	boom := errors.New("step failed")
	failing := migration{version: older + 1, apply: func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE half_done (x INTEGER)`); err != nil {
			return err
		}
		return boom
	}}
	_, err := open(path, defaultConfig(), append(migrations(), failing))
	if !errors.Is(err, boom) || !errors.Is(err, cache.ErrUnavailable) {
		t.Fatalf("open with a failing step = %v, want the step's error and ErrUnavailable", err)
	}
	if v := userVersion(t, path); v != older {
		t.Fatalf("user_version %d after a failed migration, want %d", v, older)
	}
	var tables int
	if err := rawDB(t, path).QueryRow(`SELECT count(*) FROM sqlite_master WHERE name = 'half_done'`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Error("the failed step's table survived the rollback")
	}
	s := openAt(t, path)
	for k := range records {
		if _, err := s.Get(context.Background(), k); err != nil {
			t.Errorf("Get(%q) after a failed migration: %v", k, err)
		}
	}
}

// TestOpenEmptyFileCreatesSchema: an empty file (version 0) is given the
// current schema.
func TestOpenEmptyFileCreatesSchema(t *testing.T) {
	s := openTest(t)
	if v := userVersion(t, s.Path()); v != len(migrations()) {
		t.Fatalf("user_version %d, want %d", v, len(migrations()))
	}
}

// versionOneFile writes a file at schema version 1, built by the shipped
// version 1 step, holding one row in each state as version 1 wrote them.
func versionOneFile(t *testing.T) (path string, records map[string]cache.Record) {
	t.Helper()
	ctx := context.Background()
	path = filepath.Join(t.TempDir(), "v1.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	if err := migrate(ctx, db, migrations()[:1]); err != nil {
		t.Fatalf("creating a version 1 file: %v", err)
	}
	now := time.Now()
	leaseUntil := now.Add(longLease).UnixMilli()
	expires := now.Add(longTTL).UnixMilli()
	cols, err := encodeEntry(testEntry("paid"), now)
	if err != nil {
		t.Fatal(err)
	}
	inserts := []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO records (key, fingerprint, state, expires_at, status, header, body, body_omitted, stored_at)
			VALUES ('done', 'fp', 3, ?, ?, ?, ?, ?, ?)`,
			[]any{expires, cols.status, cols.header, cols.body, cols.bodyOmitted, cols.storedAt}},
		{`INSERT INTO records (key, fingerprint, state, token, lease_until, expires_at)
			VALUES ('held', 'fp', 1, 1234, ?, ?)`, []any{leaseUntil, expires}},
		{`INSERT INTO records (key, fingerprint, state, expires_at) VALUES ('doubt', 'fp', 2, ?)`, []any{expires}},
	}
	for _, in := range inserts {
		if _, err := db.ExecContext(ctx, in.sql, in.args...); err != nil {
			t.Fatalf("%s: %v", in.sql, err)
		}
	}
	at := time.UnixMilli(expires)
	return path, map[string]cache.Record{
		"done":  {State: cache.Done, ExpiresAt: at},
		"held":  {State: cache.InFlight, Token: 1234, LeaseUntil: time.UnixMilli(leaseUntil), ExpiresAt: at},
		"doubt": {State: cache.InDoubt, ExpiresAt: at},
	}
}

// TestMigrationFromVersionOne: a file written by schema version 1 is
// upgraded to the current version by Open with every record kept. Its rows
// never recorded their first claim, so they report a zero (unknown) Since,
// also when an in-doubt one is claimed again.
func TestMigrationFromVersionOne(t *testing.T) {
	ctx := context.Background()
	path, records := versionOneFile(t)
	if v := userVersion(t, path); v != 1 {
		t.Fatalf("test file at user_version %d, want 1", v)
	}
	s := openAt(t, path)
	if v := userVersion(t, path); v != len(migrations()) {
		t.Fatalf("user_version after migration %d, want %d", v, len(migrations()))
	}
	for k, want := range records {
		got, err := s.Get(ctx, k)
		if err != nil {
			t.Fatalf("Get(%q) after migration: %v", k, err)
		}
		if got.State != want.State || got.Token != want.Token || !got.LeaseUntil.Equal(want.LeaseUntil) ||
			!got.ExpiresAt.Equal(want.ExpiresAt) || got.Fingerprint != "fp" || !got.Since.IsZero() {
			t.Errorf("Get(%q) after migration = %+v, want %+v with fingerprint fp and a zero Since", k, got, want)
		}
	}
	if c := mustClaim(t, s, "done", "fp", longLease, cache.Completed); string(c.Entry.Body) != "paid" {
		t.Errorf("replay after migration: body %q", c.Entry.Body)
	}
	mustClaim(t, s, "held", "fp", longLease, cache.Busy)
	mustComplete(t, s, "held", 1234, testEntry("late"), longTTL)
	if c := mustClaim(t, s, "doubt", "fp", longLease, cache.Acquired); !c.InDoubt || !c.Since.IsZero() {
		t.Errorf("claim of a version 1 in-doubt record: InDoubt %v Since %v, want true and zero", c.InDoubt, c.Since)
	}
	before := time.Now().UnixMilli()
	if c := mustClaim(t, s, "new", "fp", longLease, cache.Acquired); c.InDoubt {
		t.Fatal("claim of a new key flagged in doubt")
	}
	if r, err := s.Get(ctx, "new"); err != nil || r.Since.UnixMilli() < before {
		t.Errorf("Get of a record claimed after migration: Since %v (err %v), want from %v on",
			r.Since, err, time.UnixMilli(before))
	}
}
