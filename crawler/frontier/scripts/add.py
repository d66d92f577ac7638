"""The script that queues discovered URLs, dedupe first: ADD (fingerprints in the set `seen`)
and ADD_BLOOM (in the job's Bloom filter)."""

from __future__ import annotations

from crawler.frontier.bloom import FIRST_SEEN
from crawler.frontier.scripts.script import _script

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
