"""Runs one crawl job in this process: Redis up (embedded or by URL), storage checked, Scrapy run,
summary out. The CLI's `crawl` and `demo` commands are thin layers over `run_crawl`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from crawler import USER_AGENT
from crawler.errors import UsageError
from crawler.frontier import Frontier
from crawler.frontier.connection import connect as connect_redis
from crawler.frontier.embedded import EmbeddedRedis
from crawler.frontier.keys import JOBS_KEY
from crawler.resolver import read_hosts_file
from crawler.spiders.links import LinkSpider
from crawler.storage import StorageTarget, connect


@dataclass
class CrawlOptions:
    job: str
    seeds: list[str]
    storage: StorageTarget
    redis_url: str = ""
    max_pages: int = 0
    max_pages_per_host: int = 0
    max_depth: int = 0
    follow_links: bool = True
    delay: float = 1.0
    hosts_file: str = ""
    allow_private: bool = False
    user_agent: str = USER_AGENT
    warc_dir: str = ""
    log_level: str = "WARNING"
    progress_seconds: float = 5.0
    extra_settings: dict[str, Any] = field(default_factory=dict)


@dataclass
class CrawlResult:
    job: str
    finish_reason: str
    pages: int
    links: int
    frontier: dict[str, int]


@contextlib.contextmanager
def redis_for(url: str, data_dir: Path) -> Iterator[str]:
    """The Redis URL to use: the given one (checked), or an embedded server for the run."""
    if url:
        connect_redis(url).close()
        yield url
        return
    server = EmbeddedRedis(data_dir)
    try:
        yield server.start()
    finally:
        server.stop()


def build_settings(options: CrawlOptions, redis_url: str) -> Settings:
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.setdict(
        {
            "REDIS_URL": redis_url,
            "LINKGRAPH_JOB": options.job,
            "LINKGRAPH_SEEDS": options.seeds,
            "LINKGRAPH_DATA_DIR": str(options.storage.data_dir),
            "LINKGRAPH_CLICKHOUSE_URL": options.storage.url,
            "LINKGRAPH_DATABASE": options.storage.database,
            "LINKGRAPH_MAX_PAGES": options.max_pages,
            "LINKGRAPH_MAX_PAGES_PER_HOST": options.max_pages_per_host,
            "LINKGRAPH_MAX_DEPTH": options.max_depth,
            "LINKGRAPH_FOLLOW_LINKS": options.follow_links,
            "LINKGRAPH_DELAY": options.delay,
            "LINKGRAPH_HOSTS_FILE": options.hosts_file,
            "LINKGRAPH_ALLOW_PRIVATE": options.allow_private,
            "LINKGRAPH_WARC_DIR": options.warc_dir,
            "LINKGRAPH_PROGRESS_SECONDS": options.progress_seconds,
            "USER_AGENT": options.user_agent,
            "LOG_LEVEL": options.log_level,
        },
        priority="cmdline",
    )
    settings.setdict(options.extra_settings, priority="cmdline")
    return settings


def run_crawl(options: CrawlOptions) -> CrawlResult:
    if options.hosts_file:
        read_hosts_file(options.hosts_file)  # a bad file fails now, not at the first lookup
    options.storage.data_dir.mkdir(parents=True, exist_ok=True)
    connect(options.storage)  # an unreachable or locked index fails before anything is fetched
    with redis_for(options.redis_url, options.storage.data_dir) as redis_url:
        client = connect_redis(redis_url)
        known = client.sismember(JOBS_KEY, options.job)
        if not options.seeds and not known:
            raise UsageError(
                f"job {options.job!r} has no seeds: give URLs or --seeds-file to start it"
            )
        settings = build_settings(options, redis_url)
        process = CrawlerProcess(settings)
        logging.getLogger("scrapy").setLevel(options.log_level)
        crawler = process.create_crawler(LinkSpider)
        process.crawl(crawler)
        process.start()
        stats = crawler.stats.get_stats() if crawler.stats else {}
        frontier = Frontier(client, options.job)
        return CrawlResult(
            job=options.job,
            finish_reason=str(stats.get("finish_reason", "unknown")),
            pages=int(stats.get("linkgraph/pages", 0)),
            links=int(stats.get("linkgraph/links", 0)),
            frontier=frontier.stats(),
        )
