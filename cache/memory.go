package cache

import (
	"bytes"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// Defaults of NewMemory.
const (
	// DefaultMaxEntries is the default bound on the number of records.
	DefaultMaxEntries = 10_000
	// DefaultMaxBytes is the default bound on the total Entry.Size of
	// completed records.
	DefaultMaxBytes = 64 << 20
)

// sweepBatch is how many expired records one call removes at most, so that
// expiry is amortised over calls instead of stalling one of them.
const sweepBatch = 16

// errInvalidLease is returned for a lease that is not positive.
var errInvalidLease = errors.New("idemhttp/cache: lease must be positive")

// Memory is a Store that keeps records in the memory of one process. It is
// the default store of idemhttp: fast, bounded, and forgotten on restart.
//
// Memory is bounded by a number of records and by the total size of the
// completed entries. When a bound is reached it evicts the least recently
// used completed records. It never evicts in-flight or in-doubt records,
// since forgetting them could let an operation run twice: when they alone
// fill the store, Claim fails with an error wrapping ErrUnavailable.
//
// Expired records are removed when they are next accessed and, a few at a
// time, on every call, so Memory needs no background goroutine and no Close.
//
// Entries are copied in and out: callers may modify what they pass to
// Complete and Resolve, and what Claim and Get return. A zero
// Entry.StoredAt is set to the time of the call.
type Memory struct {
	mu      sync.Mutex
	records map[string]*memRecord
	// lruHead and lruTail link the completed records, most recently used
	// first; only they are evicted to make room.
	lruHead, lruTail *memRecord
	// expiry orders the records that expire, soonest first.
	expiry expiryHeap
	// bytes is the total Entry.Size of the completed records.
	bytes     int64
	lastToken Token

	maxEntries   int
	maxBytes     int64
	abandonedTTL time.Duration
	now          func() time.Time
}

// memRecord is one record of a Memory store.
type memRecord struct {
	key          string
	state        State
	fingerprint  string
	token        Token
	leaseUntil   time.Time
	claimInDoubt bool
	since        time.Time // when the record was first claimed
	entry        *Entry    // owned by the store, never modified; Done only
	size         int64     // entry.Size(); Done only
	expiresAt    time.Time
	heapIndex    int        // position in Memory.expiry, or -1
	prev, next   *memRecord // LRU links; Done only
}

// MemoryOption configures a Memory store.
type MemoryOption func(*Memory)

// WithMaxEntries bounds the number of records, in any state (default
// DefaultMaxEntries). Values below 1 leave the default.
func WithMaxEntries(n int) MemoryOption {
	return func(m *Memory) {
		if n >= 1 {
			m.maxEntries = n
		}
	}
}

// WithMaxBytes bounds the total Entry.Size of completed records (default
// DefaultMaxBytes). A larger single entry is refused with ErrEntryTooLarge.
// Values below 1 leave the default.
func WithMaxBytes(n int64) MemoryOption {
	return func(m *Memory) {
		if n >= 1 {
			m.maxBytes = n
		}
	}
}

// WithAbandonedTTL sets how long a claim whose lease expired without an
// outcome is remembered, flagging the next claim in doubt (default
// DefaultAbandonedTTL). Values ≤ 0 keep the default: a claim forgotten as
// its lease ends would let the next call run again an operation that may
// have executed.
func WithAbandonedTTL(d time.Duration) MemoryOption {
	return func(m *Memory) {
		if d > 0 {
			m.abandonedTTL = d
		}
	}
}

// WithClock sets the clock the store reads for leases and TTLs (default
// time.Now). It is meant for tests; now must be safe for concurrent use.
func WithClock(now func() time.Time) MemoryOption {
	return func(m *Memory) {
		if now != nil {
			m.now = now
		}
	}
}

// NewMemory returns an empty in-memory store.
func NewMemory(opts ...MemoryOption) *Memory {
	m := &Memory{
		records:      make(map[string]*memRecord),
		maxEntries:   DefaultMaxEntries,
		maxBytes:     DefaultMaxBytes,
		abandonedTTL: DefaultAbandonedTTL,
		now:          time.Now,
		lastToken:    Token(rand.Uint64()),
	}
	for _, opt := range opts {
		opt(m)
	}
	return m
}

// Len returns the number of records the store holds, in any state, after
// removing the expired ones.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep(m.now(), len(m.records))
	return len(m.records)
}

// Claim implements Store.
func (m *Memory) Claim(ctx context.Context, key, fingerprint string, lease time.Duration) (Claim, error) {
	if err := ctxErr(ctx); err != nil {
		return Claim{}, err
	}
	if lease <= 0 {
		return Claim{}, fmt.Errorf("%w: %v", errInvalidLease, lease)
	}
	m.mu.Lock()
	c, err := m.claimLocked(key, fingerprint, lease)
	m.mu.Unlock()
	if c.Entry != nil {
		// c.Entry is the store's own; the caller gets a copy, made outside
		// the lock.
		c.Entry = cloneEntry(c.Entry)
	}
	return c, err
}

// claimLocked is Claim under m.mu. A Completed claim carries the store's
// own entry.
func (m *Memory) claimLocked(key, fingerprint string, lease time.Duration) (Claim, error) {
	now := m.begin()
	rec := m.live(key, now)
	if rec == nil {
		if err := m.makeRoom(); err != nil {
			return Claim{}, err
		}
		rec = &memRecord{key: key, fingerprint: fingerprint, heapIndex: -1, since: now}
		m.records[key] = rec
		return Claim{Outcome: Acquired, Token: m.hold(rec, now, lease, false)}, nil
	}
	switch {
	case rec.fingerprint != fingerprint:
		return Claim{Outcome: Mismatch}, nil
	case rec.state == Done:
		m.lruUnlink(rec)
		m.lruPushFront(rec)
		return Claim{Outcome: Completed, Entry: rec.entry}, nil
	case rec.state == InFlight && now.Before(rec.leaseUntil):
		return Claim{Outcome: Busy, Until: rec.leaseUntil}, nil
	}
	// In doubt, or in flight with an expired lease: the previous attempt
	// may have taken effect.
	return Claim{Outcome: Acquired, Token: m.hold(rec, now, lease, true), InDoubt: true, Since: rec.since}, nil
}

// Renew implements Store.
func (m *Memory) Renew(ctx context.Context, key string, token Token, lease time.Duration) error {
	if lease <= 0 {
		return fmt.Errorf("%w: %v", errInvalidLease, lease)
	}
	return m.withHeld(ctx, key, token, func(rec *memRecord, now time.Time) error {
		rec.leaseUntil = now.Add(lease)
		m.extendExpiry(rec, rec.leaseUntil.Add(m.abandonedTTL))
		return nil
	})
}

// Complete implements Store.
func (m *Memory) Complete(ctx context.Context, key string, token Token, entry *Entry, ttl time.Duration) error {
	if entry == nil {
		return fmt.Errorf("memory store: Complete(%q) with a nil entry", key)
	}
	e := cloneEntry(entry)
	return m.withHeld(ctx, key, token, func(rec *memRecord, now time.Time) error {
		return m.settle(rec, e, ttl, now)
	})
}

// Release implements Store.
func (m *Memory) Release(ctx context.Context, key string, token Token) error {
	return m.withHeld(ctx, key, token, func(rec *memRecord, _ time.Time) error {
		m.remove(rec)
		return nil
	})
}

// MarkInDoubt implements Store.
func (m *Memory) MarkInDoubt(ctx context.Context, key string, token Token, ttl time.Duration) error {
	return m.withHeld(ctx, key, token, func(rec *memRecord, now time.Time) error {
		rec.state = InDoubt
		rec.token = 0
		rec.leaseUntil = time.Time{}
		rec.claimInDoubt = false
		m.setExpiry(rec, expiryAfter(now, ttl))
		return nil
	})
}

// Resolve implements Store.
func (m *Memory) Resolve(ctx context.Context, key string, entry *Entry, ttl time.Duration) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	var e *Entry
	if entry != nil {
		e = cloneEntry(entry)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.begin()
	rec := m.live(key, now)
	switch {
	case rec == nil:
		return fmt.Errorf("memory store: Resolve(%q): %w", key, ErrNotFound)
	case rec.state == Done, rec.state == InFlight && now.Before(rec.leaseUntil):
		return fmt.Errorf("memory store: Resolve(%q) of a %v record: %w", key, rec.state, ErrNotInDoubt)
	case e == nil:
		m.remove(rec)
		return nil
	}
	return m.settle(rec, e, ttl, now)
}

// Get implements Store.
func (m *Memory) Get(ctx context.Context, key string) (Record, error) {
	if err := ctxErr(ctx); err != nil {
		return Record{}, err
	}
	m.mu.Lock()
	r, err := m.getLocked(key)
	m.mu.Unlock()
	if r.Entry != nil {
		r.Entry = cloneEntry(r.Entry)
	}
	return r, err
}

// getLocked is Get under m.mu. The record carries the store's own entry.
func (m *Memory) getLocked(key string) (Record, error) {
	rec := m.live(key, m.begin())
	if rec == nil {
		return Record{}, fmt.Errorf("memory store: Get(%q): %w", key, ErrNotFound)
	}
	return Record{
		Key:          rec.key,
		State:        rec.state,
		Fingerprint:  rec.fingerprint,
		Token:        rec.token,
		LeaseUntil:   rec.leaseUntil,
		ClaimInDoubt: rec.claimInDoubt,
		Entry:        rec.entry,
		ExpiresAt:    rec.expiresAt,
		Since:        rec.since,
	}, nil
}

// Delete implements Store.
func (m *Memory) Delete(ctx context.Context, key string) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if rec := m.records[key]; rec != nil {
		m.remove(rec)
	}
	return nil
}

// ctxErr reports a context that has ended; the store answers nothing then.
func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory store: %w", err)
	}
	return nil
}

// begin reads the clock and removes a batch of expired records. The caller
// holds m.mu.
func (m *Memory) begin() time.Time {
	now := m.now()
	m.sweep(now, sweepBatch)
	return now
}

// withHeld runs f on the record under key if token holds its claim, under
// m.mu; otherwise it returns ErrFenced.
func (m *Memory) withHeld(ctx context.Context, key string, token Token, f func(*memRecord, time.Time) error) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.begin()
	rec := m.live(key, now)
	if rec == nil || rec.state != InFlight || token == 0 || rec.token != token {
		return fmt.Errorf("memory store: %q token %d: %w", key, token, ErrFenced)
	}
	return f(rec, now)
}

// live returns the unexpired record under key, removing it if it expired.
func (m *Memory) live(key string, now time.Time) *memRecord {
	rec := m.records[key]
	if rec != nil && rec.expired(now) {
		m.remove(rec)
		return nil
	}
	return rec
}

// hold gives rec a new claim and returns its token.
func (m *Memory) hold(rec *memRecord, now time.Time, lease time.Duration, inDoubt bool) Token {
	m.lastToken++
	if m.lastToken == 0 {
		m.lastToken++
	}
	rec.state = InFlight
	rec.token = m.lastToken
	rec.leaseUntil = now.Add(lease)
	rec.claimInDoubt = inDoubt
	if inDoubt {
		// Taken over from an in-doubt record or a dead holder: never
		// forget it sooner than that record would have been forgotten.
		m.extendExpiry(rec, rec.leaseUntil.Add(m.abandonedTTL))
	} else {
		m.setExpiry(rec, rec.leaseUntil.Add(m.abandonedTTL))
	}
	return rec.token
}

// extendExpiry moves rec's expiry to at, unless it is already later (or
// never: zero).
func (m *Memory) extendExpiry(rec *memRecord, at time.Time) {
	if rec.expiresAt.IsZero() || rec.expiresAt.After(at) {
		return
	}
	m.setExpiry(rec, at)
}

// settle turns rec into a completed record holding e (owned by the store),
// then evicts least recently used records until the byte bound holds.
func (m *Memory) settle(rec *memRecord, e *Entry, ttl time.Duration, now time.Time) error {
	size := int64(e.Size())
	if size > m.maxBytes {
		return fmt.Errorf("memory store: %q: entry of %d bytes over the %d-byte bound: %w",
			rec.key, size, m.maxBytes, ErrEntryTooLarge)
	}
	if e.StoredAt.IsZero() {
		e.StoredAt = now
	}
	rec.state = Done
	rec.token = 0
	rec.leaseUntil = time.Time{}
	rec.claimInDoubt = false
	rec.entry = e
	rec.size = size
	m.bytes += size
	m.lruPushFront(rec)
	m.setExpiry(rec, expiryAfter(now, ttl))
	for m.bytes > m.maxBytes && m.lruTail != rec {
		m.remove(m.lruTail)
	}
	return nil
}

// makeRoom ensures a new record fits under the entry bound by evicting least
// recently used completed records. (Expired records go first: begin has
// just removed some if there were any.)
func (m *Memory) makeRoom() error {
	for len(m.records) >= m.maxEntries && m.lruTail != nil {
		m.remove(m.lruTail)
	}
	if len(m.records) >= m.maxEntries {
		return fmt.Errorf("memory store full of in-flight/in-doubt records (%d): %w", len(m.records), ErrUnavailable)
	}
	return nil
}

// sweep removes up to limit expired records.
func (m *Memory) sweep(now time.Time, limit int) {
	for ; limit > 0 && len(m.expiry) > 0 && m.expiry[0].expired(now); limit-- {
		m.remove(m.expiry[0])
	}
}

// remove forgets rec.
func (m *Memory) remove(rec *memRecord) {
	delete(m.records, rec.key)
	if rec.state == Done {
		m.lruUnlink(rec)
		m.bytes -= rec.size
	}
	m.setExpiry(rec, time.Time{})
}

// setExpiry sets when rec expires; the zero time means never.
func (m *Memory) setExpiry(rec *memRecord, at time.Time) {
	rec.expiresAt = at
	switch {
	case at.IsZero() && rec.heapIndex >= 0:
		heap.Remove(&m.expiry, rec.heapIndex)
	case at.IsZero():
	case rec.heapIndex >= 0:
		heap.Fix(&m.expiry, rec.heapIndex)
	default:
		heap.Push(&m.expiry, rec)
	}
}

// lruPushFront links a completed record as the most recently used.
func (m *Memory) lruPushFront(rec *memRecord) {
	rec.prev, rec.next = nil, m.lruHead
	if m.lruHead != nil {
		m.lruHead.prev = rec
	} else {
		m.lruTail = rec
	}
	m.lruHead = rec
}

// lruUnlink takes a completed record out of the LRU list.
func (m *Memory) lruUnlink(rec *memRecord) {
	if rec.prev != nil {
		rec.prev.next = rec.next
	} else {
		m.lruHead = rec.next
	}
	if rec.next != nil {
		rec.next.prev = rec.prev
	} else {
		m.lruTail = rec.prev
	}
	rec.prev, rec.next = nil, nil
}

// expired reports whether rec's expiry time has come.
func (r *memRecord) expired(now time.Time) bool {
	return !r.expiresAt.IsZero() && !now.Before(r.expiresAt)
}

// expiryAfter returns now+ttl, or the zero time (never) for ttl <= 0.
func expiryAfter(now time.Time, ttl time.Duration) time.Time {
	if ttl <= 0 {
		return time.Time{}
	}
	return now.Add(ttl)
}

// inlineHeaderValues is how many header values cloneEntry allocates
// together with the entry; typical recorded responses have fewer.
const inlineHeaderValues = 8

// entryWithValues is an Entry and the backing array of its header values,
// allocated together by cloneEntry to keep replays cheap.
type entryWithValues struct {
	entry  Entry
	values [inlineHeaderValues]string
}

// cloneEntry returns a deep copy of e: a replay costs one allocation for the
// entry (and its header values when few), two for the header map and one
// for the body.
func cloneEntry(e *Entry) *Entry {
	n := 0
	for _, vs := range e.Header {
		n += len(vs)
	}
	var c *Entry
	var values []string
	if n <= inlineHeaderValues {
		box := new(entryWithValues)
		c, values = &box.entry, box.values[:n]
	} else {
		c, values = new(Entry), make([]string, n)
	}
	*c = *e
	c.Body = bytes.Clone(e.Body)
	if e.Header != nil {
		c.Header = make(http.Header, len(e.Header))
		for k, vs := range e.Header {
			if vs == nil {
				c.Header[k] = nil
				continue
			}
			n := copy(values, vs)
			c.Header[k] = values[:n:n]
			values = values[n:]
		}
	}
	return c
}

// expiryHeap is a min-heap of records by expiry time (container/heap).
type expiryHeap []*memRecord

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].expiresAt.Before(h[j].expiresAt) }

func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIndex = i
	h[j].heapIndex = j
}

func (h *expiryHeap) Push(x any) {
	rec := x.(*memRecord)
	rec.heapIndex = len(*h)
	*h = append(*h, rec)
}

func (h *expiryHeap) Pop() any {
	old := *h
	rec := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	rec.heapIndex = -1
	return rec
}
