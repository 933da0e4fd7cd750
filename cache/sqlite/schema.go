package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/idemhttp/idemhttp/cache"
)

// applicationID marks a file as an idemhttp store (PRAGMA application_id,
// "IDEM" in ASCII), so Open refuses a database that belongs to another program.
const applicationID = 0x4944454d

// State values stored in records.state. They are part of the file format and
// must never be renumbered.
const (
	stateInFlight = 1
	stateInDoubt  = 2
	stateDone     = 3
)

// migration upgrades the schema from version-1 to version.
type migration struct {
	version int
	apply   func(ctx context.Context, tx *sql.Tx) error
}

// migrations lists the schema versions in order. To change the schema, append
// a migration with the next version; never edit one that has shipped.
func migrations() []migration {
	return []migration{
		{version: 1, apply: execAll(
			// records holds one row per record key. Times are Unix
			// milliseconds, except stored_at (Unix nanoseconds, as given by
			// the caller). expires_at NULL means the row never expires; for an
			// in-flight row it is lease_until plus the abandoned TTL.
			`CREATE TABLE records (
				key            TEXT    NOT NULL PRIMARY KEY,
				fingerprint    TEXT    NOT NULL,
				state          INTEGER NOT NULL,
				token          INTEGER NOT NULL DEFAULT 0,
				lease_until    INTEGER NOT NULL DEFAULT 0,
				claim_in_doubt INTEGER NOT NULL DEFAULT 0,
				expires_at     INTEGER,
				status         INTEGER,
				header         BLOB,
				body           BLOB,
				body_omitted   INTEGER NOT NULL DEFAULT 0,
				stored_at      INTEGER
			)`,
			`CREATE INDEX records_by_expiry ON records (expires_at) WHERE expires_at IS NOT NULL`,
			fmt.Sprintf(`PRAGMA application_id = %d`, applicationID),
		)},
		// Version 2 records when each record was first claimed (Unix ms),
		// for Claim.Since and Record.Since. Rows written by version 1 never
		// recorded it: the column's default backfills them with 0, meaning
		// unknown, reported as a zero Since. Any guess (the lease or the
		// completion time) could be later than the first send, which would
		// make a caller trust a provider's memory of the key too long.
		{version: 2, apply: execAll(
			`ALTER TABLE records ADD COLUMN claimed_at INTEGER NOT NULL DEFAULT 0`,
		)},
	}
}

// execAll returns a migration step running stmts in order.
func execAll(stmts ...string) func(context.Context, *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error {
		for _, s := range stmts {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				return err
			}
		}
		return nil
	}
}

// migrate brings the schema of db up to the last of steps, in one immediate
// transaction, so concurrent openers serialise and each step runs once. A
// file at a newer version than steps know, or one belonging to another
// application, is refused before anything is written.
func migrate(ctx context.Context, db *sql.DB, steps []migration) (err error) {
	tx, err := db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: see the writer DSN
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	var version, appID int
	if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return err
	}
	if err := tx.QueryRowContext(ctx, `PRAGMA application_id`).Scan(&appID); err != nil {
		return err
	}
	latest := steps[len(steps)-1].version
	switch {
	case appID != 0 && appID != applicationID:
		return fmt.Errorf("%w: the database belongs to another application (application_id %#x)", cache.ErrUnavailable, appID)
	case version > latest:
		return fmt.Errorf("%w: the database has schema version %d, newer than this program's %d; upgrade idemhttp", cache.ErrUnavailable, version, latest)
	}
	for _, step := range steps {
		if step.version <= version {
			continue
		}
		if err := step.apply(ctx, tx); err != nil {
			return fmt.Errorf("migrating the schema to version %d: %w", step.version, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, step.version)); err != nil {
			return err
		}
	}
	return tx.Commit()
}
