// Package sqlite is a durable cache.Store kept in one SQLite file, for
// programs whose idempotency records must survive a restart. It uses
// modernc.org/sqlite, a pure Go SQLite, so it needs no C toolchain.
//
// # Several processes
//
// Any number of processes on one machine may open the same file: every
// state change is one SQL statement whose WHERE clause checks the state it
// changes from (a claim is a single INSERT … ON CONFLICT DO UPDATE … WHERE
// claimable … RETURNING), so SQLite's write lock makes it atomic across
// processes, and two processes never both acquire a key. Leases and TTLs are
// compared with the wall clock of the caller, in milliseconds, so the
// processes sharing a file must share a clock: the file is for one machine,
// not for a network file system (use the Redis store across machines).
//
// # Durability
//
// The file is in WAL mode with synchronous=NORMAL: a committed change
// survives the crash or kill of the process at once, and survives a power
// loss or OS crash once the WAL has been checkpointed (SQLite does so every
// 1000 pages, and on close). A power loss can lose the last few changes but
// never corrupts the file. That trade (no fsync per claim) is what makes the
// store fast enough to sit on every request; the change a power loss can lose
// is a claim or a completion, after which the operation is claimed again and,
// for providers that de-duplicate by key, replayed by the provider itself.
// WithFullSync (synchronous=FULL) makes every commit survive a power loss
// too, at the cost of an fsync per claim and per completion.
//
// # Files and permissions
//
// Records can hold personal data (response bodies), so Open creates a missing
// database file with mode 0600 before SQLite opens it, and gives the -wal and
// -shm files the same mode. An existing file keeps its mode.
//
// # Schema
//
// The schema is versioned with PRAGMA user_version and upgraded forward by
// Open, in one transaction. A file written by a newer version of this package
// is refused with an error wrapping cache.ErrUnavailable and left untouched.
//
// # Expiry
//
// A record past its TTL is absent to every method at once; a background
// sweep deletes such rows in small batches so the file does not grow
// (WithSweepInterval). A claim whose lease expired without an outcome is
// remembered for the abandoned TTL (WithAbandonedTTL) so that the next claim
// is flagged in doubt; after that the key is absent again.
//
// # Errors
//
// Every database or I/O failure, and a corrupt record, is reported with an
// error wrapping cache.ErrUnavailable and its cause. A call whose context
// ends returns an error wrapping the context's error instead.
package sqlite
