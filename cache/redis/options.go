package redis

import (
	"time"

	"github.com/idemhttp/idemhttp/cache"
)

// Defaults of the options.
const (
	// DefaultPrefix is put before every record key and wake channel name.
	DefaultPrefix = "idemhttp:"
	// DefaultTimeout bounds each operation, on top of the caller's context.
	DefaultTimeout = 2 * time.Second
	// DefaultMaxEntryBytes is the largest entry (by cache.Entry.Size) that
	// Complete and Resolve accept.
	DefaultMaxEntryBytes = 16 << 20
)

// Option configures a Store.
type Option func(*config)

// config is what the options set.
type config struct {
	prefix        string
	abandonedTTL  time.Duration
	maxEntryBytes int
	timeout       time.Duration
	pipelining    bool
}

func defaultConfig() config {
	return config{
		prefix:        DefaultPrefix,
		abandonedTTL:  cache.DefaultAbandonedTTL,
		maxEntryBytes: DefaultMaxEntryBytes,
		timeout:       DefaultTimeout,
		pipelining:    true,
	}
}

// WithPrefix sets the prefix of every Redis key and channel the store uses
// (default DefaultPrefix). Stores with different prefixes share nothing. On
// Redis Cluster the prefix may hold a hash tag ("{idem}:") to keep all
// records on one shard, but that is rarely wanted: without one, records
// spread over the shards.
func WithPrefix(p string) Option {
	return func(c *config) { c.prefix = p }
}

// WithAbandonedTTL sets how long a claim whose lease expired without an
// outcome is remembered, so that the next claim is flagged in doubt (default
// cache.DefaultAbandonedTTL). Values ≤ 0 keep the default.
func WithAbandonedTTL(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.abandonedTTL = d
		}
	}
}

// WithMaxEntryBytes sets the largest entry, by cache.Entry.Size, that the
// store records (default DefaultMaxEntryBytes); larger ones are refused with
// cache.ErrEntryTooLarge. n ≤ 0 removes the bound (Redis still refuses values
// over its proto-max-bulk-len, 512 MB by default).
func WithMaxEntryBytes(n int) Option {
	return func(c *config) { c.maxEntryBytes = n }
}

// WithTimeout bounds every operation (default DefaultTimeout), on top of the
// caller's context, so that an unreachable Redis fails promptly with
// cache.ErrUnavailable. Values ≤ 0 keep the default.
func WithTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.timeout = d
		}
	}
}

// WithPipelining sets whether the store pipelines the commands of concurrent
// calls (default true): calls that arrive while the store already has two
// round trips on the wire are written together as one pipeline, on one
// connection, and each gets its own reply, which spares the server and the
// client a write and a read per call. A call that finds the store idle is
// sent at once, by itself, with or without pipelining. With false every
// call is sent by itself on a connection of the client's pool.
func WithPipelining(on bool) Option {
	return func(c *config) { c.pipelining = on }
}
