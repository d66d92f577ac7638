"""Reading a frontier's state without changing it: whether a URL was seen (`is_seen`), how much
is queued (`queued`), whether the job has work left (`has_work`), and its counters (`stats`),
each summed over the partitions. Plain functions on the frontier's client and partitions:
`Frontier` delegates to them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import redis

from crawler.frontier import bloom
from crawler.frontier.entry import fingerprint
from crawler.frontier.keys import JobKeys
from crawler.frontier.partitions import Partitions
from crawler.urls import host_of


def is_seen(
    client: redis.Redis,
    partitions: Partitions,
    filters: Sequence[bloom.BloomGeometry],
    url: str,
) -> bool:
    """`filters`: each partition's Bloom filter (none: the job dedupes exactly, in `seen`)."""
    partition = partitions.of_host(host_of(url))
    if filters:  # may be a false positive
        geometry = filters[partition.index]
        return bloom.contains(client, partition.keys, geometry, fingerprint(url))
    return bool(client.sismember(partition.keys.seen, fingerprint(url)))


def queued(client: redis.Redis, partitions: Partitions) -> int:
    return summed(client, partitions, lambda keys, pipe: pipe.hget(keys.stats, "queued"))[0]


def summed(
    client: redis.Redis, partitions: Partitions, *reads: Callable[[JobKeys, Any], Any]
) -> list[int]:
    """Each read (of one partition's keys, queued on a pipeline), summed over partitions."""
    pipe = client.pipeline(transaction=False)
    for partition in partitions.all:
        for read in reads:
            read(partition.keys, pipe)
    values = pipe.execute()
    return [sum(int(v or 0) for v in values[i :: len(reads)]) for i in range(len(reads))]


def has_work(client: redis.Redis, partitions: Partitions, max_pages: int) -> bool:
    """Something is queued or still in flight somewhere (its page may add links), and the
    page budget is not spent."""
    queued, popped, leased = summed(
        client,
        partitions,
        lambda keys, pipe: pipe.hget(keys.stats, "queued"),
        lambda keys, pipe: pipe.hget(keys.stats, "popped"),
        lambda keys, pipe: pipe.hlen(keys.leases),
    )
    if max_pages and popped >= max_pages:
        return False
    return queued > 0 or leased > 0


def stats(
    client: redis.Redis, partitions: Partitions, filters: Sequence[bloom.BloomGeometry]
) -> dict[str, int]:
    """The counters of `JobKeys.stats` and the sizes of leases, due and seen, summed over
    the partitions."""
    pipe = client.pipeline(transaction=False)
    for partition in partitions.all:
        keys = partition.keys
        pipe.hgetall(keys.stats)
        pipe.hlen(keys.leases)
        pipe.zcard(keys.due)
        pipe.scard(keys.seen)
    values = pipe.execute()
    out: dict[str, int] = {}
    for i in range(0, len(values), 4):
        counters, leased, hosts, seen = values[i : i + 4]
        sizes = {b"leased": leased, b"hosts_queued": hosts, b"seen": seen}
        for name, value in [*counters.items(), *sizes.items()]:
            out[name.decode()] = out.get(name.decode(), 0) + int(value)
    if filters:  # a Bloom filter cannot count its URLs: those it let in, then
        out["seen"] = out.get("enqueued", 0)
    return out
