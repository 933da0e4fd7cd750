// Package cache defines the record store behind idemhttp: a small state machine
// per record key that every backend (memory, SQLite, Redis, or a user's own)
// implements the same way, and the in-memory store that is the default.
//
// The state machine, for one record key:
//
//	absent ──Claim──▶ in-flight(token, lease) ──Complete(token)──▶ completed(entry, ttl)
//	                     │ ──Release(token)────▶ absent
//	                     │ ──MarkInDoubt(token)▶ in-doubt (until resolved, or ttl)
//	                     └ lease expires ──────▶ claimable; the next claim is flagged in doubt
//	in-doubt ──Claim──▶ in-flight again, the claim flagged in doubt
//	in-doubt ──Resolve(entry)──▶ completed      ──Resolve(nil)──▶ absent
//
// A claim carries a fencing token: once a lease has expired and another caller
// has claimed the record, the old holder's Renew, Complete, Release and
// MarkInDoubt fail with ErrFenced, so a slow holder can never overwrite the
// outcome of the holder that replaced it.
//
// Every record also carries the fingerprint of the request that created it.
// A Claim with a different fingerprint never changes the record: it reports
// Mismatch, which the transport turns into idemhttp.ErrKeyReused.
//
// The package cachetest holds the conformance suite every Store must pass.
package cache

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// Errors returned by stores. Stores wrap them with %w; test with errors.Is.
var (
	// ErrUnavailable means the store could not be reached or could not answer
	// (I/O error, closed store, corrupt record, timeout). It wraps the cause.
	// idemhttp.ErrStoreUnavailable is this same value.
	ErrUnavailable = errors.New("idemhttp/cache: store unavailable")

	// ErrFenced means the caller no longer holds the claim: its lease expired
	// and another caller claimed the record, or the record was completed,
	// released, resolved or deleted since.
	ErrFenced = errors.New("idemhttp/cache: claim no longer held (fenced)")

	// ErrNotFound means there is no record under the key.
	ErrNotFound = errors.New("idemhttp/cache: record not found")

	// ErrNotInDoubt means Resolve was called on a record that is not in doubt.
	ErrNotInDoubt = errors.New("idemhttp/cache: record is not in doubt")

	// ErrEntryTooLarge means a store refused an entry over its size bound.
	// The claim is still held; the caller decides what to record instead.
	ErrEntryTooLarge = errors.New("idemhttp/cache: entry too large for store")
)

// DefaultAbandonedTTL is how long stores remember a claim whose lease expired
// without being completed, released or marked in doubt (a crashed holder).
// While remembered, the next Claim is flagged InDoubt; once forgotten, the key
// is absent again and the operation, which may have executed, can run again.
// So it is as long as idemhttp keeps a record marked in doubt by default
// (Policy.InDoubtTTL): a crashed holder's operation is just as much in doubt.
// Stores take an option to change it.
const DefaultAbandonedTTL = 7 * 24 * time.Hour

// Token is a fencing token identifying one claim of one record. Stores issue
// non-zero tokens that do not repeat for a key (random 64-bit values or a
// store-wide counter).
type Token uint64

// Outcome is what Claim found.
type Outcome int

// Claim outcomes.
const (
	// Acquired: the caller holds the record until its lease ends, and must
	// Complete, Release or MarkInDoubt it (or Renew to keep it).
	Acquired Outcome = iota + 1
	// Completed: the operation finished before; Claim.Entry holds the result.
	Completed
	// Busy: another caller holds the record until Claim.Until.
	Busy
	// Mismatch: the record was created by a request with another fingerprint.
	// Nothing was changed.
	Mismatch
)

// String returns the outcome's name.
func (o Outcome) String() string {
	switch o {
	case Acquired:
		return "acquired"
	case Completed:
		return "completed"
	case Busy:
		return "busy"
	case Mismatch:
		return "mismatch"
	}
	return "unknown"
}

// Claim is the answer of Store.Claim.
type Claim struct {
	Outcome Outcome
	// Token is the fencing token of an Acquired claim.
	Token Token
	// InDoubt is set on an Acquired claim when an earlier attempt may have
	// taken effect: the record was in doubt, or a previous holder's lease
	// expired without an outcome.
	InDoubt bool
	// Entry is the recorded result of a Completed record.
	Entry *Entry
	// Until is when the other holder's lease ends, for Busy.
	Until time.Time
	// Since is, for an Acquired claim flagged InDoubt, when the record was
	// first claimed: the earliest moment the operation may have been sent.
	// Takeovers and MarkInDoubt keep it. A caller re-sending with the same
	// key uses it to check that the provider still remembers the key.
	Since time.Time
}

// State is the state of a stored record, as reported by Get.
type State int

// Record states.
const (
	// InFlight: claimed; LeaseUntil says until when. A record whose lease has
	// passed is still InFlight here, and its next claim is flagged in doubt.
	InFlight State = iota + 1
	// InDoubt: the operation may or may not have taken effect.
	InDoubt
	// Done: completed, with an Entry.
	Done
)

// String returns the state's name.
func (s State) String() string {
	switch s {
	case InFlight:
		return "in-flight"
	case InDoubt:
		return "in-doubt"
	case Done:
		return "completed"
	}
	return "unknown"
}

// Record is a stored record, as reported by Get (for inspection and tools).
type Record struct {
	Key         string
	State       State
	Fingerprint string
	// Token and LeaseUntil describe the current claim of an InFlight record.
	Token      Token
	LeaseUntil time.Time
	// ClaimInDoubt is set on an InFlight record whose claim was flagged in doubt.
	ClaimInDoubt bool
	// Entry is the result of a Done record.
	Entry *Entry
	// ExpiresAt is when the store forgets the record (zero: not set).
	ExpiresAt time.Time
	// Since is when the record was first claimed (see Claim.Since).
	Since time.Time
}

// Entry is a recorded response. Stores keep it byte for byte.
type Entry struct {
	Status int
	// Header holds the response headers minus hop-by-hop headers and
	// credentials (the transport filters them before Complete).
	Header http.Header
	Body   []byte
	// BodyOmitted is set when the response body was larger than the record
	// bound: the operation completed, but only its status and headers were kept.
	BodyOmitted bool
	// StoredAt is when the entry was recorded.
	StoredAt time.Time
}

// Size is the number of bytes the entry accounts for in a bounded store:
// body, header names and values, and a small fixed overhead.
func (e *Entry) Size() int {
	n := 64 + len(e.Body)
	for k, vs := range e.Header {
		n += len(k)
		for _, v := range vs {
			n += len(v) + 8
		}
	}
	return n
}

// Store records the outcome of operations under record keys. All methods are
// safe for concurrent use, from several goroutines and, for stores that say
// so, several processes. A store that cannot answer returns an error wrapping
// ErrUnavailable.
type Store interface {
	// Claim tries to take the record for key with the given request
	// fingerprint, holding it for lease. See the package doc for the states.
	Claim(ctx context.Context, key, fingerprint string, lease time.Duration) (Claim, error)
	// Renew extends the lease of a held claim to lease from now.
	Renew(ctx context.Context, key string, token Token, lease time.Duration) error
	// Complete records entry for a held claim; the record is kept for ttl.
	Complete(ctx context.Context, key string, token Token, entry *Entry, ttl time.Duration) error
	// Release drops a held claim: the key is absent again.
	Release(ctx context.Context, key string, token Token) error
	// MarkInDoubt turns a held claim into an in-doubt record, kept for ttl.
	MarkInDoubt(ctx context.Context, key string, token Token, ttl time.Duration) error
	// Resolve settles an in-doubt record (or an in-flight one whose lease has
	// expired): a non-nil entry completes it for ttl, a nil entry makes the
	// key absent. Any other state returns ErrNotInDoubt; no record, ErrNotFound.
	Resolve(ctx context.Context, key string, entry *Entry, ttl time.Duration) error
	// Get returns the record under key, or ErrNotFound.
	Get(ctx context.Context, key string) (Record, error)
	// Delete forgets the record under key, whatever its state. Deleting an
	// absent key is not an error.
	Delete(ctx context.Context, key string) error
}

// Waiter is implemented by stores that can tell a waiting caller promptly
// when a record held elsewhere changes (the Redis store, through pub/sub).
// Wait returns when the record under key was completed, released, marked in
// doubt, resolved or deleted, when until has passed, or when ctx ends; a nil
// error says only "look again", never what changed. Stores without it are
// polled with backoff.
type Waiter interface {
	Wait(ctx context.Context, key string, until time.Time) error
}
