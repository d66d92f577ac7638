"""The frontier's Lua scripts. Each runs atomically in Redis, so many workers share one frontier.

Layout (see keys.py): one sorted set per host, scored by priority (by default the depth, so a
host is crawled breadth-first) then arrival, a sorted set `due` of hosts scored by the time each
may next be fetched, a set `seen` of 8-byte fingerprints,
and a hash `leases` of popped entries not yet recorded. A host stays in `due` while it has work or
a request in flight; while in flight its score is the lease deadline, which is what makes it
"at most one request in flight per host" across all workers.

No key name is written here. Each script declares the `JobKeys` attributes it touches; the
frontier passes those keys as KEYS[], in that order, and each is bound to a Lua local of the same
name. Per-host queue keys are `JobKeys.queue_prefix` (always ARGV[1], the local `queues`) joined
with the host, since POP learns its host only inside Redis. All keys share one hash tag, so
every key a script touches lives in one cluster slot: a frontier partition's
(crawler/frontier/partitions.py; with P = 1, the job's own), or for RESERVE the job's own.
"""

from __future__ import annotations

from dataclasses import dataclass

from crawler.frontier.bloom import FIRST_SEEN


@dataclass(frozen=True, slots=True)
class Script:
    """A Lua script and the job keys it is given."""

    keys: tuple[str, ...]  # `JobKeys` attributes, in KEYS[] order
    lua: str


def _script(keys: str, body: str) -> Script:
    """Declare the keys `body` uses (space-separated `JobKeys` attributes): the script starts
    by binding each KEYS[i] to a local named after its attribute, and ARGV[1] to `queues`."""
    names = tuple(keys.split())
    bound = ", ".join(f"KEYS[{i}]" for i in range(1, len(names) + 1))
    prologue = f"local {', '.join(names)} = {bound}\nlocal queues = ARGV[1]\n"
    return Script(names, prologue + body)


# ARGV: queue prefix, now, max_per_host (0 = no cap), then (host, entry, priority) triples; an
# entry's fingerprint is its characters 3-18 (see Entry.dumps). Within a priority, first come
# first served: the score is priority * 2^32 + arrival number.
# Returns how many entries were new and queued. `first_seen(fp)` marks the fingerprint seen and
# says whether it was new: in the set `seen` (ADD), or in the job's Bloom filter (ADD_BLOOM).
ADD_BODY = """
local now = tonumber(ARGV[2])
local cap = tonumber(ARGV[3])
local added = 0
for i = 4, #ARGV, 3 do
  local host, entry = ARGV[i], ARGV[i + 1]
  local fp = string.sub(entry, 3, 18)
  local room = cap <= 0 or tonumber(redis.call('HGET', host_count, host) or '0') < cap
  if room and first_seen(fp) then
    local seq = redis.call('HINCRBY', stats, 'arrivals', 1) % 4294967296
    redis.call('ZADD', queues .. host, tonumber(ARGV[i + 2]) * 4294967296 + seq, entry)
    redis.call('HINCRBY', host_count, host, 1)
    if not redis.call('ZSCORE', due, host) then
      local t = tonumber(redis.call('HGET', next_at, host) or '0')
      if t < now then t = now end
      redis.call('ZADD', due, t, host)
    end
    added = added + 1
  end
end
if added > 0 then
  redis.call('HINCRBY', stats, 'queued', added)
  redis.call('HINCRBY', stats, 'enqueued', added)
end
return added
"""
EXACT_SEEN = """
local function first_seen(fp) return redis.call('SADD', seen, fp) == 1 end
"""
ADD = _script("seen due next_at host_count stats", EXACT_SEEN + ADD_BODY)
ADD_BLOOM = _script("bloom due next_at host_count stats", FIRST_SEEN + ADD_BODY)

# Put an entry in front of everything in a host queue (a returned lease, a retry).
PUSH_FIRST = """
local function push_first(queue, entry)
  local first = redis.call('ZRANGE', queue, 0, 0, 'WITHSCORES')
  redis.call('ZADD', queue, (#first > 0) and (tonumber(first[2]) - 1) or 0, entry)
end
"""

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
redis.call('HDEL', leases, fp)
redis.call('ZREM', lease_times, fp)
redis.call('HDEL', lease_owners, fp)
redis.call('ZADD', due, now + tonumber(ARGV[5]), host)
redis.call('HINCRBY', stats, 'queued', 1)
redis.call('HINCRBY', stats, 'popped', -1)
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
    redis.call('HDEL', leases, fp)
    redis.call('ZREM', lease_times, fp)
    redis.call('HDEL', lease_owners, fp)
    redis.call('ZADD', due, 'LT', now, host)
    n = n + 1
  end
end
if n > 0 then
  redis.call('HINCRBY', stats, 'queued', n)
  redis.call('HINCRBY', stats, 'popped', -n)
end
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
    redis.call('HDEL', leases, fp)
    redis.call('ZREM', lease_times, fp)
    redis.call('HDEL', lease_owners, fp)
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
if n > 0 then
  redis.call('HINCRBY', stats, 'queued', n)
  redis.call('HINCRBY', stats, 'popped', -n)
end
return {n, poison}
""",
)

# ARGV: queue prefix, worker id, then fingerprints of pages the worker has fetched and parsed
# (their rows wait for the index): should it die now, these were not what killed it. Marks
# only leases it still holds. Returns how many.
MARK_DONE = _script(
    "lease_owners",
    """
local worker = ARGV[2]
local n = 0
for i = 3, #ARGV do
  if redis.call('HGET', lease_owners, ARGV[i]) == worker then
    redis.call('HSET', lease_owners, ARGV[i], worker .. ' done')
    n = n + 1
  end
end
return n
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

# ARGV: queue prefix, then per recorded page: fingerprint, failed 0/1, and its tally (host,
# links, bytes, status class, error class, robots refusal 0/1, failure 0/1; host "" = none, see
# crawler/jobstats.py): their leases end. Only a lease still held counts as recorded (and as
# failed, and in the job's figures), so an acknowledgement repeated after a retry or a replay
# counts nothing twice. Returns how many leases ended.
ACK = _script(
    "leases lease_times retries stats lease_owners lost_leases figures host_pages host_failures",
    """
local recorded, failed = 0, 0
local counts, pages_of, failures_of = {}, {}, {}
local function count(tbl, name, n)
  if n ~= 0 then tbl[name] = (tbl[name] or 0) + n end
end
for i = 2, #ARGV, 9 do
  local fp = ARGV[i]
  if redis.call('HDEL', leases, fp) == 1 then
    recorded = recorded + 1
    if ARGV[i + 1] == '1' then failed = failed + 1 end
    local host = ARGV[i + 2]
    if host ~= '' then
      count(counts, 'pages', 1)
      count(counts, 'links', tonumber(ARGV[i + 3]))
      count(counts, 'bytes', tonumber(ARGV[i + 4]))
      count(counts, 'status:' .. ARGV[i + 5], 1)
      if ARGV[i + 6] ~= '' then count(counts, 'error:' .. ARGV[i + 6], 1) end
      count(counts, 'robots_refused', tonumber(ARGV[i + 7]))
      count(pages_of, host, 1)
      count(failures_of, host, tonumber(ARGV[i + 8]))
    end
  end
  redis.call('ZREM', lease_times, fp)
  redis.call('HDEL', retries, fp)
  redis.call('HDEL', lease_owners, fp)
  redis.call('HDEL', lost_leases, fp)
end
if recorded > 0 then redis.call('HINCRBY', stats, 'recorded', recorded) end
if failed > 0 then redis.call('HINCRBY', stats, 'failed', failed) end
for name, n in pairs(counts) do redis.call('HINCRBY', figures, name, n) end
for host, n in pairs(pages_of) do redis.call('ZINCRBY', host_pages, n, host) end
for host, n in pairs(failures_of) do redis.call('ZINCRBY', host_failures, n, host) end
return recorded
""",
)

# ARGV: queue prefix, now, renewed at, then (fingerprint, renewed 0/1) pairs of pages whose rows
# this worker still holds (not yet stored): their leases restart now, so no reaper returns them.
# A page marked renewed was renewed by this worker at `renewed at`: a newer lease time means its
# lease went back to the frontier and was handed out again meanwhile, so it is someone else's
# now. Returns the fingerprints that are not this worker's any more (recorded, returned, or
# handed out again).
RENEW = _script(
    "lease_times",
    """
local now, renewed_at = tonumber(ARGV[2]), tonumber(ARGV[3])
local gone = {}
for i = 4, #ARGV, 2 do
  local fp = ARGV[i]
  local leased_at = redis.call('ZSCORE', lease_times, fp)
  if leased_at and not (ARGV[i + 1] == '1' and tonumber(leased_at) > renewed_at) then
    redis.call('ZADD', lease_times, now, fp)
  else
    gone[#gone + 1] = fp
  end
end
return gone
""",
)

# ARGV: queue prefix, now, before, then (fingerprint, host, entry) triples of pages whose rows a
# restarted process found in its spool. Each is taken back if nobody else has it: leased no
# later than `before` (the dead spooler's last renewal or batch: a lease handed out again is
# newer), or returned to the head of its host queue and not handed out again. Returns the
# fingerprints taken back; the others are recorded already or being fetched by someone else.
CLAIM = _script(
    "leases lease_times stats lease_owners",
    """
local now, before = tonumber(ARGV[2]), tonumber(ARGV[3])
local claimed = {}
for i = 4, #ARGV, 3 do
  local fp, host, entry = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local leased_at = redis.call('ZSCORE', lease_times, fp)
  if leased_at and tonumber(leased_at) <= before then
    redis.call('ZADD', lease_times, now, fp)
    redis.call('HDEL', lease_owners, fp)
    claimed[#claimed + 1] = fp
  elseif not leased_at and redis.call('ZREM', queues .. host, entry) == 1 then
    redis.call('HSET', leases, fp, entry)
    redis.call('ZADD', lease_times, now, fp)
    redis.call('HINCRBY', stats, 'queued', -1)
    redis.call('HINCRBY', stats, 'popped', 1)
    claimed[#claimed + 1] = fp
  end
end
return claimed
""",
)
