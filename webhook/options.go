package webhook

import (
	"log/slog"
	"time"
)

// Defaults of Dedup.
const (
	// DefaultLease is how long a claim holds an event before another delivery
	// may take it over. Dedup renews it every third of its length while the
	// handler runs, so a slow handler keeps it and a crashed process frees it
	// soon after the crash.
	DefaultLease = 30 * time.Second

	// DefaultMaxBodyBytes bounds request bodies read by Dedup and the verifiers.
	DefaultMaxBodyBytes = 1 << 20

	// DefaultMaxRecordedBytes bounds the response body recorded for replay;
	// a longer one is recorded without its body (cache.Entry.BodyOmitted).
	DefaultMaxRecordedBytes = 64 << 10

	// storeTimeout bounds every store call, so a hung store is a failed store.
	storeTimeout = 10 * time.Second
)

// Option configures Dedup.
type Option func(*config)

type config struct {
	lease         time.Duration
	ttl           time.Duration
	wait          time.Duration
	maxBody       int64
	maxRecorded   int
	failOpen      bool
	passMissingID bool
	namespace     string
	logger        *slog.Logger
}

func newConfig(opts []Option) config {
	cfg := config{
		lease:       DefaultLease,
		maxBody:     DefaultMaxBodyBytes,
		maxRecorded: DefaultMaxRecordedBytes,
		logger:      slog.Default(),
	}
	for _, opt := range opts {
		opt(&cfg)
	}
	return cfg
}

// WithLease sets the claim lease (default DefaultLease). Values ≤ 0 keep the default.
func WithLease(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.lease = d
		}
	}
}

// WithTTL sets how long a handled delivery is remembered, overriding the
// extractor's TTL. Values ≤ 0 keep the extractor's.
func WithTTL(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.ttl = d
		}
	}
}

// WithWait makes a concurrent duplicate (the same event being handled by
// another delivery right now) wait up to max for that delivery to finish,
// then answer with its recorded response, or take over if it failed. Without
// it, or when max passes, a concurrent duplicate gets 409 Conflict with
// Retry-After, and the sender retries later. A batch delivery waits only for
// its first event held elsewhere: once it holds claims of its own, it
// answers 409 at once rather than let them lapse while it waits.
func WithWait(max time.Duration) Option {
	return func(c *config) { c.wait = max }
}

// WithMaxBodyBytes bounds the request body (default DefaultMaxBodyBytes);
// a longer one is refused with 413.
func WithMaxBodyBytes(n int64) Option {
	return func(c *config) {
		if n > 0 {
			c.maxBody = n
		}
	}
}

// WithMaxRecordedBytes bounds the recorded response body (default
// DefaultMaxRecordedBytes).
func WithMaxRecordedBytes(n int) Option {
	return func(c *config) {
		if n >= 0 {
			c.maxRecorded = n
		}
	}
}

// WithFailOpen makes Dedup call the handler without de-duplication when the
// store is unavailable. By default it fails closed: 503 Service Unavailable,
// handler not called, so the sender retries once the store is back.
func WithFailOpen() Option {
	return func(c *config) { c.failOpen = true }
}

// WithPassThroughMissingID passes deliveries (or batch events) without an
// event id to the handler, undeduplicated. By default such a delivery is
// refused with 400 Bad Request naming what is missing.
func WithPassThroughMissingID() Option {
	return func(c *config) { c.passMissingID = true }
}

// WithNamespace adds ns to every record key, to separate endpoints that
// receive from the same sender but different accounts into one store.
func WithNamespace(ns string) Option {
	return func(c *config) { c.namespace = ns }
}

// WithLogger sets where store failures and lost claims are logged
// (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}
