package redis

import (
	"context"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// pollInterval bounds a Wait that cannot listen on pub/sub: it returns after
// at most this long, so that the caller looks at the record again.
const pollInterval = 250 * time.Millisecond

// Wait blocks until the record under key may have changed hands, so that a
// caller that got cache.Busy from Claim learns promptly when to claim again.
// It returns nil when the record was completed, released, marked in doubt,
// resolved or deleted (a notification on the record's wake channel arrived),
// when the record is found not to be held any more, when its lease or until
// passes, whichever is first; it returns ctx.Err() when ctx ends first, and an
// error wrapping cache.ErrUnavailable when the Store is closed.
//
// Wait may return nil early — when Redis restarts, the pub/sub connection
// breaks, or pub/sub is unavailable (then Wait polls: it returns after at
// most 250ms) — so the caller must always look at the record again, with
// Claim. Wait never changes the record.
//
// Listening costs a SUBSCRIBE on the Store's one shared pub/sub connection
// and one read of the record (to close the race with a completion that came
// before the subscription); the hand-off itself is the PUBLISH that the
// completing script makes.
//
// Store implements this method for the transport, which detects it with an
// interface assertion:
//
//	type Waiter interface {
//		Wait(ctx context.Context, key string, until time.Time) error
//	}
func (s *Store) Wait(ctx context.Context, key string, until time.Time) error {
	const op = "wait"
	if s.closed.Load() {
		return s.unavailable(op, key, errClosed)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if !time.Now().Before(until) {
		return nil
	}
	w := s.hub.join(ctx, s.wakeChannel(key))
	defer s.hub.leave(w)

	deadline := earliest(until, time.Now().Add(pollInterval))
	if w.ready != nil {
		confirm := time.NewTimer(s.cfg.timeout)
		select {
		case <-w.ready:
			confirm.Stop()
			held, lease, err := s.heldUntil(ctx, key)
			if err == nil && !held {
				return nil
			}
			if err == nil {
				deadline = earliest(until, lease)
				if s.waiting != nil {
					s.waiting(key)
				}
			}
		case <-w.woken:
			confirm.Stop()
			return s.woke(op, key)
		case <-confirm.C:
			// The subscription was not confirmed in time: poll.
		case <-ctx.Done():
			confirm.Stop()
			return ctx.Err()
		}
	}

	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-w.woken:
		return s.woke(op, key)
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// woke is what Wait returns once its waiter was woken.
func (s *Store) woke(op, key string) error {
	if s.closed.Load() {
		return s.unavailable(op, key, errClosed)
	}
	return nil
}

// heldUntil reports whether the record under key is in flight with a lease
// that has not passed, and until when.
func (s *Store) heldUntil(ctx context.Context, key string) (bool, time.Time, error) {
	recordKey := s.recordKey(key)
	cmd, err := sendAs[*goredis.SliceCmd](ctx, s, "wait", key,
		readCommand(func(ctx context.Context, c goredis.Cmdable) goredis.Cmder { return c.HMGet(ctx, recordKey, "s", "l") }))
	if err != nil {
		return false, time.Time{}, err
	}
	fields := cmd.Val()
	if state, _ := fields[0].(string); state != stateInFlight {
		return false, time.Time{}, nil
	}
	lease, err := parseMillisField("l", stringOf(fields[1]))
	if err != nil {
		return false, time.Time{}, s.unavailable("wait", key, err)
	}
	return lease.After(time.Now()), lease, nil
}

// stringOf returns v when it is a string, else "".
func stringOf(v any) string {
	s, _ := v.(string)
	return s
}

// earliest returns the earlier of a and b.
func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
