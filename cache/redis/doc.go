// Package redis is a cache.Store on Redis (or Valkey), for agents and
// services that run on many machines and must share one record of what
// they have sent.
//
//	client := goredis.NewClient(&goredis.Options{Addr: "localhost:6379"})
//	store := redis.New(client, redis.WithPrefix("billing:"))
//	defer store.Close()
//
// It works on any go-redis v9 goredis.UniversalClient: standalone, Sentinel
// (failover) or Redis Cluster.
//
// # Records
//
// Each record is one Redis hash under prefix+key. Claim, Renew, Complete,
// Release, MarkInDoubt, Resolve and Delete are Lua scripts (EVALSHA, falling
// back to EVAL once after a script cache flush), so each is atomic, and each
// touches exactly one key, so the store runs on Redis Cluster. A claim, a
// completion and a replay (Claim on a completed record) are one round trip
// each; Get is one HGETALL.
//
// Leases are read from the Redis server's clock (TIME inside the scripts), so
// every machine agrees on when a lease ends. The key's expiry is set with
// PEXPIREAT: an in-flight record lives for its lease plus the abandoned TTL
// (WithAbandonedTTL), so that a claim whose holder crashed is still seen,
// and the next claim flagged in doubt, for that long after the lease has
// passed; a completed or in-doubt record lives for the ttl given.
//
// Fencing tokens are random non-zero 64-bit values chosen by the client and
// kept in the record. A Renew, Complete, Release or MarkInDoubt whose token
// is not the record's — or whose record has vanished — fails with
// cache.ErrFenced and changes nothing: a store never recreates a record it
// does not hold.
//
// Entries (status, headers, body, times) are stored in a compact binary
// encoding, byte for byte; a record that cannot be decoded is reported as an
// error wrapping cache.ErrUnavailable, never a panic.
//
// # Pipelining
//
// By default (see WithPipelining) the commands of calls that many goroutines
// make at about the same time are written to Redis together, as one
// pipeline on one connection, and each call gets its own reply: under load
// this spares the client and Redis a write and a read per command. There is
// no timer: a Store keeps at most two round trips on the wire; a call that
// finds one of them free sends its command itself, at once, exactly as
// without pipelining, and the calls that arrive while both are busy queue
// and go together as one pipeline as soon as one ends. Two goroutines per
// Store, started by the first call that queues and stopped by Close, send
// the queue. On Redis Cluster the pipeline is split by node. Every call
// still counts as one command (EVALSHA, or HGETALL for Get), and a script
// the server lost from its cache is sent again as EVAL.
//
// Each call keeps its own deadline: a caller whose context ends stops
// waiting at once; its command is not sent if it was still queued, and runs
// with its reply dropped if it was already written — as a command that
// times out after being written does without pipelining. Client hooks see
// queued calls as pipelines (ProcessPipelineHook), under a context of the
// Store's rather than the callers'.
//
// # Waiting for another holder
//
// Store.Wait lets a caller that got cache.Busy learn promptly that the
// holder, on whatever machine, has finished: every script that ends a claim
// PUBLISHes on the record's wake channel (prefix+"wake:"+key), and the
// Store listens with one shared pub/sub connection, opened on the first Wait
// and closed by Close. Plain PUBLISH reaches subscribers on every node of a
// Redis Cluster. When pub/sub fails (Redis restarted, the connection cut,
// SUBSCRIBE refused by an ACL) every Wait is woken to look again, and for a
// second after that Waits poll instead, returning within 250ms; a Wait may
// therefore return early, never late. The transport detects Wait with this
// interface:
//
//	type Waiter interface {
//		Wait(ctx context.Context, key string, until time.Time) error
//	}
//
// # Failures
//
// Every method is bounded by WithTimeout (default 2s) on top of the caller's
// context (see New about ContextTimeoutEnabled). When Redis cannot be reached or cannot answer (connection refused,
// timeout, OOM under maxmemory noeviction, a corrupt record), methods return
// an error wrapping cache.ErrUnavailable (and the cause, for errors.Is); the
// transport decides whether to fail open or closed. The go-redis client
// reconnects by itself: once Redis is back, the same Store works again.
//
// Client retries are safe: no script changes a record twice, and all but
// two answer a retry as they answered the first run. go-redis sends a
// command again when its connection fails after the command was written
// (MaxRetries, default 3; a pipeline is sent again whole), so a script may
// run twice, the reply of the first run lost. Each call therefore carries an id of its own that its
// script writes into the record (field t): a claim its fencing token, drawn
// afresh per Claim, and Complete, MarkInDoubt and Resolve a random call id.
// A script that finds the record in the state it would leave under its own
// id knows it already ran, answers as it did and writes nothing:
//
//   - Claim retried is Acquired — flagged in doubt, with Since, if it took
//     over — never Busy on its own claim, which would make the caller wait
//     out its own lease and send flagged in doubt though nothing was sent;
//   - Complete, MarkInDoubt and Resolve (with an entry) retried succeed,
//     where they would be fenced or refused, and the record keeps what the
//     first run wrote;
//   - Renew retried extends the lease once more; Delete retried deletes
//     whatever is there then, as a later Delete would; Get only reads.
//
// No other call has the id, so fencing is unchanged: another token is
// fenced, and so is a second Complete (or MarkInDoubt) of one claim. Only
// the two calls that make the key absent leave nothing to recognise:
// Release retried after it ran fails with cache.ErrFenced, and Resolve
// with a nil entry with cache.ErrNotFound, the key being absent as asked.
// With MaxRetries -1 (no client retries) a lost reply is reported as
// cache.ErrUnavailable instead. A Claim that fails so may still have run:
// the Store then releases, in the background, the claim it may have left
// (no one holds it, and it would keep the key busy, then in doubt), and
// Close waits for those releases.
//
// Redis is the record: what it forgets is forgotten. When Redis restarts
// without persistence, or evicts a record under maxmemory (any allkeys-*
// policy), in-flight claims vanish: the holder's Complete, Release,
// MarkInDoubt and Renew fail with cache.ErrFenced (loudly; the record is not
// recreated), and the next Claim of the key is Acquired as if new — not
// flagged in doubt, so a provider that does not de-duplicate may see the
// request twice. In-doubt and completed records are lost the same way. Where
// that matters, run Redis with appendonly yes (appendfsync everysec or
// always), replicas, and maxmemory-policy noeviction: under memory pressure
// claims then fail with cache.ErrUnavailable instead of records being
// forgotten (every record carries an expiry, so volatile-* policies evict
// them too).
package redis
