"""The scripts that hand out work and take it back per host: POP (lease due entries), RELEASE
(a host's request finished: when it is due next), and the page budget of P > 1 partitions
(SETTLE, RESERVE)."""

from __future__ import annotations

from crawler.frontier.scripts.script import _script

# ARGV: queue prefix, now, lease seconds, max pages (0 = no cap), how many to pop, the popping
# worker's id ("" = none: only the lease deadline returns its leases), budgeted (1: one of P > 1
# partitions, which may pop only the pages `granted` to it from the job's `budget`, see RESERVE).
# Returns {entries...} or, when nothing is due, {} and the earliest due time as the last element
# prefixed by '@' (so the caller can sleep exactly until then). A budgeted partition adds '!'
# when a host is due but its grant is spent, and '+n' when it gave n unused pages back (nothing
# is queued in it: another partition may need them); the caller settles both with the budget.
POP = _script(
    "due stats leases lease_times lease_owners",
    """
local now = tonumber(ARGV[2])
local lease = tonumber(ARGV[3])
local max_pages = tonumber(ARGV[4])
local want = tonumber(ARGV[5])
local worker = ARGV[6] or ''
local budgeted = ARGV[7] == '1' and max_pages > 0
local popped = tonumber(redis.call('HGET', stats, 'popped') or '0')
local cap = max_pages
if budgeted then cap = tonumber(redis.call('HGET', stats, 'granted') or '0') end
local out = {}
local got, tries = 0, 0
while got < want and tries < want * 4 do
  tries = tries + 1
  if max_pages > 0 and popped >= cap then break end
  local h = redis.call('ZRANGEBYSCORE', due, '-inf', now, 'LIMIT', 0, 1)
  if #h == 0 then break end
  local host = h[1]
  local popped_entry = redis.call('ZPOPMIN', queues .. host)
  local entry = popped_entry[1]
  if entry then
    redis.call('ZADD', due, now + lease, host)
    local fp = string.sub(entry, 3, 18)
    redis.call('HSET', leases, fp, entry)
    redis.call('ZADD', lease_times, now, fp)
    if worker ~= '' then redis.call('HSET', lease_owners, fp, worker) end
    popped = popped + 1
    got = got + 1
    out[#out + 1] = entry
  else
    -- a lease ran out on a host with nothing left to fetch
    redis.call('ZREM', due, host)
  end
end
if got > 0 then
  redis.call('HINCRBY', stats, 'queued', -got)
  redis.call('HSET', stats, 'popped', popped)
elseif budgeted or not (max_pages > 0 and popped >= max_pages) then
  local first = redis.call('ZRANGE', due, 0, 0, 'WITHSCORES')
  if #first > 0 then out[#out + 1] = '@' .. first[2] end
end
if budgeted then
  local spent = got < want and popped >= cap
  if spent and #redis.call('ZRANGEBYSCORE', due, '-inf', now, 'LIMIT', 0, 1) > 0 then
    out[#out + 1] = '!'
  end
  if cap > popped and tonumber(redis.call('HGET', stats, 'queued') or '0') <= 0 then
    redis.call('HSET', stats, 'granted', popped)
    out[#out + 1] = '+' .. (cap - popped)
  end
end
return out
""",
)

# ARGV: queue prefix. A partition's pages popped beyond its grant (popped while the job had no
# page budget) become granted: returns how many, which the caller adds to the job's budget.
SETTLE = _script(
    "stats",
    """
local popped = tonumber(redis.call('HGET', stats, 'popped') or '0')
local granted = tonumber(redis.call('HGET', stats, 'granted') or '0')
if granted >= popped then return 0 end
redis.call('HSET', stats, 'granted', popped)
return popped - granted
""",
)

# ARGV: queue prefix (unused: the budget is job-wide), max pages, pages wanted, partitions.
# Grants a partition up to that many of the pages the job may still fetch, and no more than its
# share of them, so that near the end one partition does not hold what the others could fetch
# (KEYS: the job's own tag, not the partition's); the caller adds them to the partition's
# `granted`. Returns how many.
RESERVE = _script(
    "budget",
    """
local room = tonumber(ARGV[2]) - tonumber(redis.call('GET', budget) or '0')
local share = math.max(1, math.ceil(room / tonumber(ARGV[4])))
local grant = math.max(0, math.min(tonumber(ARGV[3]), room, share))
if grant > 0 then redis.call('INCRBY', budget, grant) end
return grant
""",
)

# ARGV: queue prefix, host, now, default delay, back-off seconds, failed (0/1), park after, park
# seconds, latency (seconds its response took; 0 = no response). The host's request finished:
# it may be fetched again after the larger of its delay and the back-off; with nothing queued it
# leaves `due` but its next time is remembered. A host failing `park after` times in a row is
# parked, twice as long each further failure. A latency is summed for the job's slowest hosts.
# Returns the host's consecutive failures.
RELEASE = _script(
    "delay failures parked due next_at host_seconds host_fetches",
    """
local host = ARGV[2]
local now = tonumber(ARGV[3])
local latency = tonumber(ARGV[9] or '0')
if latency > 0 then
  redis.call('HINCRBYFLOAT', host_seconds, host, latency)
  redis.call('HINCRBY', host_fetches, host, 1)
end
local interval = tonumber(redis.call('HGET', delay, host) or ARGV[4])
local backoff = tonumber(ARGV[5])
local in_a_row = 0
if ARGV[6] == '1' then
  in_a_row = redis.call('HINCRBY', failures, host, 1)
else
  redis.call('HDEL', failures, host)
end
local park_after = tonumber(ARGV[7])
if park_after > 0 and in_a_row >= park_after then
  backoff = math.max(backoff, tonumber(ARGV[8]) * 2 ^ math.min(in_a_row - park_after, 10))
  redis.call('HSET', parked, host, now + backoff)
elseif in_a_row == 0 then
  redis.call('HDEL', parked, host)
end
local t = now + math.max(interval, backoff)
if redis.call('ZCARD', queues .. host) > 0 then
  redis.call('ZADD', due, t, host)
else
  redis.call('ZREM', due, host)
  redis.call('HSET', next_at, host, t)
end
return in_a_row
""",
)
