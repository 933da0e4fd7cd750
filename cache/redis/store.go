package redis

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/idemhttp/idemhttp/cache"
)

// Store is a cache.Store on Redis. Create it with New; it is safe for
// concurrent use by many goroutines and many processes on many machines.
type Store struct {
	client  goredis.UniversalClient
	cfg     config
	scripts scripts
	hub     *hub
	pipe    *pipeliner // nil when pipelining is off
	closed  atomic.Bool
	// honoursContext is set when the client applies context deadlines to
	// network I/O itself (see send).
	honoursContext bool

	// lost guards the releases of claims whose reply was lost (see
	// releaseLost): Close waits for them, and none starts after it.
	lost struct {
		sync.Mutex
		closing bool
		running sync.WaitGroup
	}

	// waiting, when set by a test, is called by Wait once it listens for the
	// wake notification of a record still in flight.
	waiting func(key string)
}

var _ cache.Store = (*Store)(nil)

// errClosed is the cause of the errors a closed Store returns.
var errClosed = errors.New("store closed")

// errInvalid is wrapped by errors about invalid arguments.
var errInvalid = errors.New("invalid argument")

// New returns a Store keeping its records in Redis through client, which may
// be a standalone, Sentinel (failover) or Cluster client. The Store does not
// own the client: Close stops the Store's pub/sub connection but leaves the
// client open.
//
// Create the client with ContextTimeoutEnabled: true where possible: go-redis
// then cuts socket waits at the per-operation deadline (WithTimeout). With a
// client that ignores context deadlines the Store still returns at the
// deadline, but the abandoned command goes on in a goroutine until the
// client's own ReadTimeout.
func New(client goredis.UniversalClient, opts ...Option) *Store {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	s := &Store{
		client:  client,
		cfg:     cfg,
		scripts: newScripts(),
		hub:     newHub(client, cfg.timeout),

		honoursContext: honoursContext(client),
	}
	if cfg.pipelining {
		s.pipe = newPipeliner(client, s.honoursContext)
	}
	return s
}

// Close stops the Store's pub/sub connection and its pipelining goroutines,
// waits for the releases of claims whose reply was lost (see Claim), and
// wakes every Wait, which returns an error wrapping cache.ErrUnavailable.
// Calls still queued for the pipeline, and later calls of any method, fail
// the same way. Close does not close the Redis client.
//
// A pipeline already written to a server that does not answer may hold
// Close until the pipeline's deadline (WithTimeout), with a client created
// with ContextTimeoutEnabled; with another client Close abandons it to the
// client's own ReadTimeout.
func (s *Store) Close() error {
	s.lost.Lock()
	s.lost.closing = true
	s.lost.Unlock()
	s.lost.running.Wait()
	if s.closed.Swap(true) {
		return nil
	}
	if s.pipe != nil {
		s.pipe.close()
	}
	s.hub.close()
	return nil
}

// recordKey is the Redis key of the record under key.
func (s *Store) recordKey(key string) string { return s.cfg.prefix + key }

// wakeChannel is the pub/sub channel on which changes of the record under key
// are announced.
func (s *Store) wakeChannel(key string) string { return s.cfg.prefix + "wake:" + key }

// send sends cmd to Redis, pipelined with the commands of other goroutines
// unless pipelining is off, and returns it with its reply. It is bounded by
// the store's timeout; a failure to get the reply is reported as
// cache.ErrUnavailable, as is any call on a closed store.
//
// go-redis applies a context's deadline to socket reads only when the client
// was created with ContextTimeoutEnabled; otherwise a server that accepts
// but does not answer holds a command for the client's ReadTimeout. So
// unless the client honours contexts, a command sent by itself runs in its
// own goroutine and send returns at the deadline, leaving the command to end
// on the client's own timeouts. A pipelined call always returns when its
// context ends (see pipeliner.do).
func (s *Store) send(ctx context.Context, op, key string, cmd *command) (goredis.Cmder, error) {
	if s.closed.Load() {
		return nil, s.unavailable(op, key, errClosed)
	}
	if d, ok := ctx.Deadline(); !ok || time.Until(d) > s.cfg.timeout {
		// No timer when the caller's deadline is sooner (the transport
		// bounds settling by its own store timeout).
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.timeout)
		defer cancel()
	}
	var (
		sent goredis.Cmder
		err  error
	)
	if s.pipe != nil {
		sent, err = s.pipe.do(ctx, cmd)
	} else {
		sent, err = boundedBy(ctx, s.honoursContext, func(ctx context.Context) (goredis.Cmder, error) {
			return sendDirect(ctx, s.client, cmd)
		})
	}
	if err != nil {
		return nil, s.unavailable(op, key, err)
	}
	return sent, nil
}

// sendAs is send for a command whose reply is a C.
func sendAs[C goredis.Cmder](ctx context.Context, s *Store, op, key string, cmd *command) (C, error) {
	var zero C
	sent, err := s.send(ctx, op, key, cmd)
	if err != nil {
		return zero, err
	}
	c, ok := sent.(C)
	if !ok {
		return zero, s.unavailable(op, key, fmt.Errorf("unexpected reply %T", sent))
	}
	return c, nil
}

// boundedBy runs f(ctx), returning by ctx's end even if f does not when
// direct is false.
func boundedBy[T any](ctx context.Context, direct bool, f func(ctx context.Context) (T, error)) (T, error) {
	if direct {
		return f(ctx)
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := f(ctx)
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// honoursContext reports whether client applies context deadlines to its
// network I/O (go-redis' ContextTimeoutEnabled).
func honoursContext(client goredis.UniversalClient) bool {
	switch c := client.(type) {
	case *goredis.Client:
		return c.Options().ContextTimeoutEnabled
	case *goredis.ClusterClient:
		return c.Options().ContextTimeoutEnabled
	case *goredis.Ring:
		return c.Options().ContextTimeoutEnabled
	}
	return false
}

// run runs a script on the record under key, bounded by the store's timeout.
func (s *Store) run(ctx context.Context, op, key string, sc *goredis.Script, args ...any) (any, error) {
	cmd, err := sendAs[*goredis.Cmd](ctx, s, op, key, scriptCommand(sc, []string{s.recordKey(key)}, args))
	if err != nil {
		return nil, err
	}
	return cmd.Val(), nil
}

// runGuarded runs a script that answers with a result code, and maps the
// code to nil or the matching cache error.
func (s *Store) runGuarded(ctx context.Context, op, key string, sc *goredis.Script, args ...any) error {
	v, err := s.run(ctx, op, key, sc, args...)
	if err != nil {
		return err
	}
	code, ok := v.(int64)
	switch {
	case !ok:
	case code == codeOK:
		return nil
	case code == codeFenced:
		return s.fail(op, key, cache.ErrFenced)
	case code == codeNotFound:
		return s.fail(op, key, cache.ErrNotFound)
	case code == codeNotInDoubt:
		return s.fail(op, key, cache.ErrNotInDoubt)
	}
	return s.unavailable(op, key, fmt.Errorf("unexpected reply %#v", v))
}

// fail returns err about op on key.
func (s *Store) fail(op, key string, err error) error {
	return fmt.Errorf("idemhttp/cache/redis: %s %q: %w", op, key, err)
}

// unavailable returns an error wrapping cache.ErrUnavailable and cause.
func (s *Store) unavailable(op, key string, cause error) error {
	return fmt.Errorf("idemhttp/cache/redis: %s %q: %w: %w", op, key, cache.ErrUnavailable, cause)
}

// invalid returns an error about a bad argument of op.
func (s *Store) invalid(op, key, format string, args ...any) error {
	return fmt.Errorf("idemhttp/cache/redis: %s %q: %w: %s", op, key, errInvalid, fmt.Sprintf(format, args...))
}

// millis converts a duration to whole milliseconds, rounding up so that a
// sub-millisecond duration does not become zero; d <= 0 is 0.
func millis(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// checkLease reports a non-positive lease as invalid.
func (s *Store) checkLease(op, key string, lease time.Duration) error {
	if lease <= 0 {
		return s.invalid(op, key, "lease %v must be positive", lease)
	}
	return nil
}

// checkEntry reports a nil entry as invalid and a large one as too large.
func (s *Store) checkEntry(op, key string, e *cache.Entry) error {
	if e == nil {
		return s.invalid(op, key, "nil entry")
	}
	if n := e.Size(); s.cfg.maxEntryBytes > 0 && n > s.cfg.maxEntryBytes {
		return s.fail(op, key, fmt.Errorf("%w: %d bytes, bound %d", cache.ErrEntryTooLarge, n, s.cfg.maxEntryBytes))
	}
	return nil
}
