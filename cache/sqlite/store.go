package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/idemhttp/idemhttp/cache"
)

// maxClaimAttempts bounds how often Claim retries when the row changed
// between its read and its write. Each retry means another claimer made
// progress, so running out takes extraordinary contention.
const maxClaimAttempts = 32

// errInvalidLease is returned for a lease that is not positive.
var errInvalidLease = errors.New("sqlite: lease must be positive")

// row is a records row as read by the load statement.
type row struct {
	state        int64
	fingerprint  string
	token        int64
	leaseUntil   int64
	claimInDoubt bool
	expiresAt    sql.NullInt64
	entry        entryColumns
	claimedAt    int64 // Unix ms; 0 for rows of schema version 1 (unknown)
}

// Claim implements cache.Store. It reads the row first (no write lock for
// replays, busy or mismatched claims); when the key is absent or claimable it
// takes it with one conditional upsert, which fails if another claimer got
// there first, and then reads again.
func (s *Store) Claim(ctx context.Context, key, fingerprint string, lease time.Duration) (cache.Claim, error) {
	if lease <= 0 {
		return cache.Claim{}, fmt.Errorf("%w: %v", errInvalidLease, lease)
	}
	if err := s.usable(ctx); err != nil {
		return cache.Claim{}, err
	}
	for range maxClaimAttempts {
		now := s.now()
		r, found, err := s.load(ctx, key, now)
		if err != nil {
			return cache.Claim{}, s.fail(ctx, "claim", key, err)
		}
		if found {
			if r.fingerprint != fingerprint {
				return cache.Claim{Outcome: cache.Mismatch}, nil
			}
			switch r.state {
			case stateDone:
				e, err := r.entry.decode()
				if err != nil {
					return cache.Claim{}, s.fail(ctx, "claim", key, err)
				}
				return cache.Claim{Outcome: cache.Completed, Entry: e}, nil
			case stateInFlight:
				if r.leaseUntil > now.UnixMilli() {
					return cache.Claim{Outcome: cache.Busy, Until: time.UnixMilli(r.leaseUntil)}, nil
				}
			}
		}
		token := newToken()
		var (
			inDoubt   bool
			claimedAt int64
		)
		err = s.locked(ctx, func(tx *sql.Tx, now time.Time) error {
			leaseUntil := now.UnixMilli() + millisCeil(lease)
			return tx.StmtContext(ctx, s.stmts.claim).QueryRowContext(ctx,
				sql.Named("key", key),
				sql.Named("fingerprint", fingerprint),
				sql.Named("token", token),
				sql.Named("now", now.UnixMilli()),
				sql.Named("lease_until", leaseUntil),
				sql.Named("abandon_at", leaseUntil+millisCeil(s.cfg.abandonedTTL)),
			).Scan(&inDoubt, &claimedAt)
		})
		switch {
		case err == nil:
			c := cache.Claim{Outcome: cache.Acquired, Token: cache.Token(token), InDoubt: inDoubt}
			if inDoubt {
				c.Since = sinceOf(claimedAt)
			}
			return c, nil
		case !errors.Is(err, sql.ErrNoRows):
			return cache.Claim{}, s.fail(ctx, "claim", key, err)
		}
		// The row was not claimable after all: it changed since the read.
	}
	return cache.Claim{}, s.fail(ctx, "claim", key, fmt.Errorf("the record kept changing during %d attempts", maxClaimAttempts))
}

// Renew implements cache.Store.
func (s *Store) Renew(ctx context.Context, key string, token cache.Token, lease time.Duration) error {
	if lease <= 0 {
		return fmt.Errorf("%w: %v", errInvalidLease, lease)
	}
	return s.changeHeld(ctx, "renew", key, token, s.stmts.renew, func(now time.Time) []any {
		leaseUntil := now.UnixMilli() + millisCeil(lease)
		return []any{
			sql.Named("lease_until", leaseUntil),
			sql.Named("abandon_at", leaseUntil+millisCeil(s.cfg.abandonedTTL)),
		}
	})
}

// Complete implements cache.Store. An entry over the WithMaxEntryBytes bound
// is refused with cache.ErrEntryTooLarge and the claim stays held. A zero
// Entry.StoredAt is recorded as the time of the call; ttl <= 0 keeps the
// record until it is deleted.
func (s *Store) Complete(ctx context.Context, key string, token cache.Token, entry *cache.Entry, ttl time.Duration) error {
	cols, err := s.entryColumns("complete", key, entry)
	if err != nil {
		return err
	}
	return s.changeHeld(ctx, "complete", key, token, s.stmts.complete, func(now time.Time) []any {
		return doneArgs(cols, now, ttl)
	})
}

// Release implements cache.Store.
func (s *Store) Release(ctx context.Context, key string, token cache.Token) error {
	return s.changeHeld(ctx, "release", key, token, s.stmts.release, nil)
}

// MarkInDoubt implements cache.Store; ttl <= 0 keeps the record until it is
// resolved or deleted.
func (s *Store) MarkInDoubt(ctx context.Context, key string, token cache.Token, ttl time.Duration) error {
	return s.changeHeld(ctx, "mark in doubt", key, token, s.stmts.markInDoubt, func(now time.Time) []any {
		return []any{sql.Named("expires", expiry(now, ttl))}
	})
}

// Resolve implements cache.Store.
func (s *Store) Resolve(ctx context.Context, key string, entry *cache.Entry, ttl time.Duration) error {
	const op = "resolve"
	if err := s.usable(ctx); err != nil {
		return err
	}
	now := s.now()
	stmt, args := s.stmts.resolveAbsent, []any{sql.Named("key", key), sql.Named("now", now.UnixMilli())}
	if entry != nil {
		cols, err := s.entryColumns(op, key, entry)
		if err != nil {
			return err
		}
		stmt, args = s.stmts.resolveDone, append(args, doneArgs(cols, now, ttl)...)
	}
	n, err := s.exec(ctx, stmt, args)
	if err != nil {
		return s.fail(ctx, op, key, err)
	}
	if n > 0 {
		return nil
	}
	r, found, err := s.load(ctx, key, s.now())
	switch {
	case err != nil:
		return s.fail(ctx, op, key, err)
	case !found:
		return fmt.Errorf("sqlite: %s %q: %w", op, key, cache.ErrNotFound)
	}
	return fmt.Errorf("sqlite: %s %q of a %v record: %w", op, key, stateOf(r.state), cache.ErrNotInDoubt)
}

// Get implements cache.Store.
func (s *Store) Get(ctx context.Context, key string) (cache.Record, error) {
	const op = "get"
	if err := s.usable(ctx); err != nil {
		return cache.Record{}, err
	}
	r, found, err := s.load(ctx, key, s.now())
	if err != nil {
		return cache.Record{}, s.fail(ctx, op, key, err)
	}
	if !found {
		return cache.Record{}, fmt.Errorf("sqlite: %s %q: %w", op, key, cache.ErrNotFound)
	}
	rec := cache.Record{Key: key, State: stateOf(r.state), Fingerprint: r.fingerprint, Since: sinceOf(r.claimedAt)}
	if r.expiresAt.Valid {
		rec.ExpiresAt = time.UnixMilli(r.expiresAt.Int64)
	}
	switch r.state {
	case stateInFlight:
		rec.Token = cache.Token(r.token)
		rec.LeaseUntil = time.UnixMilli(r.leaseUntil)
		rec.ClaimInDoubt = r.claimInDoubt
	case stateDone:
		rec.Entry, err = r.entry.decode()
		if err != nil {
			return cache.Record{}, s.fail(ctx, op, key, err)
		}
	}
	return rec, nil
}

// Delete implements cache.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	if _, err := s.exec(ctx, s.stmts.delete, []any{sql.Named("key", key)}); err != nil {
		return s.fail(ctx, "delete", key, err)
	}
	return nil
}

// changeHeld runs stmt, one of the statements guarded by the held clause, on
// the claim token of key, with the arguments extra returns. No row changed
// means the claim is not held: ErrFenced, also wrapping ErrNotFound when
// there is no record at all.
func (s *Store) changeHeld(ctx context.Context, op, key string, token cache.Token, stmt *sql.Stmt, extra func(now time.Time) []any) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	var n int64
	err := s.locked(ctx, func(tx *sql.Tx, now time.Time) error {
		args := []any{sql.Named("key", key), sql.Named("token", int64(token)), sql.Named("now", now.UnixMilli())}
		if extra != nil {
			args = append(args, extra(now)...)
		}
		var err error
		n, err = s.exec(ctx, tx.StmtContext(ctx, stmt), args)
		return err
	})
	if err != nil {
		return s.fail(ctx, op, key, err)
	}
	if n > 0 {
		return nil
	}
	_, found, err := s.load(ctx, key, s.now())
	switch {
	case err != nil:
		return s.fail(ctx, op, key, err)
	case !found:
		return fmt.Errorf("sqlite: %s %q token %d: %w (%w)", op, key, token, cache.ErrFenced, cache.ErrNotFound)
	}
	return fmt.Errorf("sqlite: %s %q token %d: %w", op, key, token, cache.ErrFenced)
}

// load reads the row under key; found is false when there is none or it has
// expired at now.
func (s *Store) load(ctx context.Context, key string, now time.Time) (r row, found bool, err error) {
	err = s.stmts.load.QueryRowContext(ctx, sql.Named("key", key)).Scan(
		&r.state, &r.fingerprint, &r.token, &r.leaseUntil, &r.claimInDoubt, &r.expiresAt,
		&r.entry.status, &r.entry.header, &r.entry.body, &r.entry.bodyOmitted, &r.entry.storedAt, &r.claimedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return row{}, false, nil
	}
	if err != nil {
		return row{}, false, err
	}
	if r.expiresAt.Valid && r.expiresAt.Int64 <= now.UnixMilli() {
		return row{}, false, nil
	}
	if r.state < stateInFlight || r.state > stateDone {
		return row{}, false, fmt.Errorf("corrupt record: unknown state %d", r.state)
	}
	return r, true, nil
}

// locked runs f in a write transaction begun once the write lock is taken
// (BEGIN IMMEDIATE, after any wait for this process's other writers or
// another process's transaction), with the time read then: leases and
// expiries start when the change is made, not before that wait. The change
// is committed only when f and the commit succeed; an error, or a context
// that ends, rolls it back, so a failed call never leaves a claim that
// nobody holds.
func (s *Store) locked(ctx context.Context, f func(tx *sql.Tx, now time.Time) error) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx, s.now()); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// exec runs a writer statement and returns the number of rows it changed.
func (s *Store) exec(ctx context.Context, stmt *sql.Stmt, args []any) (int64, error) {
	res, err := stmt.ExecContext(ctx, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// entryColumns checks entry against the size bound and encodes it.
func (s *Store) entryColumns(op, key string, entry *cache.Entry) (entryColumns, error) {
	if entry == nil {
		return entryColumns{}, fmt.Errorf("sqlite: %s %q: nil entry", op, key)
	}
	if size := entry.Size(); size > s.cfg.maxEntryBytes {
		return entryColumns{}, fmt.Errorf("sqlite: %s %q: entry of %d bytes over the %d-byte bound: %w",
			op, key, size, s.cfg.maxEntryBytes, cache.ErrEntryTooLarge)
	}
	return encodeEntry(entry, s.now())
}

// doneArgs are the arguments of the setDone fragment.
func doneArgs(c entryColumns, now time.Time, ttl time.Duration) []any {
	return []any{
		sql.Named("expires", expiry(now, ttl)),
		sql.Named("status", c.status),
		sql.Named("header", c.header),
		sql.Named("body", c.body),
		sql.Named("body_omitted", c.bodyOmitted),
		sql.Named("stored_at", c.storedAt),
	}
}

// usable reports a closed store or a done context before any work.
func (s *Store) usable(ctx context.Context) error {
	select {
	case <-s.closed:
		return fmt.Errorf("sqlite: %s: %w: store is closed", s.path, cache.ErrUnavailable)
	default:
	}
	return ctx.Err()
}

// fail wraps a failure of op on key: the context's error if it ended,
// otherwise cache.ErrUnavailable and the cause.
func (s *Store) fail(ctx context.Context, op, key string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("sqlite: %s %q: %w", op, key, ctxErr)
	}
	return fmt.Errorf("sqlite: %s %q in %s: %w: %w", op, key, s.path, cache.ErrUnavailable, err)
}

// stateOf maps a stored state to the cache package's.
func stateOf(state int64) cache.State {
	switch state {
	case stateInFlight:
		return cache.InFlight
	case stateInDoubt:
		return cache.InDoubt
	case stateDone:
		return cache.Done
	}
	return 0
}

// sinceOf returns the time of a claimed_at value: zero for 0, which marks
// a row whose first claim time is unknown.
func sinceOf(claimedAt int64) time.Time {
	if claimedAt == 0 {
		return time.Time{}
	}
	return time.UnixMilli(claimedAt)
}

// expiry returns now+ttl in Unix ms, or NULL (never) for ttl <= 0.
func expiry(now time.Time, ttl time.Duration) sql.NullInt64 {
	if ttl <= 0 {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: now.UnixMilli() + millisCeil(ttl), Valid: true}
}

// millisCeil returns d in whole milliseconds, rounded up, so a short lease
// never becomes an already-expired one.
func millisCeil(d time.Duration) int64 {
	ms := int64(d / time.Millisecond)
	if d%time.Millisecond > 0 {
		ms++
	}
	return ms
}

// newToken returns a random fencing token in [1, 2^63-1]: positive, so it
// fits SQLite's signed INTEGER.
func newToken() int64 {
	return rand.Int64N(math.MaxInt64) + 1
}
