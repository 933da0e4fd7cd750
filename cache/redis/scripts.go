package redis

import goredis "github.com/redis/go-redis/v9"

// A record is one Redis hash under prefix+key, with these fields:
//
//	s  state: "f" in flight, "d" in doubt, "c" completed
//	p  fingerprint of the request that created the record
//	t  fencing token (decimal uint64), in flight only
//	l  lease deadline, Unix ms of the server clock, in flight only
//	q  "1" when the in-flight claim is flagged in doubt
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

// Result codes of the token-guarded and Resolve scripts.
const (
	codeOK         = 1
	codeFenced     = 0
	codeNotFound   = -1
	codeNotInDoubt = -2
)

// Tags of the claim script's reply.
const (
	replyAcquired  = "a"
	replyBusy      = "b"
	replyCompleted = "c"
	replyMismatch  = "m"
)

// Values of the record's fields.
const (
	stateInFlight  = "f"
	stateInDoubt   = "d"
	stateCompleted = "c"
	claimFlagged   = "1"
)

// luaPrelude defines helpers shared by the scripts.
const luaPrelude = `
local key = KEYS[1]
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function ms(v) return string.format('%d', v) end
-- expire_at sets the key's expiry to x, Unix ms, unless x is 0 (never).
local function expire_at(x) if x > 0 then redis.call('PEXPIREAT', key, ms(x)) end end
-- after returns now+ttl, or 0 (never) for ttl <= 0.
local function after(now, ttl) if ttl <= 0 then return 0 end return now + ttl end
-- later returns the later of two expiry deadlines, 0 (never) being the latest.
local function later(a, b)
  if a == 0 or b == 0 then return 0 end
  return math.max(a, b)
end
local function corrupt(what) return redis.error_reply('idemhttp: corrupt record ' .. key .. ': ' .. what) end
-- held reports whether the record is in flight under token, and returns
-- its fingerprint and first-claim time.
local function held(token)
  local r = redis.call('HMGET', key, 's', 't', 'p', 'i')
  return r[1] == 'f' and r[2] == token, r[3], r[4]
end
-- write sets the record's fields, the pairs in fields plus the first-claim
-- time since when known.
local function write(fields, since)
  if since then
    fields[#fields + 1] = 'i'
    fields[#fields + 1] = since
  end
  redis.call('HSET', key, unpack(fields))
end
-- settle replaces the record by a completed or in-doubt one until x, keeping
-- its first-claim time since, or deletes it when state is nil, and wakes the
-- waiters.
local function settle(channel, state, fp, entry, x, since)
  redis.call('DEL', key)
  if state == 'c' then
    write({'s', 'c', 'p', fp, 'e', entry, 'x', ms(x)}, since)
    expire_at(x)
  elseif state == 'd' then
    write({'s', 'd', 'p', fp, 'x', ms(x)}, since)
    expire_at(x)
  end
  redis.call('PUBLISH', channel, '')
end
`

// claimLua: ARGV = fingerprint, token, lease ms, abandoned-TTL ms.
// Returns {"m"} | {"c", entry} | {"b", lease deadline} |
// {"a", in-doubt flag, first-claim time (0: unknown)}.
const claimLua = luaPrelude + `
local fp, token = ARGV[1], ARGV[2]
local lease, abandoned = tonumber(ARGV[3]), tonumber(ARGV[4])
local now = now_ms()
local r = redis.call('HMGET', key, 's', 'p', 'l', 'e', 'x', 'i')
local s = r[1]
local flagged = '0'
local x = now + lease + abandoned
local since = ms(now)
if s then
  if r[2] ~= fp then return {'m'} end
  if s == 'c' then
    if not r[4] then return corrupt('completed without entry') end
    return {'c', r[4]}
  elseif s == 'f' then
    local l = tonumber(r[3])
    if not l then return corrupt('lease') end
    if l > now then return {'b', l} end
  elseif s ~= 'd' then
    return corrupt('state')
  end
  flagged = '1'
  x = later(x, tonumber(r[5]) or x)
  since = r[6]
  if since and not tonumber(since) then return corrupt('first-claim time') end
end
-- A new record's first write is HSET, which Redis refuses (atomically) when
-- out of memory under noeviction; replacing a record is allowed.
if s then redis.call('DEL', key) end
write({'s', 'f', 'p', fp, 't', token, 'l', ms(now + lease), 'q', flagged, 'x', ms(x)}, since)
expire_at(x)
return {'a', flagged, tonumber(since) or 0}
`

// renewLua: ARGV = token, lease ms, abandoned-TTL ms. Returns 1 or 0 (fenced).
const renewLua = luaPrelude + `
local token, lease, abandoned = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
if not held(token) then return 0 end
local now = now_ms()
local x = now + lease + abandoned
x = later(x, tonumber(redis.call('HGET', key, 'x')) or x)
redis.call('HSET', key, 'l', ms(now + lease), 'x', ms(x))
expire_at(x)
return 1
`

// completeLua: ARGV = channel, token, ttl ms (0: never expires), entry.
// Returns 1 or 0 (fenced).
const completeLua = luaPrelude + `
local ok, fp, since = held(ARGV[2])
if not ok then return 0 end
settle(ARGV[1], 'c', fp, ARGV[4], after(now_ms(), tonumber(ARGV[3])), since)
return 1
`

// releaseLua: ARGV = channel, token. Returns 1 or 0 (fenced).
const releaseLua = luaPrelude + `
if not held(ARGV[2]) then return 0 end
settle(ARGV[1], nil)
return 1
`

// markInDoubtLua: ARGV = channel, token, ttl ms (0: never expires).
// Returns 1 or 0 (fenced).
const markInDoubtLua = luaPrelude + `
local ok, fp, since = held(ARGV[2])
if not ok then return 0 end
settle(ARGV[1], 'd', fp, nil, after(now_ms(), tonumber(ARGV[3])), since)
return 1
`

// resolveLua: ARGV = channel, ttl ms (0: never expires), entry (absent: make
// the key absent).
// Returns 1, -1 (not found) or -2 (not in doubt).
const resolveLua = luaPrelude + `
local r = redis.call('HMGET', key, 's', 'p', 'l', 'i')
local s = r[1]
if not s then return -1 end
local now = now_ms()
local expired = false
if s == 'f' then
  local l = tonumber(r[3])
  if not l then return corrupt('lease') end
  expired = l <= now
end
if s ~= 'd' and not expired then return -2 end
if ARGV[3] then
  settle(ARGV[1], 'c', r[2], ARGV[3], after(now, tonumber(ARGV[2])), r[4])
else
  settle(ARGV[1], nil)
end
return 1
`

// deleteLua: ARGV = channel. Deletes the record and wakes the waiters.
const deleteLua = luaPrelude + `
if redis.call('EXISTS', key) == 1 then settle(ARGV[1], nil) end
return 1
`

// scripts holds the compiled scripts of one Store.
type scripts struct {
	claim, renew, complete, release, markInDoubt, resolve, delete *goredis.Script
}

func newScripts() scripts {
	return scripts{
		claim:       goredis.NewScript(claimLua),
		renew:       goredis.NewScript(renewLua),
		complete:    goredis.NewScript(completeLua),
		release:     goredis.NewScript(releaseLua),
		markInDoubt: goredis.NewScript(markInDoubtLua),
		resolve:     goredis.NewScript(resolveLua),
		delete:      goredis.NewScript(deleteLua),
	}
}
