"""The frontier's Lua scripts. Each runs atomically in Redis, so many workers share one frontier.

Layout (see keys.py): one sorted set per host, scored by priority (by default the depth, so a
host is crawled breadth-first) then arrival, a sorted set `due` of hosts scored by the time each
may next be fetched, a set `seen` of 8-byte fingerprints,
and a hash `leases` of popped entries not yet recorded. A host stays in `due` while it has work or
a request in flight; while in flight its score is the lease deadline, which is what makes it
"at most one request in flight per host" across all workers.

Key names are built inside the scripts from the job's hash-tagged prefix, so every key a script
touches lives in the job's cluster slot.
"""

from __future__ import annotations

# ARGV: prefix, now, max_per_host (0 = no cap), then (host, entry, priority) triples; an
# entry's fingerprint is its characters 3-18 (see Entry.dumps). Within a priority, first come
# first served: the score is priority * 2^32 + arrival number.
# Returns how many entries were new and queued.
ADD = """
local p = ARGV[1]
local now = tonumber(ARGV[2])
local cap = tonumber(ARGV[3])
local due, next_at, hc = p .. 'due', p .. 'next_at', p .. 'host_count'
local added = 0
for i = 4, #ARGV, 3 do
  local host, entry = ARGV[i], ARGV[i + 1]
  local fp = string.sub(entry, 3, 18)
  local room = cap <= 0 or tonumber(redis.call('HGET', hc, host) or '0') < cap
  if room and redis.call('SADD', p .. 'seen', fp) == 1 then
    local seq = redis.call('HINCRBY', p .. 'stats', 'arrivals', 1) % 4294967296
    redis.call('ZADD', p .. 'q:' .. host, tonumber(ARGV[i + 2]) * 4294967296 + seq, entry)
    redis.call('HINCRBY', hc, host, 1)
    if not redis.call('ZSCORE', due, host) then
      local t = tonumber(redis.call('HGET', next_at, host) or '0')
      if t < now then t = now end
      redis.call('ZADD', due, t, host)
    end
    added = added + 1
  end
end
if added > 0 then
  redis.call('HINCRBY', p .. 'stats', 'queued', added)
  redis.call('HINCRBY', p .. 'stats', 'enqueued', added)
end
return added
"""

# Put an entry in front of everything in a host queue (a returned lease, a retry).
PUSH_FIRST = """
local function push_first(queue, entry)
  local first = redis.call('ZRANGE', queue, 0, 0, 'WITHSCORES')
  redis.call('ZADD', queue, (#first > 0) and (tonumber(first[2]) - 1) or 0, entry)
end
"""

# ARGV: prefix, now, lease seconds, max pages (0 = no cap), how many to pop.
# Returns {entries...} or, when nothing is due, {} and the earliest due time as the last element
# prefixed by '@' (so the caller can sleep exactly until then).
POP = """
local p = ARGV[1]
local now = tonumber(ARGV[2])
local lease = tonumber(ARGV[3])
local max_pages = tonumber(ARGV[4])
local want = tonumber(ARGV[5])
local due, stats = p .. 'due', p .. 'stats'
local popped = tonumber(redis.call('HGET', stats, 'popped') or '0')
local out = {}
local tries = 0
while #out < want and tries < want * 4 do
  tries = tries + 1
  if max_pages > 0 and popped >= max_pages then break end
  local h = redis.call('ZRANGEBYSCORE', due, '-inf', now, 'LIMIT', 0, 1)
  if #h == 0 then break end
  local host = h[1]
  local popped_entry = redis.call('ZPOPMIN', p .. 'q:' .. host)
  local entry = popped_entry[1]
  if entry then
    redis.call('ZADD', due, now + lease, host)
    local fp = string.sub(entry, 3, 18)
    redis.call('HSET', p .. 'leases', fp, entry)
    redis.call('ZADD', p .. 'lease_times', now, fp)
    popped = popped + 1
    out[#out + 1] = entry
  else
    -- a lease ran out on a host with nothing left to fetch
    redis.call('ZREM', due, host)
  end
end
if #out > 0 then
  redis.call('HINCRBY', stats, 'queued', -#out)
  redis.call('HSET', stats, 'popped', popped)
elseif not (max_pages > 0 and popped >= max_pages) then
  local first = redis.call('ZRANGE', due, 0, 0, 'WITHSCORES')
  if #first > 0 then out[1] = '@' .. first[2] end
end
return out
"""

# ARGV: prefix, host, now, default delay, back-off seconds, failed (0/1), park after, park
# seconds. The host's request finished: it may be fetched again after the larger of its delay
# and the back-off; with nothing queued it leaves `due` but its next time is remembered. A host
# failing `park after` times in a row is parked, twice as long each further failure.
# Returns the host's consecutive failures.
RELEASE = """
local p, host = ARGV[1], ARGV[2]
local now = tonumber(ARGV[3])
local delay = tonumber(redis.call('HGET', p .. 'delay', host) or ARGV[4])
local backoff = tonumber(ARGV[5])
local failures = 0
if ARGV[6] == '1' then
  failures = redis.call('HINCRBY', p .. 'failures', host, 1)
else
  redis.call('HDEL', p .. 'failures', host)
end
local park_after = tonumber(ARGV[7])
if park_after > 0 and failures >= park_after then
  backoff = math.max(backoff, tonumber(ARGV[8]) * 2 ^ math.min(failures - park_after, 10))
  redis.call('HSET', p .. 'parked', host, now + backoff)
elseif failures == 0 then
  redis.call('HDEL', p .. 'parked', host)
end
local t = now + math.max(delay, backoff)
if redis.call('ZCARD', p .. 'q:' .. host) > 0 then
  redis.call('ZADD', p .. 'due', t, host)
else
  redis.call('ZREM', p .. 'due', host)
  redis.call('HSET', p .. 'next_at', host, t)
end
return failures
"""

# ARGV: prefix, now, fingerprint, host, wait. Fetch this leased entry again, first of its host,
# after `wait` seconds (a 429, a 503, a timeout). Returns how often it was retried, or -1 when
# it was not leased.
RETRY = (
    PUSH_FIRST
    + """
local p = ARGV[1]
local now = tonumber(ARGV[2])
local fp, host = ARGV[3], ARGV[4]
local entry = redis.call('HGET', p .. 'leases', fp)
if not entry then return -1 end
push_first(p .. 'q:' .. host, entry)
redis.call('HDEL', p .. 'leases', fp)
redis.call('ZREM', p .. 'lease_times', fp)
redis.call('ZADD', p .. 'due', now + tonumber(ARGV[5]), host)
redis.call('HINCRBY', p .. 'stats', 'queued', 1)
redis.call('HINCRBY', p .. 'stats', 'popped', -1)
redis.call('HINCRBY', p .. 'stats', 'retried', 1)
return redis.call('HINCRBY', p .. 'retries', fp, 1)
"""
)

# ARGV: prefix, now, then (fingerprint, host) pairs of leases to put back at the head of their
# host queue: their worker stopped before recording the page.
RETURN_LEASES = (
    PUSH_FIRST
    + """
local p = ARGV[1]
local now = tonumber(ARGV[2])
local n = 0
for i = 3, #ARGV, 2 do
  local fp, host = ARGV[i], ARGV[i + 1]
  local entry = redis.call('HGET', p .. 'leases', fp)
  if entry then
    push_first(p .. 'q:' .. host, entry)
    redis.call('HDEL', p .. 'leases', fp)
    redis.call('ZREM', p .. 'lease_times', fp)
    redis.call('ZADD', p .. 'due', 'LT', now, host)
    n = n + 1
  end
end
if n > 0 then
  redis.call('HINCRBY', p .. 'stats', 'queued', n)
  redis.call('HINCRBY', p .. 'stats', 'popped', -n)
end
return n
"""
)
