package sqlite

import (
	"fmt"
	"time"

	"github.com/idemhttp/idemhttp/cache"
)

// Defaults of Open.
const (
	// DefaultBusyTimeout is how long a statement waits for another process's
	// lock on the file before failing.
	DefaultBusyTimeout = 5 * time.Second
	// DefaultSweepInterval is how often expired records are deleted.
	DefaultSweepInterval = time.Minute
	// DefaultMaxEntryBytes bounds the Entry.Size of one recorded entry.
	DefaultMaxEntryBytes = 16 << 20
)

// config is what the options set.
type config struct {
	abandonedTTL  time.Duration
	busyTimeout   time.Duration
	sweepInterval time.Duration
	maxEntryBytes int
	fullSync      bool
}

func defaultConfig() config {
	return config{
		abandonedTTL:  cache.DefaultAbandonedTTL,
		busyTimeout:   DefaultBusyTimeout,
		sweepInterval: DefaultSweepInterval,
		maxEntryBytes: DefaultMaxEntryBytes,
	}
}

// validate reports an option value Open cannot use.
func (c config) validate() error {
	switch {
	case c.abandonedTTL < 0:
		return fmt.Errorf("sqlite: negative abandoned TTL %v", c.abandonedTTL)
	case c.busyTimeout < 0:
		return fmt.Errorf("sqlite: negative busy timeout %v", c.busyTimeout)
	case c.sweepInterval < 0:
		return fmt.Errorf("sqlite: negative sweep interval %v", c.sweepInterval)
	case c.maxEntryBytes < 1:
		return fmt.Errorf("sqlite: max entry bytes %d is not positive", c.maxEntryBytes)
	}
	return nil
}

// Option configures a Store opened by Open.
type Option func(*config)

// WithAbandonedTTL sets how long a claim whose lease expired without an
// outcome (a crashed holder) is remembered, flagging the next claim in doubt
// (default cache.DefaultAbandonedTTL). Zero keeps the default, as with the
// other stores; a negative value is an error from Open.
func WithAbandonedTTL(d time.Duration) Option {
	return func(c *config) {
		if d != 0 {
			c.abandonedTTL = d
		}
	}
}

// WithBusyTimeout sets how long a statement waits for a lock held by another
// process (or another program) before failing with an error wrapping
// cache.ErrUnavailable (default DefaultBusyTimeout).
func WithBusyTimeout(d time.Duration) Option {
	return func(c *config) { c.busyTimeout = d }
}

// WithSweepInterval sets how often a background goroutine deletes expired
// records, in batches of a few hundred rows (default DefaultSweepInterval).
// Zero disables the background sweep; expired records are still absent to
// every method, and Sweep deletes them on demand.
func WithSweepInterval(d time.Duration) Option {
	return func(c *config) { c.sweepInterval = d }
}

// WithMaxEntryBytes bounds the Entry.Size of one recorded entry (default
// DefaultMaxEntryBytes). Complete and Resolve refuse a larger entry with
// cache.ErrEntryTooLarge and leave the record as it was.
func WithMaxEntryBytes(n int) Option {
	return func(c *config) { c.maxEntryBytes = n }
}

// WithFullSync makes every committed claim and completion survive a power
// loss or OS crash, not only a crash of the process (SQLite's
// synchronous=FULL: an fsync per commit instead of per checkpoint). Use it
// where a lost completion would send an operation again to a provider that
// does not de-duplicate, and the disk's fsync is cheap enough to sit on
// every call.
func WithFullSync() Option {
	return func(c *config) { c.fullSync = true }
}
