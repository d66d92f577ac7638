"""The dedupe part of the frontier benchmark (benchmarks/frontier.py): Redis bytes per seen URL
and adds per second of the exact fingerprint set against a Bloom filter at 1% and at 0.1%
(crawler/frontier/bloom.py), each on a fresh job whose filter is sized for exactly the URLs it
is given, so its bytes per URL are those of a job at its capacity.

Bytes are read two ways once every URL is in: MEMORY USAGE of the dedupe keys (every element
counted), and INFO used_memory before and after a synchronous DEL of them (what the allocator
gives back). The adds are the frontier's own ADD scripts, a page of 100 links per call, first
all new, then all seen again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

import redis

from crawler.frontier import Frontier
from crawler.frontier.bloom import Dedupe, piece_keys

MODES = [("exact", Dedupe("exact")), ("bloom 1%", Dedupe("bloom", 0, 0.01)),
         ("bloom 0.1%", Dedupe("bloom", 0, 0.001))]  # fmt: skip


def dedupe_keys(client: redis.Redis, frontier: Frontier) -> list[str]:
    """Every key holding the frontier's seen URLs: its sets, or its filters' hash and pieces."""
    names: list[str] = []
    for index, partition in enumerate(frontier.partitions.all):
        keys = partition.keys
        if frontier.dedupe.bloom:
            names += [keys.bloom, *piece_keys(keys, frontier._filters[index])]
        else:
            names.append(keys.seen)
    return [name for name in names if client.exists(name)]


def used_memory(client: redis.Redis) -> int:
    """INFO used_memory once no freeing is pending: Valkey frees a deleted set of many members
    in the background (lazyfree-lazy-user-del)."""
    while True:
        memory = client.info("memory")
        if not int(memory.get("lazyfree_pending_objects", 0)):
            return int(memory["used_memory"])
        time.sleep(0.01)


def dedupe_sweep(
    client: redis.Redis,
    run: Callable[[str, Callable[[], tuple[int, int]]], Any],
    add_all: Callable[[Frontier, list[str]], tuple[int, int]],
    urls: list[str],
) -> list[dict[str, Any]]:
    """Each mode on a fresh job of `urls`: adds per second (new, then seen), and bytes per URL.
    `run(name, body)` times a step (Meter.run); `add_all` pushes the URLs a page at a time."""
    rows = []
    for name, mode in MODES:
        if mode.bloom:
            mode = Dedupe(mode.mode, len(urls), mode.error_rate)
        job = f"bench-dedupe-{name.replace(' ', '').replace('%', '')}"
        frontier = Frontier(client, job, delay=0.0, partitions=1, dedupe=mode)
        add = run(f"{name}: add, all new", partial(add_all, frontier, urls))
        again = run(f"{name}: re-add, all seen", partial(add_all, frontier, urls))
        seen = frontier.stats()["seen"]
        if seen != len(urls) and not mode.bloom:
            raise SystemExit(f"the exact set holds {seen} URLs, not {len(urls)}")
        keys = dedupe_keys(client, frontier)
        usage = sum(int(client.memory_usage(key, samples=0) or 0) for key in keys)
        before = used_memory(client)
        client.delete(*keys)
        freed = before - used_memory(client)
        rows.append({
            "dedupe": name,
            "urls": len(urls),
            "queued": seen,  # a Bloom filter's false positives were not queued
            "lost": len(urls) - seen,
            "adds_per_s": add.per_s,
            "seen_adds_per_s": again.per_s,
            "memory_usage_per_url": usage / len(urls),
            "used_memory_per_url": freed / len(urls),
            "bits_per_url": 8 * usage / len(urls),
        })  # fmt: skip
    return rows


def report_lines(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        f"Dedupe, on fresh jobs of {rows[0]['urls']:,} URLs each (a Bloom filter sized for "
        "exactly them): Redis bytes per seen URL, and adds per second",
        f"{'dedupe':>12}{'MEMORY USAGE B/URL':>20}{'used_memory B/URL':>19}{'adds/s new':>12}"
        f"{'adds/s seen':>13}{'URLs lost':>11}",
    ]
    for row in rows:
        lines.append(
            f"{row['dedupe']:>12}{row['memory_usage_per_url']:>20.2f}"
            f"{row['used_memory_per_url']:>19.2f}{row['adds_per_s']:>12,.0f}"
            f"{row['seen_adds_per_s']:>13,.0f}{row['lost']:>11,}"
        )
    lines.append(
        "URLs lost: new URLs the filter took for seen (false positives), never queued; a job "
        "below its capacity loses fewer, and a filter costs its m bits from its first URLs on."
    )
    return lines
