package redis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/idemhttp/idemhttp/cache"
)

// Claim tries to take the record for key with the given request fingerprint,
// holding it for lease. It is one round trip to Redis, also when it replays a
// completed record. The lease is measured on the Redis server's clock, so
// Claim.Until of a Busy record is the same instant for every machine.
//
// Each call draws a new token, so a client retry of the call (go-redis
// MaxRetries, after the connection failed with the script run and its reply
// lost) finds the record in flight under its own token and answers as the
// first run did: Acquired, flagged in doubt if the claim took over.
//
// A Claim that fails for want of a reply (a timeout, a broken connection)
// may have run on the server and left a claim that nobody holds: it would
// keep the key busy for the lease, then pass as in doubt, though the caller,
// told the store failed, sent nothing under it. So the Store undoes it in
// the background, bounded by WithTimeout: a new claim is deleted, a
// takeover goes back to in doubt (an earlier attempt may have executed);
// a claim that never ran is not there to undo.
func (s *Store) Claim(ctx context.Context, key, fingerprint string, lease time.Duration) (cache.Claim, error) {
	const op = "claim"
	if err := s.checkLease(op, key, lease); err != nil {
		return cache.Claim{}, err
	}
	token := newToken()
	v, err := s.run(ctx, op, key, s.scripts.claim,
		fingerprint, formatToken(token), millis(lease), millis(s.cfg.abandonedTTL))
	if err != nil {
		s.releaseLost(key, token)
		return cache.Claim{}, err
	}
	c, err := parseClaim(v, token)
	if err != nil {
		return cache.Claim{}, s.unavailable(op, key, err)
	}
	return c, nil
}

// releaseLost undoes, in the background, the claim under token that a Claim
// whose reply was lost may have left on key (see abandonLua); finding no
// such claim, it changes nothing. None starts once Close has begun.
func (s *Store) releaseLost(key string, token cache.Token) {
	s.lost.Lock()
	defer s.lost.Unlock()
	if s.lost.closing {
		return
	}
	s.lost.running.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.timeout)
		defer cancel()
		_ = s.runGuarded(ctx, "abandon lost claim", key, s.scripts.abandon, s.wakeChannel(key), formatToken(token))
	})
}

// parseClaim reads the reply of the claim script (see claimLua).
func parseClaim(v any, token cache.Token) (cache.Claim, error) {
	switch v := v.(type) {
	case string:
		e, err := decodeEntry([]byte(v))
		if err != nil {
			return cache.Claim{}, err
		}
		return cache.Claim{Outcome: cache.Completed, Entry: e}, nil
	case int64:
		switch {
		case v == replyAcquired:
			return cache.Claim{Outcome: cache.Acquired, Token: token}, nil
		case v == replyMismatch:
			return cache.Claim{Outcome: cache.Mismatch}, nil
		case v > 0:
			return cache.Claim{Outcome: cache.Busy, Until: time.UnixMilli(v)}, nil
		}
	case []any:
		// A takeover: {first-claim time}, 0 for a record written before
		// the first-claim time was kept.
		if since, ok := singleInt(v); ok {
			c := cache.Claim{Outcome: cache.Acquired, Token: token, InDoubt: true}
			if since != 0 {
				c.Since = time.UnixMilli(since)
			}
			return c, nil
		}
	}
	return cache.Claim{}, fmt.Errorf("unexpected claim reply %#v", v)
}

// singleInt returns the integer of a one-element array reply.
func singleInt(reply []any) (int64, bool) {
	if len(reply) != 1 {
		return 0, false
	}
	n, ok := reply[0].(int64)
	return n, ok
}

// Renew extends the lease of a held claim to lease from now. It fails with
// cache.ErrFenced when the claim is no longer held.
func (s *Store) Renew(ctx context.Context, key string, token cache.Token, lease time.Duration) error {
	const op = "renew"
	if err := s.checkLease(op, key, lease); err != nil {
		return err
	}
	return s.runGuarded(ctx, op, key, s.scripts.renew,
		millis(lease), formatToken(token), millis(s.cfg.abandonedTTL))
}

// Complete records entry for a held claim, kept for ttl (ttl <= 0: until
// deleted), and wakes the waiters of key. A zero Entry.StoredAt is recorded
// as the time of the call. It is one round trip. It fails with
// cache.ErrFenced when the claim is no longer held — including when the
// record vanished (Redis restarted empty, or evicted it under maxmemory):
// Complete never recreates a record it does not hold. A second call for
// the same claim is fenced too; a client retry of this call (go-redis
// MaxRetries) after it completed the record succeeds, writing nothing.
func (s *Store) Complete(ctx context.Context, key string, token cache.Token, entry *cache.Entry, ttl time.Duration) error {
	const op = "complete"
	if err := s.checkEntry(op, key, entry); err != nil {
		return err
	}
	return s.runGuarded(ctx, op, key, s.scripts.complete,
		s.wakeChannel(key), formatToken(token), newCallID(), millis(ttl), encodeEntry(entry, time.Now()))
}

// Release drops a held claim, making key absent, and wakes its waiters.
//
// It fails with cache.ErrFenced when the claim is not held, the key absent
// included (as for every cache.Store). So a client retry is not recognised
// here: when go-redis sends the command again (MaxRetries) because the
// connection failed after Release ran, the retry finds the key absent and
// Release fails with cache.ErrFenced, though it did release the claim.
// Nothing is lost: the key is absent as asked (unless a new claim has
// taken it since), and Redis keeps nothing of a released claim by which
// to tell its own retry from a stale holder's.
func (s *Store) Release(ctx context.Context, key string, token cache.Token) error {
	return s.runGuarded(ctx, "release", key, s.scripts.release,
		s.wakeChannel(key), formatToken(token))
}

// MarkInDoubt turns a held claim into an in-doubt record kept for ttl (ttl
// <= 0: until resolved or deleted), and wakes the waiters of key. Like
// Complete, it fails with cache.ErrFenced when the claim is no longer held,
// and a client retry of this call after it ran succeeds, writing nothing.
func (s *Store) MarkInDoubt(ctx context.Context, key string, token cache.Token, ttl time.Duration) error {
	return s.runGuarded(ctx, "mark in doubt", key, s.scripts.markInDoubt,
		s.wakeChannel(key), formatToken(token), newCallID(), millis(ttl))
}

// Resolve settles an in-doubt record, or an in-flight one whose lease has
// expired: a non-nil entry completes it for ttl (ttl <= 0: until deleted), a
// nil entry makes the key absent. It wakes the waiters of key.
//
// A client retry (go-redis MaxRetries) of a Resolve with an entry, after it
// completed the record, succeeds, writing nothing. A Resolve with a nil
// entry leaves nothing behind to recognise: retried after it ran, it fails
// with cache.ErrNotFound, the key being absent as asked.
func (s *Store) Resolve(ctx context.Context, key string, entry *cache.Entry, ttl time.Duration) error {
	const op = "resolve"
	args := []any{s.wakeChannel(key), newCallID(), int64(0)}
	if entry != nil {
		if err := s.checkEntry(op, key, entry); err != nil {
			return err
		}
		args = append(args[:2], millis(ttl), encodeEntry(entry, time.Now()))
	}
	return s.runGuarded(ctx, op, key, s.scripts.resolve, args...)
}

// Get returns the record under key, or an error wrapping cache.ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) (cache.Record, error) {
	const op = "get"
	recordKey := s.recordKey(key)
	cmd, err := sendAs[*goredis.MapStringStringCmd](ctx, s, op, key,
		readCommand(func(ctx context.Context, c goredis.Cmdable) goredis.Cmder { return c.HGetAll(ctx, recordKey) }))
	if err != nil {
		return cache.Record{}, err
	}
	fields := cmd.Val()
	if len(fields) == 0 {
		return cache.Record{}, s.fail(op, key, cache.ErrNotFound)
	}
	r, err := parseRecord(key, fields)
	if err != nil {
		return cache.Record{}, s.unavailable(op, key, err)
	}
	return r, nil
}

// Delete forgets the record under key, whatever its state, and wakes its
// waiters. Deleting an absent key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	return s.runGuarded(ctx, "delete", key, s.scripts.delete, s.wakeChannel(key))
}

// newToken returns a random non-zero fencing token.
func newToken() cache.Token {
	for {
		if t := rand.Uint64(); t != 0 {
			return cache.Token(t)
		}
	}
}

// newCallID returns a random non-zero id for one call of Complete,
// MarkInDoubt or Resolve, as stored in the record it settles (field t), so
// that the script recognises a client retry of the same call.
func newCallID() string { return formatToken(newToken()) }

// formatToken is the token as stored in the record.
func formatToken(t cache.Token) string { return strconv.FormatUint(uint64(t), 10) }
