"""The Bloom-filter dedupe (LINKGRAPH_DEDUPE = "bloom"), against a real Valkey: its sizing, the
bits its Lua sets, exact dedupe where it must be, the false-positive rate it states, and a crawl
of the test web exact against its ground truth."""

from __future__ import annotations

import hashlib
import math
import random
from pathlib import Path
from typing import cast

import numpy as np
import pytest
import redis

from crawler import jobs
from crawler.demo.server import LocalWebServer
from crawler.errors import UsageError
from crawler.frontier import Frontier, fingerprint, scripts
from crawler.frontier.bloom import (
    FIRST_SEEN,
    BloomGeometry,
    Dedupe,
    piece_key,
    piece_keys,
    size,
)
from crawler.frontier.keys import JobKeys
from crawler.jobspec import JobSpec
from crawler.processes.valkey import EmbeddedValkey
from crawler.run import resolve_spec
from tests.conftest import SHORT_BACKOFF, page_fetches, query, run_cli, run_linkgraph
from tests.testweb import TestWeb

BLOOM = Dedupe("bloom", 100_000, 0.001)


def test_sizing_follows_the_stated_formulas() -> None:
    for capacity, rate, k in [(10**6, 0.01, 7), (10**6, 0.001, 10), (10**9, 0.001, 10)]:
        g = BloomGeometry.sized(capacity, rate)
        classic = -capacity * math.log(rate) / math.log(2) ** 2
        assert g.hashes == k == math.ceil(-math.log2(rate))
        assert g.bits == math.ceil(-k * capacity / math.log(1 - rate ** (1 / k)))
        assert 0 < g.bits / classic - 1 < 0.001  # the classic m, for a whole k
        assert rate * 0.999 < g.expected_rate(capacity) <= rate
        assert g.expected_rate(capacity // 2) < rate / 10
    # a billion URLs at 0.1%: 1.8 bytes each, in 108 strings of 16 MiB (none near 512 MB)
    g = BloomGeometry.sized(10**9, 0.001)
    assert (g.pieces, g.piece_bits // 8) == (108, 2**24) and g.bits / 8 / 10**9 < 1.8
    # each of P partitions is sized for its share
    assert BloomGeometry.sized(10**9, 0.001, 4) == BloomGeometry.sized(250_000_000, 0.001)


def piece_bytes(client: redis.Redis, key: str) -> bytes:
    return cast("bytes | None", client.get(key)) or b""


def set_bits(client: redis.Redis, keys: JobKeys, geometry: BloomGeometry) -> set[int]:
    """Every bit set in the filter, read back from its strings."""
    found = set()
    for piece, key in enumerate(piece_keys(keys, geometry)):
        for byte_index, byte in enumerate(piece_bytes(client, key)):
            for b in range(8):
                if byte & (0x80 >> b):
                    found.add(piece * geometry.piece_bits + byte_index * 8 + b)
    return found


def test_the_lua_sets_exactly_the_bits_of_the_stated_positions(redis_client: redis.Redis) -> None:
    """A filter sized when the job was created (here in pieces of 4,096 bits) is the one every
    frontier of the job uses, whatever its settings; ADD sets the bits `positions` says."""
    small = BloomGeometry(bits=100_003, hashes=5, piece_bits=4096)
    assert size(redis_client, [JobKeys("bits")], small) == [small]
    f = Frontier(redis_client, "bits", delay=0, dedupe=BLOOM)
    assert f._filters == [small] and small.pieces == 25
    urls = [f"http://h{i % 7}.com/{i}" for i in range(300)]
    assert f.add([(url, 1) for url in urls]) == 300
    expected = {bit for url in urls for bit in small.positions(fingerprint(url))}
    assert set_bits(redis_client, JobKeys("bits"), small) == expected
    assert all(f.is_seen(url) for url in urls)
    # each piece allocated in full when sized, and never again: a new frontier clears no bit
    lengths = [redis_client.strlen(key) for key in piece_keys(JobKeys("bits"), small)]
    assert lengths == [512] * 24 + [-(-(100_003 - 24 * 4096) // 8)]
    assert Frontier(redis_client, "bits", dedupe=BLOOM).add([(urls[0], 1)]) == 0
    assert set_bits(redis_client, JobKeys("bits"), small) == expected
    assert redis_client.exists(JobKeys("bits").seen) == 0  # no exact set beside it


@pytest.mark.cluster_too
@pytest.mark.parametrize("partitions", [1, 4], ids=["P=1", "P=4"])
def test_a_url_added_twice_is_queued_once(redis_client: redis.Redis, partitions: int) -> None:
    f = Frontier(redis_client, "twice", delay=0, partitions=partitions, dedupe=BLOOM)
    assert f.add([("http://a.com/", 0), ("http://a.com/", 0), ("http://a.com/x", 1)]) == 2
    assert f.add([("http://a.com/x", 1), ("http://b.com/", 1)]) == 1
    assert f.queued() == 3 and f.stats()["seen"] == 3
    assert f.is_seen("http://a.com/x") and not f.is_seen("http://c.com/")
    popped = sorted(e.url for e in f.pop(10).entries)
    assert popped == ["http://a.com/", "http://b.com/"]  # one per host
    f.release("a.com")
    f.ack([fingerprint(u) for u in popped])
    assert f.add([("http://a.com/", 0), ("http://b.com/", 0)]) == 0  # fetched: still seen
    assert [e.url for e in f.pop(10).entries] == ["http://a.com/x"]
    # every key of the filter is under its partition's hash tag, and no exact set is kept
    for keys in JobKeys("twice").partitions(partitions):
        assert redis_client.exists(keys.seen) == 0
        assert redis_client.hgetall(keys.bloom) == {
            b"bits": str(f._filters[0].bits).encode(), b"hashes": b"10",
            b"piece_bits": str(2**27).encode(),
        }  # fmt: skip
    tagged = [piece_key(f.keys_for(h).bloom, 0) for h in ("a.com", "b.com")]
    # allocated at its full length when sized
    assert all(redis_client.strlen(key) == -(-f._filters[0].bits // 8) for key in tagged)
    assert all(key.startswith(f"lg:{{{f.keys_for('a.com').tag}}}:") for key in tagged[:1])


# The measured rate: CAPACITY random fingerprints go in through the filter's own Lua, then
# PROBES others, never added, are looked up in the bits read back.
CAPACITY, PROBES = 100_000, 1_000_000
FILL = scripts._script(
    "bloom",
    FIRST_SEEN
    + """
local new = 0
for i = 2, #ARGV do
  if first_seen(ARGV[i]) then new = new + 1 end
end
return new
""",
)


def found(fps: list[str], geometry: BloomGeometry, bitmap: np.ndarray) -> np.ndarray:
    """Whether each fingerprint's bits are all set in `bitmap` (the filter's bits, unpacked):
    `BloomGeometry.positions`, for many at once."""
    digests = [hashlib.sha1(fp.encode(), usedforsecurity=False).hexdigest() for fp in fps]
    h1 = np.array([int(d[:12], 16) for d in digests], dtype=np.uint64)
    h2 = np.array([int(d[12:24], 16) for d in digests], dtype=np.uint64)
    hit = np.ones(len(fps), dtype=bool)
    for i in range(geometry.hashes):
        hit &= bitmap[(h1 + np.uint64(i) * h2) % np.uint64(geometry.bits)]
    return hit


@pytest.mark.parametrize("rate", [0.01, 0.001])
def test_the_false_positive_rate_is_the_stated_one(redis_client: redis.Redis, rate: float) -> None:
    keys = JobKeys(f"rate{rate}")
    geometry = size(redis_client, [keys], BloomGeometry.sized(CAPACITY, rate, piece_bits=2**18))[0]
    assert geometry.pieces > 1
    rng = random.Random(20261130)
    fps = [f"{rng.getrandbits(64):016x}" for _ in range(CAPACITY + PROBES)]
    assert len(set(fps)) == len(fps)
    added, probes = fps[:CAPACITY], fps[CAPACITY:]
    fill = redis_client.register_script(FILL.lua)
    new = sum(
        int(fill(keys=[keys.bloom], args=["", *added[i : i + 2000]]))
        for i in range(0, CAPACITY, 2000)
    )
    # while filling, some new fingerprints were taken for seen: fewer than the final rate says
    assert CAPACITY * (1 - rate) < new < CAPACITY
    raw = b"".join(
        piece_bytes(redis_client, key).ljust(geometry.piece_bits // 8, b"\0")
        for key in piece_keys(keys, geometry)
    )
    bitmap = np.unpackbits(np.frombuffer(raw, dtype=np.uint8)).astype(bool)  # bit 0: the MSB
    assert not bitmap[geometry.bits :].any()
    sample = added[:500]
    assert {b for fp in sample for b in geometry.positions(fp)} <= set(np.flatnonzero(bitmap))
    assert found(added, geometry, bitmap).all()  # no false negative: Lua and Python agree
    measured = float(found(probes, geometry, bitmap).mean())
    # 1M probes: the count's standard deviation is 1% of it at 1%, 3% at 0.1%
    assert rate * 0.85 < measured < rate * 1.15, measured
    filled = 1 - math.exp(-geometry.hashes * CAPACITY / geometry.bits)
    assert bitmap.sum() / geometry.bits == pytest.approx(filled, rel=0.01)
    print(f"rate {rate}: measured {measured:.5f} on {len(probes):,} probes")


def test_the_dedupe_is_fixed_when_the_job_is_created(redis_client: redis.Redis) -> None:
    given = {"LINKGRAPH_DEDUPE": "bloom", "LINKGRAPH_BLOOM_CAPACITY": 5000}
    spec, _ = resolve_spec(redis_client, "fixed", given, ["http://a.example/"])
    jobs.save(redis_client, spec)
    assert (spec.dedupe, spec.bloom_capacity, spec.bloom_error_rate) == ("bloom", 5000, 0.001)
    assert Frontier(redis_client, "fixed").dedupe == Dedupe("bloom", 5000, 0.001)
    again, _ = resolve_spec(redis_client, "fixed", {"LINKGRAPH_DELAY": 2.0}, [])
    assert again.dedupe == "bloom"
    with pytest.raises(UsageError, match=r"dedupes URLs with a Bloom filter for 5,000 URLs at a "
                       r"false-positive rate of 0\.001, fixed when it was created"):  # fmt: skip
        resolve_spec(redis_client, "fixed", {"LINKGRAPH_DEDUPE": "exact"}, [])
    with pytest.raises(UsageError, match="a new job may dedupe them with a Bloom filter for 9"):
        resolve_spec(redis_client, "fixed", {"LINKGRAPH_BLOOM_CAPACITY": 9}, [])
    assert JobSpec().dedupe == "exact"


@pytest.mark.parametrize(
    ("flags", "line"),
    [
        (["--dedupe", "fuzzy"], "argument --dedupe: 'fuzzy' is not one of exact, bloom"),
        (["--bloom-capacity", "0"], "argument --bloom-capacity: 0 is not between 1 and 1e+11"),
        (["--bloom-error-rate", "0.9"],
         "argument --bloom-error-rate: 0.9 is not between 1e-06 and 0.5"),
        (["-s", "LINKGRAPH_BLOOM_CAPACITY=1e9"],
         "-s LINKGRAPH_BLOOM_CAPACITY=1e9: '1e9' is not a whole number"),
    ],
)  # fmt: skip
def test_bad_dedupe_values_are_one_line(tmp_path: Path, flags: list[str], line: str) -> None:
    status, out, err = run_cli("crawl", "http://a.example/", "--data-dir", str(tmp_path / "d"),
                               *flags)  # fmt: skip
    assert status == 2 and out == ""
    assert err == f"linkgraph: error: {line}\n"
    assert not (tmp_path / "d").exists()


def test_a_crawl_with_a_bloom_filter_is_exact(
    web: TestWeb, served: tuple[LocalWebServer, Path], tmp_path: Path
) -> None:
    """At a capacity far above the test web, no URL is lost: the crawl equals the ground truth,
    on two partitions and two workers."""
    server, hosts_file = served
    data = tmp_path / "data"
    args = ["crawl", "--job", "bloomed", "--data-dir", str(data), "--hosts-file",
            str(hosts_file), "--allow-private", "--delay", "0", "--workers", "2", "-q",
            *SHORT_BACKOFF]  # fmt: skip
    run_linkgraph(*args, "--dedupe", "bloom", "--bloom-capacity", "100000",
                  "-s", "LINKGRAPH_FRONTIER_PARTITIONS=2", *web.seeds(server.port))  # fmt: skip
    rows = query(data, "SELECT url, status FROM pages")
    assert dict(rows) == web.expected_pages(server.port) and len(rows) == len(dict(rows))
    assert page_fetches(server, web) == web.expected_fetches(), "a page fetched twice or not"
    status, _, err = run_cli(*args[:5], "--dedupe", "exact")
    assert status == 2 and "dedupes URLs with a Bloom filter for 100,000 URLs" in err
    with EmbeddedValkey(data) as valkey:
        client = redis.Redis.from_url(valkey.url)
        spec = jobs.load(client, "bloomed")
        names = {k.decode() for k in client.scan_iter("lg:{bloomed*")}
        enqueued = sum(int(client.hget(k.stats, "enqueued") or 0)
                       for k in JobKeys("bloomed").partitions(2))  # fmt: skip
        client.close()
    assert spec is not None and (spec.dedupe, spec.bloom_capacity) == ("bloom", 100_000)
    assert {f"lg:{{bloomed:{p}}}:bloom" for p in range(2)} <= names
    assert {f"lg:{{bloomed:{p}}}:bloom:0" for p in range(2)} <= names
    assert not [name for name in names if name.endswith(":seen")]
    assert enqueued == len(web.expected_pages(server.port))
