"""The scripts that put leased entries back in their host queue or set them aside: RETRY,
RETURN_LEASES, RETURN_LOST (lost leases, and poison pages), TAKE_POISONED (poison pages handed
out to be recorded)."""

from __future__ import annotations

from crawler.frontier.scripts.script import _script

# What every script that takes a lease back does: put its entry in front of everything in its
# host queue, end the lease (its entry, time and owner), and count the entries queued again.
# The scripts using it declare `leases`, `lease_times`, `lease_owners` and `stats`.
PUSH_FIRST = """
local function push_first(queue, entry)
  local first = redis.call('ZRANGE', queue, 0, 0, 'WITHSCORES')
  redis.call('ZADD', queue, (#first > 0) and (tonumber(first[2]) - 1) or 0, entry)
end
local function end_lease(fp)
  redis.call('HDEL', leases, fp)
  redis.call('ZREM', lease_times, fp)
  redis.call('HDEL', lease_owners, fp)
end
local function requeued(n)
  if n > 0 then
    redis.call('HINCRBY', stats, 'queued', n)
    redis.call('HINCRBY', stats, 'popped', -n)
  end
end
"""

# ARGV: queue prefix, now, fingerprint, host, wait. Fetch this leased entry again, first of its
# host, after `wait` seconds (a 429, a 503, a timeout). Returns how often it was retried, or -1
# when it was not leased.
RETRY = _script(
    "leases lease_times due stats retries lease_owners",
    PUSH_FIRST
    + """
local now = tonumber(ARGV[2])
local fp, host = ARGV[3], ARGV[4]
local entry = redis.call('HGET', leases, fp)
if not entry then return -1 end
push_first(queues .. host, entry)
end_lease(fp)
redis.call('ZADD', due, now + tonumber(ARGV[5]), host)
requeued(1)
redis.call('HINCRBY', stats, 'retried', 1)
return redis.call('HINCRBY', retries, fp, 1)
""",
)

# ARGV: queue prefix, now, then (fingerprint, host) pairs of leases to put back at the head of
# their host queue: their worker stopped before recording the page.
RETURN_LEASES = _script(
    "leases lease_times due stats lease_owners",
    PUSH_FIRST
    + """
local now = tonumber(ARGV[2])
local n = 0
for i = 3, #ARGV, 2 do
  local fp, host = ARGV[i], ARGV[i + 1]
  local entry = redis.call('HGET', leases, fp)
  if entry then
    push_first(queues .. host, entry)
    end_lease(fp)
    redis.call('ZADD', due, 'LT', now, host)
    n = n + 1
  end
end
requeued(n)
return n
""",
)

# ARGV: queue prefix, now, lapsed before, expired before, poison after, then (fingerprint, host)
# pairs of leases that may be lost. A lease is lost when its owner's last heartbeat is older than
# `lapsed before` (the worker died), or it was taken before `expired before` (0: never; a live
# worker hung on it). A lost lease goes back to the head of its host queue and its host is due
# at once. It counts against its page unless its worker had processed the page (the owner is
# marked "<worker> done", see MARK_DONE: only its rows were not stored yet); a page lost
# `poison after` times waits in `poisoned` to be recorded with the reason, and is never handed
# out to be fetched again. Returns {leases returned, of which poisoned}.
RETURN_LOST = _script(
    "leases lease_times lease_owners workers lost_leases poisoned due stats",
    PUSH_FIRST
    + """
local now = tonumber(ARGV[2])
local lapsed_before, expired_before = tonumber(ARGV[3]), tonumber(ARGV[4])
local poison_after = tonumber(ARGV[5])
local n, poison = 0, 0
for i = 6, #ARGV, 2 do
  local fp, host = ARGV[i], ARGV[i + 1]
  local entry = redis.call('HGET', leases, fp)
  local owner = redis.call('HGET', lease_owners, fp) or ''
  local worker, done = string.match(owner, '^(%S*)(.*)$')
  local beat = worker ~= '' and redis.call('ZSCORE', workers, worker)
  local taken = redis.call('ZSCORE', lease_times, fp)
  local died = beat and tonumber(beat) < lapsed_before
  local hung = taken and tonumber(taken) < expired_before
  if entry and (died or hung) then
    end_lease(fp)
    redis.call('ZADD', due, 'LT', now, host)
    local lost = 0
    if hung or done == '' then lost = redis.call('HINCRBY', lost_leases, fp, 1) end
    if lost >= poison_after then
      redis.call('HSET', poisoned, fp, entry)
      poison = poison + 1
    else
      push_first(queues .. host, entry)
    end
    n = n + 1
  end
end
requeued(n)
return {n, poison}
""",
)

# ARGV: queue prefix, now, worker id, how many. Lease up to that many poisoned entries to the
# worker, which records each with the reason instead of fetching it.
# Returns {entry, times its lease was lost, ...}.
TAKE_POISONED = _script(
    "poisoned leases lease_times lease_owners lost_leases stats",
    """
local now, worker = tonumber(ARGV[2]), ARGV[3]
local taken = redis.call('HRANDFIELD', poisoned, tonumber(ARGV[4]), 'WITHVALUES')
local out, n = {}, 0
for i = 1, #taken, 2 do
  local fp, entry = taken[i], taken[i + 1]
  n = n + 1
  redis.call('HDEL', poisoned, fp)
  redis.call('HSET', leases, fp, entry)
  redis.call('ZADD', lease_times, now, fp)
  redis.call('HSET', lease_owners, fp, worker)
  out[#out + 1] = entry
  out[#out + 1] = redis.call('HGET', lost_leases, fp) or '0'
end
if n > 0 then
  redis.call('HINCRBY', stats, 'queued', -n)
  redis.call('HINCRBY', stats, 'popped', n)
end
return out
""",
)
