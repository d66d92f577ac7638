"""linkgraph's side of the benchmark: the real CLI in a subprocess, then what it recorded.

Counts come from the index and the frontier after the crawl, not from the crawler's summary,
so the figures are what was stored.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import redis

JOB = "bench"


def crawl_command(
    seeds_file: Path, hosts_file: Path, data_dir: Path, pages: int, workers: int | None = None
) -> list[str]:
    """The crawl as a user would run it; `workers` None leaves the CLI's default (one process
    per core)."""
    cmd = [
        sys.executable, "-m", "crawler.cli.main", "crawl", "--seeds-file", str(seeds_file),
        "--job", JOB, "--data-dir", str(data_dir), "--hosts-file", str(hosts_file),
        "--allow-private", "--delay", "0", "--max-pages", str(pages), "-q",
    ]  # fmt: skip
    if workers is not None:
        cmd += ["--workers", str(workers)]
    return cmd


@dataclass(slots=True)
class Recorded:
    """What one linkgraph job left behind in its index and frontier."""

    pages: int
    links: int
    hosts: int
    pages_ok: int  # status 200
    links_bytes_on_disk: int
    pages_bytes_on_disk: int
    seen_urls: int
    seen_set_bytes: int  # MEMORY USAGE of the fingerprint set
    redis_used_bytes: int  # INFO used_memory: the whole frontier (queues, leases, robots, ...)
    redis_startup_bytes: int  # INFO used_memory_startup: an empty server's share of that
    robots_cached: int  # origins whose robots.txt the job fetched


def read_index(data_dir: Path) -> dict[str, int]:
    # Imported here: loading chDB into the benchmark's own process only after the crawls keeps
    # its threads off the cores while they are measured.
    from crawler.storage import StorageTarget, connect

    client = connect(StorageTarget("", data_dir), migrate=False)
    try:
        pages, ok, hosts = client.query(
            "SELECT count(), countIf(status = 200), uniqExact(host) FROM pages "
            "WHERE job = {job:String}",
            parameters={"job": JOB},
        ).result_rows[0]
        links = client.query(
            "SELECT count() FROM links WHERE job = {job:String}", parameters={"job": JOB}
        ).result_rows[0][0]
        parts = client.query(
            "SELECT table, sum(bytes_on_disk) FROM system.parts WHERE database = "
            "{db:String} AND table IN ('pages', 'links') AND active GROUP BY table",
            parameters={"db": client.database},
        ).result_rows
        sizes: dict[str, int] = {str(table): int(size) for table, size in parts}
    finally:
        client.close()
    return {
        "pages": int(pages),
        "pages_ok": int(ok),
        "hosts": int(hosts),
        "links": int(links),
        "links_bytes_on_disk": int(sizes.get("links", 0)),
        "pages_bytes_on_disk": int(sizes.get("pages", 0)),
    }


def read_frontier(data_dir: Path) -> dict[str, int]:
    from crawler.frontier.keys import JobKeys
    from crawler.processes.valkey import EmbeddedValkey

    keys = JobKeys(JOB)
    with EmbeddedValkey(data_dir) as server:  # replays the job's append-only file
        client = redis.Redis.from_url(server.url)
        memory = client.info("memory")
        seen_bytes = client.memory_usage(keys.seen, samples=0) or 0  # 0: count every member
        figures = {
            "seen_urls": int(client.scard(keys.seen)),
            "seen_set_bytes": int(seen_bytes),
            "redis_used_bytes": int(memory["used_memory"]),
            "redis_startup_bytes": int(memory["used_memory_startup"]),
            "robots_cached": int(client.hlen(keys.robots)),
        }
        client.close()
    return figures


def read_recorded(data_dir: Path) -> Recorded:
    return Recorded(**read_index(data_dir), **read_frontier(data_dir))
