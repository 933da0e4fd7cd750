package redis

import goredis "github.com/redis/go-redis/v9"

// A record is one Redis hash under prefix+key, with these fields:
//
//	s  state: "f" in flight, "d" in doubt, "c" completed
//	p  fingerprint of the request that created the record
//	t  the id (decimal uint64, random, never 0) of the call that made the
//	   current state: in flight, the claim's fencing token; completed or
//	   in doubt, the id of the Complete, MarkInDoubt or Resolve that
//	   settled the record, or the token of a takeover whose lost reply was
//	   undone (abandonLua); absent in records settled before it was kept
//	l  lease deadline, Unix ms of the server clock, in flight only
//	q  "1" when the in-flight claim is flagged in doubt, in flight only;
//	   absent (or "0", in records written before it was left out) when not
//	e  encoded cache.Entry, completed only
//	x  expiry deadline, Unix ms of the server clock (the key's PEXPIREAT),
//	   or 0: kept until deleted
//	i  when the record was first claimed, Unix ms of the server clock: set
//	   when a claim creates the record, kept by every later claim and by
//	   Complete, MarkInDoubt and Resolve; absent in records written before
//	   it was added
//
// Every script touches exactly KEYS[1], so each runs on Redis Cluster
// and Valkey, and reads the clock with TIME, so leases mean the same on every
// machine. Scripts that change the outcome of a claim PUBLISH on ARGV[1], the
// record's wake channel, so that waiters elsewhere learn of it at once.
//
// The scripts are written for a low cost on the server, which runs them one
// at a time: no helper functions (a script's text runs afresh on every
// call, so each would be a new closure each time), as few redis.call as the
// outcome needs, and records changed in place rather than rewritten.
//
// Times are Unix ms in Lua numbers, which are doubles: exact, since every
// value is far below 2^53 (ms since 1970, plus a lease and an abandoned
// TTL, each a time.Duration, below 2^44 ms). They reach Redis as strings
// made by string.format('%d'), never as numbers, which Redis would format
// itself and, from 7.2 on, writes in exponent notation (1.7e+12) when they
// end in enough zeros. Scripts reply with integers and strings rather than
// arrays where they can: an array reply costs Redis more.
//
// Under maxmemory with noeviction, Redis refuses a command that may add
// memory (HSET) when it is the first write of a script, and lets it through
// after another write. So a claim of a new key starts with HSET, which is
// refused when Redis is full; every script that replaces a record (a
// takeover, Complete, MarkInDoubt, Resolve) first writes with a command
// that adds nothing (PEXPIREAT, PERSIST, HDEL, DEL), so that records already
// held still move on when Redis is full.
//
// A client may run a script twice: go-redis sends a command again (up to
// MaxRetries times; a pipeline whole) when the connection fails after the
// command was written, so the first run may have changed the record and
// its reply been lost. So each call carries an id of its own, which it
// writes as t: a claim its fencing token, Complete, MarkInDoubt and Resolve
// a random call id. A script that finds the record in the state it would
// leave, under its own id, answers as its first run did and writes
// nothing, so it passes on a full Redis too. No other call has that id
// (ids are random 64-bit values drawn per call, and every change of state
// writes its own), so a different token is fenced, and a second Complete
// of a claim refused, as before. Renew and Delete are idempotent as they
// are. Release, and Resolve with no entry, make the key absent and leave
// nothing to recognise: run again they answer fenced and not found (see
// Store.Release and Store.Resolve).

// Result codes of the token-guarded and Resolve scripts.
const (
	codeOK         = 1
	codeFenced     = 0
	codeNotFound   = -1
	codeNotInDoubt = -2
)

// Integer replies of the claim script; any other integer is the lease
// deadline of a Busy record (see claimLua).
const (
	replyAcquired = 0
	replyMismatch = -1
)

// Values of the record's fields.
const (
	stateInFlight  = "f"
	stateInDoubt   = "d"
	stateCompleted = "c"
	claimFlagged   = "1"
)

// luaNow sets the local now to the server's clock, Unix ms.
const luaNow = `local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
`

// luaCorrupt is the start of the error reply about a corrupt record: the
// script appends what is wrong and a closing ')'.
const luaCorrupt = `redis.error_reply('idemhttp: corrupt record ' .. KEYS[1] .. ': `

// luaHeld sets the locals key and fmt, and ends the script with 0 (fenced)
// unless the record is in flight under the token ARGV[2].
const luaHeld = `local key, fmt = KEYS[1], string.format
local r = redis.call('HMGET', key, 's', 't')
if r[1] ~= 'f' or r[2] ~= ARGV[2] then return 0 end
`

// luaHeldOrSettled is luaHeld for a script that settles the record into
// the state in the local done ("c" or "d") under the call id ARGV[3]: a
// record already in that state under that id was settled by this very
// call, run again by the client after its reply was lost, so the script
// ends with 1, writing nothing. Any other record not in flight under the
// token ends it with 0 (fenced), as luaHeld.
const luaHeldOrSettled = `local key, fmt = KEYS[1], string.format
local r = redis.call('HMGET', key, 's', 't')
if r[1] ~= 'f' or r[2] ~= ARGV[2] then
  if r[1] == done and r[2] == ARGV[3] then return 1 end
  return 0
end
`

// luaExpireLater sets the local xs to the later of the expiry deadlines in
// the locals x (the new one) and old (the record's), 0 being never, and
// sets the key's expiry to it. It is the script's first write, one that
// adds no memory, so that a full Redis (noeviction) still lets the record
// change. It uses the locals key and fmt.
const luaExpireLater = `if old == 0 then x = 0 elseif old > x then x = old end
local xs = fmt('%d', x)
if x > 0 then
  redis.call('PEXPIREAT', key, xs)
else
  redis.call('PERSIST', key)
end
`

// luaSettle turns the record, in flight or in doubt, into a completed one
// holding the local entry, or an in-doubt one when entry is nil, kept for
// the local ttl ms (<= 0: until deleted), under the local call id (in t),
// and wakes the waiters. It keeps the fingerprint and the first-claim
// time. It uses the locals key and fmt (see luaHeld). The expiry is set
// after the record is written: a deadline already past (a TTL of a
// millisecond that the clock overtook) deletes the record whole, where set
// before it would leave the HSET a new key with no fingerprint and no
// expiry.
const luaSettle = `redis.call('HDEL', key, 'l', 'q')
local xs = '0'
if ttl > 0 then
  ` + luaNow + `  xs = fmt('%d', now + ttl)
end
if entry then
  redis.call('HSET', key, 's', 'c', 'e', entry, 'x', xs, 't', id)
else
  redis.call('HSET', key, 's', 'd', 'x', xs, 't', id)
end
if ttl > 0 then
  redis.call('PEXPIREAT', key, xs)
else
  redis.call('PERSIST', key)
end
redis.call('PUBLISH', ARGV[1], '')
return 1
`

// claimLua: ARGV = fingerprint, token, lease ms, abandoned-TTL ms.
// Returns, by outcome (scalars, which cost Redis less than arrays):
//
//	completed  the entry (a bulk string)
//	acquired   0, a new record
//	busy       the lease deadline (an integer > 0)
//	mismatch   -1
//	acquired   {first-claim time (0: unknown)}, a claim flagged in doubt,
//	           which took over an in-doubt record or an expired lease
//
// A replay reads the record and nothing else; a new claim reads it and the
// clock, and writes it; a takeover reads the rest of the record and writes
// the fields that change, keeping the fingerprint (the same) and the
// first-claim time.
//
// A record in flight under the token ARGV[2] was claimed by this very call
// (tokens are random, one per Claim), run again by the client after its
// reply was lost: the script answers as the first run did, from the record
// it wrote, and writes nothing: 0, or {first-claim time} when the claim was
// flagged in doubt (q), whatever its lease.
const claimLua = `local key, fp, fmt = KEYS[1], ARGV[1], string.format
local r = redis.call('HMGET', key, 's', 'p', 'e', 'l', 't')
local s = r[1]
if s then
  if r[2] ~= fp then return -1 end
  if s == 'c' then
    if r[3] then return r[3] end
    return ` + luaCorrupt + `completed without entry')
  end
  if r[5] == ARGV[2] and s == 'f' then
    r = redis.call('HMGET', key, 'q', 'i')
    if r[1] == '1' then return {tonumber(r[2]) or 0} end
    return 0
  end
end
` + luaNow + `local l = now + ARGV[3]
local x = l + ARGV[4]
if not s then
  local xs = fmt('%d', x)
  redis.call('HSET', key, 's', 'f', 'p', fp, 't', ARGV[2], 'l', fmt('%d', l), 'x', xs, 'i', fmt('%d', now))
  redis.call('PEXPIREAT', key, xs)
  return 0
end
if s == 'f' then
  local lease = tonumber(r[4])
  if not lease then return ` + luaCorrupt + `lease') end
  if lease > now then return lease end
elseif s ~= 'd' then
  return ` + luaCorrupt + `state')
end
r = redis.call('HMGET', key, 'x', 'i')
local since = r[2]
if since and not tonumber(since) then return ` + luaCorrupt + `first-claim time') end
-- The record is kept until the later of its expiry and the new one; 0 is
-- never.
local old = tonumber(r[1]) or x
` + luaExpireLater + `redis.call('HSET', key, 's', 'f', 't', ARGV[2], 'l', fmt('%d', l), 'q', '1', 'x', xs)
return {tonumber(since) or 0}
`

// renewLua: ARGV = lease ms, token, abandoned-TTL ms. Returns 1 or 0
// (fenced). The record is kept until the later of its expiry and the new
// lease's end plus the abandoned TTL.
const renewLua = luaHeld + luaNow + `local l = now + ARGV[1]
local x = l + ARGV[3]
local old = tonumber(redis.call('HGET', key, 'x')) or x
` + luaExpireLater + `redis.call('HSET', key, 'l', fmt('%d', l), 'x', xs)
return 1
`

// completeLua: ARGV = channel, token, call id, ttl ms (0: never expires),
// entry. Returns 1 or 0 (fenced); 1 without writing when run again after
// it completed the record (see luaHeldOrSettled).
const completeLua = `local done = 'c'
` + luaHeldOrSettled + `local ttl, entry, id = tonumber(ARGV[4]), ARGV[5], ARGV[3]
` + luaSettle

// markInDoubtLua: ARGV = channel, token, call id, ttl ms (0: never
// expires). Returns 1 or 0 (fenced); 1 without writing when run again
// after it marked the record in doubt (see luaHeldOrSettled).
const markInDoubtLua = `local done = 'd'
` + luaHeldOrSettled + `local ttl, entry, id = tonumber(ARGV[4]), nil, ARGV[3]
` + luaSettle

// releaseLua: ARGV = channel, token. Returns 1 or 0 (fenced). Run again
// after it released the record it finds the key absent: 0.
const releaseLua = luaHeld + `redis.call('DEL', key)
redis.call('PUBLISH', ARGV[1], '')
return 1
`

// abandonLua: ARGV = channel, token. Undoes what a Claim under token may
// have done, its reply lost: a new claim is deleted, as by Release; a
// takeover (flagged in doubt, q) goes back to in doubt, keeping its
// expiry and first-claim time, since an earlier attempt may have executed.
// Returns 1 or 0 (no claim under token: it never ran, or another took
// over since).
const abandonLua = luaHeld + `if redis.call('HGET', key, 'q') == '1' then
  redis.call('HDEL', key, 'l', 'q')
  redis.call('HSET', key, 's', 'd')
else
  redis.call('DEL', key)
end
redis.call('PUBLISH', ARGV[1], '')
return 1
`

// resolveLua: ARGV = channel, call id, ttl ms (0: never expires), entry
// (absent: make the key absent).
// Returns 1, -1 (not found) or -2 (not in doubt); 1 without writing when
// run again after it completed the record with the entry (t is its call
// id). Run again after it made the key absent it finds nothing: -1.
const resolveLua = `local key, fmt = KEYS[1], string.format
local r = redis.call('HMGET', key, 's', 'l', 't')
local s = r[1]
if not s then return -1 end
if s == 'f' then
  local lease = tonumber(r[2])
  if not lease then return ` + luaCorrupt + `lease') end
  ` + luaNow + `  if lease > now then return -2 end
elseif s ~= 'd' then
  if s == 'c' and r[3] == ARGV[2] then return 1 end
  return -2
end
local ttl, entry, id = tonumber(ARGV[3]), ARGV[4], ARGV[2]
if entry then
` + luaSettle + `end
redis.call('DEL', key)
redis.call('PUBLISH', ARGV[1], '')
return 1
`

// deleteLua: ARGV = channel. Deletes the record and wakes the waiters.
const deleteLua = `if redis.call('DEL', KEYS[1]) == 1 then redis.call('PUBLISH', ARGV[1], '') end
return 1
`

// scripts holds the compiled scripts of one Store.
type scripts struct {
	claim, renew, complete, release, abandon, markInDoubt, resolve, delete *goredis.Script
}

func newScripts() scripts {
	return scripts{
		claim:       goredis.NewScript(claimLua),
		renew:       goredis.NewScript(renewLua),
		complete:    goredis.NewScript(completeLua),
		release:     goredis.NewScript(releaseLua),
		abandon:     goredis.NewScript(abandonLua),
		markInDoubt: goredis.NewScript(markInDoubtLua),
		resolve:     goredis.NewScript(resolveLua),
		delete:      goredis.NewScript(deleteLua),
	}
}
