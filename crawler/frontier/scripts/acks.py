"""The scripts for the leases a worker holds until its pages are recorded: MARK_DONE (fetched
and parsed), ACK (recorded: the lease ends), RENEW (kept while rows wait), CLAIM (taken back
after a restart)."""

from __future__ import annotations

from crawler.frontier.scripts.script import _script

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
