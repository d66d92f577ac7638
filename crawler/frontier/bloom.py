"""A Bloom filter of a job's seen URLs on plain Redis strings, for jobs beyond a billion URLs.

The exact dedupe (LINKGRAPH_DEDUPE = "exact") keeps each URL's 8-byte fingerprint in a set,
40-48 bytes of Redis memory per URL. A Bloom filter (LINKGRAPH_DEDUPE = "bloom") keeps k bits
per URL in an array of m bits, about 1.2 bytes per URL at a 1% false-positive rate and 1.8 at
0.1%, whatever the URLs. The price: a new URL whose k bits other URLs happen to have set is
taken for seen, and is never queued, so never fetched. RedisBloom is not in Valkey, so the
filter is SETBIT on strings, inside the frontier's ADD script (scripts.ADD_BLOOM).

Sizing (`BloomGeometry.sized`), for n = capacity / P URLs per partition at a rate p: the classic
optimum is m = -n ln p / (ln 2)^2 bits and k = (m / n) ln 2 hashes, where k is not whole. Here
k = ceil(log2(1 / p)), and m = ceil(-k n / ln(1 - p^(1/k))), the fewest bits at which that k
gives the expected rate (1 - e^(-k n / m))^k = p once n URLs are in (m within 0.1% of the
classic one at 1% and 0.1%). Below capacity the rate is lower; beyond it, it climbs: at twice
the capacity, 1% becomes 16% and 0.1% becomes 5.7%. Partitions hold a share of the hosts each
(keys.partition_of), so each is sized for its share of the URLs: the rate holds when the URLs
spread over many hosts.

Positions: bit i of k is (h1 + i * h2) mod m (double hashing, Kirsch and Mitzenmacher), h1 and
h2 the first two 48-bit words of the SHA-1 of the URL's fingerprint (`redis.sha1hex` in Lua, so
every process agrees). The 64-bit fingerprint alone is too short for two independent hashes of
m up to 2^42 bits; with 48-bit words and k <= 20 every sum stays exact in Lua's doubles (< 2^53).

Keys: each partition's `bloom` hash (keys.py) holds its geometry, written when the job's
frontier is first built and never after: a job keeps the filter it was created with, whatever a
later process's settings or this code say. Bit b lives in the string `<bloom>:<b // piece>` at
offset b mod piece, pieces of 2^27 bits (16 MiB), far below Redis' 512 MB per string; all under
the partition's hash tag, so ADD reaches them in its cluster slot. Each piece is allocated at its
full length, zeroed, when the filter is sized: the filter costs its m bits from the job's first
URL on, and none of it is the slack Redis adds to a string grown bit by bit (up to 1 MiB each).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import redis

from crawler import settings as defaults
from crawler.frontier.keys import JobKeys

EXACT, BLOOM = "exact", "bloom"
MODES = (EXACT, BLOOM)  # LINKGRAPH_DEDUPE
PIECE_BITS = 1 << 27  # bits per string
MAX_CAPACITY = 10**11  # LINKGRAPH_BLOOM_CAPACITY: at 1e-6, m stays below 2^42 bits (bias 2^-6)
MIN_ERROR_RATE, MAX_ERROR_RATE = 1e-6, 0.5  # LINKGRAPH_BLOOM_ERROR_RATE: k is 1 to 20
WORD_HEX = 12  # hex digits of h1 and of h2 (48 bits each)
# Allocates the piece KEYS[1] at its full length (its last bit, ARGV[1], cleared) unless it
# exists: clearing a bit of a filter in use would forget URLs.
ALLOCATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SETBIT', KEYS[1], ARGV[1], 0) end
"""


def check_setting(name: str, value: Any) -> None:
    """Raise ValueError when `value` is out of range for the dedupe setting `name`."""
    if name == "LINKGRAPH_DEDUPE" and value not in MODES:
        raise ValueError(f"{value!r} is not one of {', '.join(MODES)}")
    if name == "LINKGRAPH_BLOOM_CAPACITY" and not 1 <= value <= MAX_CAPACITY:
        raise ValueError(f"{value} is not between 1 and {MAX_CAPACITY:.0e}")
    if name == "LINKGRAPH_BLOOM_ERROR_RATE" and not MIN_ERROR_RATE <= value <= MAX_ERROR_RATE:
        raise ValueError(f"{value:g} is not between {MIN_ERROR_RATE:g} and {MAX_ERROR_RATE:g}")


@dataclass(frozen=True, slots=True)
class Dedupe:
    """How a job tells the URLs it has seen (crawler/settings.py says what each field means)."""

    mode: str = defaults.LINKGRAPH_DEDUPE
    capacity: int = defaults.LINKGRAPH_BLOOM_CAPACITY
    error_rate: float = defaults.LINKGRAPH_BLOOM_ERROR_RATE

    @classmethod
    def saved(cls, client: redis.Redis, job_keys: JobKeys) -> Dedupe:
        """As the job's saved spec says (crawler/jobspec.py); exact for a job without one."""
        raw = client.hget(job_keys.config, "spec")
        spec = json.loads(cast("bytes", raw)) if raw else {}
        return cls(
            spec.get("dedupe", EXACT),
            int(spec.get("bloom_capacity", defaults.LINKGRAPH_BLOOM_CAPACITY)),
            float(spec.get("bloom_error_rate", defaults.LINKGRAPH_BLOOM_ERROR_RATE)),
        )

    @property
    def bloom(self) -> bool:
        return self.mode == BLOOM

    def describe(self) -> str:
        if not self.bloom:
            return "exactly"
        return (
            f"with a Bloom filter for {self.capacity:,} URLs at a false-positive rate of "
            f"{self.error_rate:g}"
        )


@dataclass(frozen=True, slots=True)
class BloomGeometry:
    """One partition's filter: m bits, k hashes, split in strings of `piece_bits` bits."""

    bits: int
    hashes: int
    piece_bits: int = PIECE_BITS

    @classmethod
    def sized(
        cls, capacity: int, error_rate: float, partitions: int = 1, piece_bits: int = PIECE_BITS
    ) -> BloomGeometry:
        """The filter of one of `partitions` for `capacity` URLs at `error_rate` (module doc)."""
        n = math.ceil(capacity / partitions)
        k = math.ceil(-math.log2(error_rate))
        bits = math.ceil(-k * n / math.log(1 - error_rate ** (1 / k)))
        return cls(bits, k, piece_bits)

    @classmethod
    def from_mapping(cls, saved: Mapping[bytes, bytes]) -> BloomGeometry:
        return cls(int(saved[b"bits"]), int(saved[b"hashes"]), int(saved[b"piece_bits"]))

    def as_mapping(self) -> dict[str, int]:
        return {"bits": self.bits, "hashes": self.hashes, "piece_bits": self.piece_bits}

    @property
    def pieces(self) -> int:
        return -(-self.bits // self.piece_bits)

    def piece_length(self, piece: int) -> int:
        """Bits of piece `piece` (the last one holds the rest)."""
        return min(self.piece_bits, self.bits - piece * self.piece_bits)

    def positions(self, fp: str) -> list[int]:
        """The k bits of fingerprint `fp` (16 hex digits), as the Lua of `FIRST_SEEN` sets them."""
        digest = hashlib.sha1(fp.encode(), usedforsecurity=False).hexdigest()
        h1, h2 = int(digest[:WORD_HEX], 16), int(digest[WORD_HEX : 2 * WORD_HEX], 16)
        return [(h1 + i * h2) % self.bits for i in range(self.hashes)]

    def expected_rate(self, urls: int) -> float:
        """The false-positive rate expected once `urls` distinct URLs are in."""
        return float((1 - math.exp(-self.hashes * urls / self.bits)) ** self.hashes)


def piece_key(bloom_key: str, piece: int) -> str:
    """The string holding piece `piece` of the filter whose geometry is at `bloom_key`."""
    return f"{bloom_key}:{piece}"


def piece_keys(keys: JobKeys, geometry: BloomGeometry) -> list[str]:
    return [piece_key(keys.bloom, piece) for piece in range(geometry.pieces)]


def size(
    client: redis.Redis, partitions: Sequence[JobKeys], wanted: BloomGeometry
) -> list[BloomGeometry]:
    """Give each partition the `wanted` filter unless it has one, its pieces allocated; returns
    the ones they have. Two round trips. Two processes sizing one new job at once write the same
    values."""
    pipe = client.pipeline(transaction=False)
    for keys in partitions:
        for name, value in wanted.as_mapping().items():
            pipe.hsetnx(keys.bloom, name, value)
        pipe.hgetall(keys.bloom)
    replies = pipe.execute()
    step = len(wanted.as_mapping()) + 1
    have = [BloomGeometry.from_mapping(replies[i]) for i in range(step - 1, len(replies), step)]
    pipe = client.pipeline(transaction=False)
    for keys, geometry in zip(partitions, have, strict=True):
        for piece, key in enumerate(piece_keys(keys, geometry)):
            pipe.eval(ALLOCATE, 1, key, geometry.piece_length(piece) - 1)
    pipe.execute()
    return have


def contains(client: redis.Redis, keys: JobKeys, geometry: BloomGeometry, fp: str) -> bool:
    """Whether all of the fingerprint's bits are set (it may be a false positive)."""
    pipe = client.pipeline(transaction=False)
    for bit in geometry.positions(fp):
        pipe.getbit(piece_key(keys.bloom, bit // geometry.piece_bits), bit % geometry.piece_bits)
    return all(pipe.execute())


# The Lua fragment ADD_BLOOM starts with (scripts/add.py): the partition's geometry, read once per
# call from its `bloom` hash (KEYS, bound to the local `bloom`), and `first_seen(fp)`, which sets
# the fingerprint's k bits and says whether one of them was clear: the URL is new. It mirrors
# `BloomGeometry.positions`; math.fmod is exact on doubles below 2^53.
FIRST_SEEN = """
local bloom_geometry = redis.call('HMGET', bloom, 'bits', 'hashes', 'piece_bits')
if not bloom_geometry[1] then
  return redis.error_reply('ERR linkgraph: the Bloom filter ' .. bloom .. ' was never sized')
end
local bloom_bits = tonumber(bloom_geometry[1])
local bloom_hashes = tonumber(bloom_geometry[2])
local bloom_piece_bits = tonumber(bloom_geometry[3])
local function first_seen(fp)
  local digest = redis.sha1hex(fp)
  local h1 = tonumber(string.sub(digest, 1, 12), 16)
  local h2 = tonumber(string.sub(digest, 13, 24), 16)
  local new = false
  for i = 0, bloom_hashes - 1 do
    local bit = math.fmod(h1 + i * h2, bloom_bits)
    local offset = math.fmod(bit, bloom_piece_bits)
    local piece = (bit - offset) / bloom_piece_bits
    if redis.call('SETBIT', bloom .. ':' .. piece, offset, 1) == 0 then new = true end
  end
  return new
end
"""
