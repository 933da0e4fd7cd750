package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	msqlite "modernc.org/sqlite"

	"github.com/idemhttp/idemhttp/cache"
)

// readerConns is the size of the pool of read-only connections. Writes go
// through one connection, so goroutines of one process queue in Go for the
// write lock instead of sleeping in SQLite's busy handler.
const readerConns = 4

// Store is a cache.Store kept in an SQLite file. It is safe for concurrent
// use by several goroutines and several processes. Close it when done.
type Store struct {
	path   string
	cfg    config
	reader *sql.DB // read-only connections: Claim's first look, Get
	writer *sql.DB // one connection: every change
	stmts  *statements
	now    func() time.Time

	closeOnce  sync.Once
	closed     chan struct{} // closed by Close
	stopSweep  context.CancelFunc
	sweeperWG  sync.WaitGroup
	closeError error
}

// Open opens the store in the SQLite file at path, creating the file (mode
// 0600) and upgrading its schema as needed. The directory must exist. Every
// failure wraps cache.ErrUnavailable, except invalid options.
func Open(path string, opts ...Option) (*Store, error) {
	cfg := defaultConfig()
	for _, opt := range opts {
		opt(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return open(path, cfg, migrations())
}

// open is Open with the schema steps as a parameter, for the migration tests.
func open(path string, cfg config, steps []migration) (*Store, error) {
	if path == "" {
		return nil, fmt.Errorf("sqlite: open: %w: empty path", cache.ErrUnavailable)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, openError(path, err)
	}
	created, err := createFile(abs)
	if err != nil {
		return nil, openError(abs, err)
	}
	s := &Store{path: abs, cfg: cfg, now: time.Now, closed: make(chan struct{})}
	if err := s.init(created, steps); err != nil {
		s.closeDBs()
		return nil, openError(abs, err)
	}
	if cfg.sweepInterval > 0 {
		ctx, cancel := context.WithCancel(context.Background())
		s.stopSweep = cancel
		s.sweeperWG.Go(func() { s.sweepEvery(ctx, cfg.sweepInterval) })
	}
	return s, nil
}

// init opens the connection pools, upgrades the schema, switches the file to
// WAL mode and prepares the statements.
func (s *Store) init(created bool, steps []migration) error {
	ctx := context.Background()
	busy := strconv.FormatInt(s.cfg.busyTimeout.Milliseconds(), 10)
	sync := "NORMAL"
	if s.cfg.fullSync {
		sync = "FULL"
	}
	var err error
	s.writer, err = openPool(s.path, 1, url.Values{
		"_busy_timeout": {busy},
		"_synchronous":  {sync},
		"_txlock":       {"immediate"},
	})
	if err != nil {
		return err
	}
	// The schema is checked before anything else writes to the file, so a
	// file that is not ours, or is newer than us, is left untouched.
	if err := migrate(ctx, s.writer, steps); err != nil {
		return err
	}
	var mode string
	if err := s.writer.QueryRowContext(ctx, `PRAGMA journal_mode = WAL`).Scan(&mode); err != nil {
		return err
	}
	if mode != "wal" {
		return fmt.Errorf("the file cannot use WAL mode (journal_mode is %q)", mode)
	}
	if created {
		if err := restrictSidecars(s.path); err != nil {
			return err
		}
	}
	s.reader, err = openPool(s.path, readerConns, url.Values{
		"_busy_timeout": {busy},
		"_query_only":   {"1"},
	})
	if err != nil {
		return err
	}
	s.stmts, err = prepare(ctx, s.reader, s.writer)
	return err
}

// openPool returns a pool of at most conns connections to the file at path,
// each configured by params, and checks that one connection opens.
func openPool(path string, conns int, params url.Values) (*sql.DB, error) {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: params.Encode()}
	connector, err := msqlite.NewConnector(u.String())
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	if err := db.Ping(); err != nil {
		_ = db.Close()
		return nil, err
	}
	return db, nil
}

// createFile creates the database file with mode 0600 if it does not exist,
// reporting whether it did. It never opens an existing file: closing a
// descriptor of a file SQLite has open in this process would drop SQLite's
// POSIX locks on it.
func createFile(path string) (bool, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		if fi, err := os.Stat(path); err == nil && fi.IsDir() {
			return false, fmt.Errorf("%s is a directory", path)
		}
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, f.Close()
}

// restrictSidecars gives the -wal and -shm files of a database this process
// created mode 0600 (SQLite copies the database's mode; this makes sure).
func restrictSidecars(path string) error {
	for _, suffix := range []string{"-wal", "-shm"} {
		err := os.Chmod(path+suffix, 0o600)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// openError wraps a failure of Open.
func openError(path string, err error) error {
	if errors.Is(err, cache.ErrUnavailable) {
		return fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return fmt.Errorf("sqlite: open %s: %w: %w", path, cache.ErrUnavailable, err)
}

// Path returns the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// Close stops the background sweep and closes the database. Calls after
// Close fail with an error wrapping cache.ErrUnavailable. Close is
// idempotent.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.closed)
		if s.stopSweep != nil {
			s.stopSweep()
		}
		s.sweeperWG.Wait()
		s.closeError = s.closeDBs()
		if s.closeError != nil {
			s.closeError = fmt.Errorf("sqlite: close %s: %w: %w", s.path, cache.ErrUnavailable, s.closeError)
		}
	})
	return s.closeError
}

// closeDBs closes the statements and pools that are open.
func (s *Store) closeDBs() error {
	var errs []error
	if s.stmts != nil {
		errs = append(errs, s.stmts.close())
	}
	for _, db := range []*sql.DB{s.reader, s.writer} {
		if db != nil {
			errs = append(errs, db.Close())
		}
	}
	return errors.Join(errs...)
}
