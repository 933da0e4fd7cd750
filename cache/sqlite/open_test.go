package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/idemhttp/idemhttp/cache"
)

// fileSnapshot is a file's content and mode, to prove a failed Open left it
// alone.
type fileSnapshot struct {
	data []byte
	mode fs.FileMode
}

func snapshotFile(t *testing.T, path string) fileSnapshot {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fileSnapshot{data, fi.Mode()}
}

func (f fileSnapshot) wantUnchanged(t *testing.T, path string) {
	t.Helper()
	now := snapshotFile(t, path)
	if !bytes.Equal(now.data, f.data) {
		t.Errorf("%s changed: %d bytes, was %d", path, len(now.data), len(f.data))
	}
	if now.mode != f.mode {
		t.Errorf("%s mode changed to %v, was %v", path, now.mode, f.mode)
	}
}

// wantOpenFails asserts that Open(path) fails with an error wrapping
// ErrUnavailable that mentions each of words.
func wantOpenFails(t *testing.T, path string, words ...string) {
	t.Helper()
	s, err := Open(path, WithBusyTimeout(50*time.Millisecond))
	if err == nil {
		_ = s.Close()
		t.Fatalf("Open(%s) succeeded, want an error", path)
	}
	wantUnavailable(t, "Open", err, words...)
	t.Logf("Open(%s): %v", filepath.Base(path), err)
}

// TestOpenCreatesPrivateFiles: the database, -wal and -shm files are
// created with mode 0600.
func TestOpenCreatesPrivateFiles(t *testing.T) {
	s := openTest(t)
	c := mustClaim(t, s, "k", "fp", longLease, cache.Acquired)
	mustComplete(t, s, "k", c.Token, testEntry("personal data"), longTTL)
	for _, name := range []string{s.Path(), s.Path() + "-wal", s.Path() + "-shm"} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatalf("stat: %v", err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s has mode %v, want 0600", filepath.Base(name), perm)
		}
	}
}

// TestOpenKeepsExistingMode: an existing (empty) file keeps the mode its
// owner gave it.
func TestOpenKeepsExistingMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "idem.db")
	if err := os.WriteFile(path, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o640); err != nil { // whatever the umask
		t.Fatal(err)
	}
	s := openAt(t, path)
	mustClaim(t, s, "k", "fp", longLease, cache.Acquired)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o640 {
		t.Errorf("mode %v, want the existing 0640", perm)
	}
}

func TestOpenMissingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing")
	wantOpenFails(t, filepath.Join(dir, "idem.db"), dir)
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open created the missing directory (stat: %v)", err)
	}
}

func TestOpenEmptyPath(t *testing.T) {
	_, err := Open("")
	wantUnavailable(t, "Open(\"\")", err, "empty path")
}

func TestOpenDirectory(t *testing.T) {
	wantOpenFails(t, t.TempDir(), "is a directory")
}

// TestOpenNotADatabase: a file that is not SQLite is refused and left byte
// for byte as it was.
func TestOpenNotADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.txt")
	content := bytes.Repeat([]byte("these are my notes, not a database\n"), 200)
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	before := snapshotFile(t, path)
	wantOpenFails(t, path, "not a database")
	before.wantUnchanged(t, path)
}

// makeDB creates an SQLite file with the given statements run on it.
func makeDB(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// TestOpenNewerSchema: a file written by a newer schema version is refused
// with a clear error and not modified.
func TestOpenNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "idem.db")
	newer := len(migrations()) + 1
	makeDB(t, path,
		`CREATE TABLE records (key TEXT PRIMARY KEY, future_column BLOB)`,
		`INSERT INTO records VALUES ('k', x'00ff')`,
		fmt.Sprintf(`PRAGMA application_id = %d`, applicationID),
		fmt.Sprintf(`PRAGMA user_version = %d`, newer),
	)
	before := snapshotFile(t, path)
	wantOpenFails(t, path, fmt.Sprintf("schema version %d", newer), "newer")
	before.wantUnchanged(t, path)
}

// TestOpenForeignDatabase: an SQLite file of another application is refused
// and not modified.
func TestOpenForeignDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.db")
	makeDB(t, path,
		`CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)`,
		`INSERT INTO users (name) VALUES ('ada')`,
		`PRAGMA application_id = 42`,
	)
	before := snapshotFile(t, path)
	wantOpenFails(t, path, "another application")
	before.wantUnchanged(t, path)
}

// TestLockedDatabase: while another connection holds an exclusive lock
// beyond the busy timeout, Open and writes fail with ErrUnavailable naming
// the lock; once it is released, the store works and lost nothing.
func TestLockedDatabase(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, WithBusyTimeout(50*time.Millisecond))
	done := mustClaim(t, s, "done", "fp", longLease, cache.Acquired)
	mustComplete(t, s, "done", done.Token, testEntry("x"), longTTL)

	locker := rawDB(t, s.Path())
	conn, err := locker.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	if _, err := conn.ExecContext(ctx, `BEGIN EXCLUSIVE`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, `DELETE FROM records WHERE key = 'nothing'`); err != nil {
		t.Fatal(err)
	}

	_, err = s.Claim(ctx, "new", "fp", longLease)
	wantUnavailable(t, "Claim while locked", err, "locked")
	wantOpenFails(t, s.Path(), "locked")
	// Reading still works in WAL mode: a replay needs no write lock.
	mustClaim(t, s, "done", "fp", longLease, cache.Completed)

	if _, err := conn.ExecContext(ctx, `ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	mustClaim(t, s, "new", "fp", longLease, cache.Acquired)
	mustClaim(t, s, "done", "fp", longLease, cache.Completed)
}

// TestOpenPathWithURICharacters: a path holding characters that mean
// something in a file: URI opens exactly that file.
func TestOpenPathWithURICharacters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a dir?with#odd%25chars&x=1")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "idem db?.sqlite")
	s := openAt(t, path)
	mustClaim(t, s, "k", "fp", longLease, cache.Acquired)
	if s.Path() != path {
		t.Errorf("Path() = %q, want %q", s.Path(), path)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "idem db?.sqlite") {
			t.Errorf("unexpected file %q in the directory", e.Name())
		}
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the store is not at %q: %v", path, err)
	}
}

// WithFullSync switches the writer to synchronous=FULL (2); the default is
// NORMAL (1).
func TestFullSync(t *testing.T) {
	for _, tc := range []struct {
		opts []Option
		want int
	}{{nil, 1}, {[]Option{WithFullSync()}, 2}} {
		s := openTest(t, tc.opts...)
		var got int
		if err := s.writer.QueryRow(`PRAGMA synchronous`).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("options %d: synchronous = %d, want %d", len(tc.opts), got, tc.want)
		}
	}
}
