package sqlite

import (
	"context"
	"database/sql"
	"errors"
)

// SQL fragments shared by the statements below. Parameters are named:
// :key, :now (Unix ms), :token, and so on.
const (
	// live holds for a row that has not expired.
	live = `(expires_at IS NULL OR expires_at > :now)`
	// held holds for the row of the claim :token.
	held = `key = :key AND state = 1 AND token = :token AND ` + live
	// resolvable holds for a row Resolve may settle: in doubt, or in flight
	// with a lease that has passed.
	resolvable = `key = :key AND ` + live + ` AND (state = 2 OR (state = 1 AND lease_until <= :now))`
	// setDone turns a row into a completed record.
	setDone = `state = 3, token = 0, lease_until = 0, claim_in_doubt = 0, expires_at = :expires,
		status = :status, header = :header, body = :body, body_omitted = :body_omitted, stored_at = :stored_at`
)

// SQL of the statements. claimSQL is the heart of the store: one statement
// that inserts a new in-flight row, or takes over an existing row only when
// it is claimable (expired, or same fingerprint and in doubt or past its
// lease), so two claimers can never both succeed. claimed_at is set when the
// row is created and kept by takeovers, unless the old row had expired (the
// key was absent, so this claim starts afresh). In an ON CONFLICT update,
// "records." names the old row and every SET expression reads old values.
const (
	loadSQL = `SELECT state, fingerprint, token, lease_until, claim_in_doubt, expires_at,
		status, header, body, body_omitted, stored_at, claimed_at
		FROM records WHERE key = :key`

	claimSQL = `INSERT INTO records (key, fingerprint, state, token, lease_until, claim_in_doubt, expires_at, claimed_at)
		VALUES (:key, :fingerprint, 1, :token, :lease_until, 0, :abandon_at, :now)
		ON CONFLICT (key) DO UPDATE SET
			fingerprint = excluded.fingerprint,
			state = 1,
			token = excluded.token,
			lease_until = excluded.lease_until,
			claim_in_doubt = (records.expires_at IS NULL OR records.expires_at > :now),
			claimed_at = CASE
				WHEN records.expires_at IS NOT NULL AND records.expires_at <= :now THEN excluded.claimed_at
				ELSE records.claimed_at END,
			expires_at = CASE
				WHEN records.expires_at IS NULL THEN NULL
				WHEN records.expires_at <= :now THEN excluded.expires_at
				ELSE MAX(records.expires_at, excluded.expires_at) END,
			status = NULL, header = NULL, body = NULL, body_omitted = 0, stored_at = NULL
		WHERE (records.expires_at IS NOT NULL AND records.expires_at <= :now)
			OR (records.fingerprint = excluded.fingerprint
				AND (records.state = 2 OR (records.state = 1 AND records.lease_until <= :now)))
		RETURNING claim_in_doubt, claimed_at`

	renewSQL = `UPDATE records SET lease_until = :lease_until,
		expires_at = CASE WHEN expires_at IS NULL THEN NULL ELSE MAX(expires_at, :abandon_at) END
		WHERE ` + held

	completeSQL      = `UPDATE records SET ` + setDone + ` WHERE ` + held
	releaseSQL       = `DELETE FROM records WHERE ` + held
	markInDoubtSQL   = `UPDATE records SET state = 2, token = 0, lease_until = 0, claim_in_doubt = 0, expires_at = :expires WHERE ` + held
	resolveDoneSQL   = `UPDATE records SET ` + setDone + ` WHERE ` + resolvable
	resolveAbsentSQL = `DELETE FROM records WHERE ` + resolvable
	deleteSQL        = `DELETE FROM records WHERE key = :key`

	// sweepSQL deletes one bounded batch of expired rows, using the partial
	// index on expires_at.
	sweepSQL = `DELETE FROM records WHERE rowid IN (
		SELECT rowid FROM records WHERE expires_at <= :now LIMIT :limit)`
)

// statements are the prepared statements of a Store: load runs on the
// reader pool, the others on the single writer connection.
type statements struct {
	load          *sql.Stmt
	claim         *sql.Stmt
	renew         *sql.Stmt
	complete      *sql.Stmt
	release       *sql.Stmt
	markInDoubt   *sql.Stmt
	resolveDone   *sql.Stmt
	resolveAbsent *sql.Stmt
	delete        *sql.Stmt
	sweep         *sql.Stmt
}

// prepare prepares every statement; on failure it closes those it made.
func prepare(ctx context.Context, reader, writer *sql.DB) (*statements, error) {
	s := &statements{}
	specs := []struct {
		db   *sql.DB
		sql  string
		dest **sql.Stmt
	}{
		{reader, loadSQL, &s.load},
		{writer, claimSQL, &s.claim},
		{writer, renewSQL, &s.renew},
		{writer, completeSQL, &s.complete},
		{writer, releaseSQL, &s.release},
		{writer, markInDoubtSQL, &s.markInDoubt},
		{writer, resolveDoneSQL, &s.resolveDone},
		{writer, resolveAbsentSQL, &s.resolveAbsent},
		{writer, deleteSQL, &s.delete},
		{writer, sweepSQL, &s.sweep},
	}
	for _, spec := range specs {
		stmt, err := spec.db.PrepareContext(ctx, spec.sql)
		if err != nil {
			_ = s.close()
			return nil, err
		}
		*spec.dest = stmt
	}
	return s, nil
}

// close closes every prepared statement.
func (s *statements) close() error {
	var errs []error
	for _, stmt := range []*sql.Stmt{s.load, s.claim, s.renew, s.complete, s.release,
		s.markInDoubt, s.resolveDone, s.resolveAbsent, s.delete, s.sweep} {
		if stmt != nil {
			errs = append(errs, stmt.Close())
		}
	}
	return errors.Join(errs...)
}
