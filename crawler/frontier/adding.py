"""Queueing discovered URLs: each one not seen before in the job goes to its host's queue, in
one script call per partition (ADD, or ADD_BLOOM when the job dedupes with Bloom filters), all
in one round trip. Plain functions on the frontier's client and partitions: `Frontier`
delegates to them."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import redis

from crawler.frontier import bloom, scripts
from crawler.frontier.entry import Entry
from crawler.frontier.partitions import Call, Partitions
from crawler.urls import host_of


def add_script(
    client: redis.Redis, partitions: Partitions, dedupe: bloom.Dedupe
) -> tuple[scripts.Script, list[bloom.BloomGeometry]]:
    """The script that adds URLs as the job dedupes them, and each partition's Bloom filter
    (none: the job dedupes exactly), sized as the job was created."""
    if not dedupe.bloom:
        return scripts.ADD, []
    wanted = bloom.BloomGeometry.sized(dedupe.capacity, dedupe.error_rate, partitions.count)
    return scripts.ADD_BLOOM, bloom.size(client, [p.keys for p in partitions.all], wanted)


def add_calls(
    partitions: Partitions,
    script: scripts.Script,
    priority: Callable[[str, int], int],
    max_pages_per_host: int,
    items: Iterable[tuple[str, int]],
) -> list[Call]:
    """The script calls that queue each (canonical url, depth): one per partition the URLs'
    hosts fall in."""
    triples = []
    for url, depth in items:
        host = host_of(url)
        triples.append((host, (host, Entry.new(url, depth).dumps(), priority(url, depth))))
    now = time.time()
    return [
        (partition, script, [now, max_pages_per_host, *(v for triple in group for v in triple)])
        for partition, group in partitions.by_host(triples).items()
    ]
