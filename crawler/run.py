"""Runs one crawl job in this process: Redis up (embedded or by URL), storage checked, Scrapy run,
summary out. The CLI's `crawl` and `demo` commands are thin layers over `run_crawl`.
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.settings import Settings

from crawler import USER_AGENT, jobs
from crawler.errors import UsageError
from crawler.frontier import Frontier
from crawler.frontier.connection import connect as connect_redis
from crawler.frontier.embedded import EmbeddedRedis
from crawler.frontier.keys import JOBS_KEY
from crawler.jobs import JobConfig
from crawler.resolver import read_hosts_file
from crawler.spiders.links import LinkSpider
from crawler.storage import StorageTarget, connect

SEED_BATCH = 1000  # seeds queued per frontier call
# How long a worker process may take to finish after the index owner's crawl ended.
WORKER_EXIT_SECONDS = 60.0


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
    hosts: dict[str, str] = field(default_factory=dict)
    allow_private: bool = False
    user_agent: str = USER_AGENT
    warc_dir: str = ""
    log_level: str = "WARNING"
    progress_seconds: float = 5.0
    workers: int = 1  # processes on this machine; this one owns the index
    lease_seconds: float = 300.0
    joining: bool = False  # a `linkgraph worker`: the job exists, its settings come from Redis
    handoff: bool = False  # with joining: hand rows to the owner of the embedded index
    extra_settings: dict[str, Any] = field(default_factory=dict)

    def job_config(self) -> JobConfig:
        return JobConfig(
            delay=self.delay,
            max_pages=self.max_pages,
            max_pages_per_host=self.max_pages_per_host,
            max_depth=self.max_depth,
            follow_links=self.follow_links,
            allow_private=self.allow_private,
            hosts=self.hosts,
            user_agent=self.user_agent,
            embedded_storage=self.storage.embedded,
            database=self.storage.database,
            lease_seconds=self.lease_seconds,
            settings=self.extra_settings,
        )


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
            "LINKGRAPH_SEEDS": [],  # run_crawl queued them already (see _start_job)
            "LINKGRAPH_DATA_DIR": str(options.storage.data_dir),
            "LINKGRAPH_CLICKHOUSE_URL": options.storage.url,
            "LINKGRAPH_DATABASE": options.storage.database,
            "LINKGRAPH_MAX_PAGES": options.max_pages,
            "LINKGRAPH_MAX_PAGES_PER_HOST": options.max_pages_per_host,
            "LINKGRAPH_MAX_DEPTH": options.max_depth,
            "LINKGRAPH_FOLLOW_LINKS": options.follow_links,
            "LINKGRAPH_DELAY": options.delay,
            "LINKGRAPH_HOSTS": options.hosts,
            "LINKGRAPH_ALLOW_PRIVATE": options.allow_private,
            "LINKGRAPH_WARC_DIR": options.warc_dir,
            "LINKGRAPH_PROGRESS_SECONDS": options.progress_seconds,
            "LINKGRAPH_LEASE_SECONDS": options.lease_seconds,
            "LINKGRAPH_HANDOFF": options.handoff,
            # leases of a stopped run are returned by run_crawl, before any worker starts
            "LINKGRAPH_RETURN_LEASES_AT_START": False,
            "USER_AGENT": options.user_agent,
            "LOG_LEVEL": options.log_level,
        },
        priority="cmdline",
    )
    settings.setdict(options.extra_settings, priority="cmdline")
    return settings


def run_crawl(options: CrawlOptions) -> CrawlResult:
    """Crawl in this process; with workers > 1, also in that many - 1 worker processes."""
    if options.hosts_file:
        options.hosts = {**read_hosts_file(options.hosts_file), **options.hosts}
    if not options.handoff:
        options.storage.data_dir.mkdir(parents=True, exist_ok=True)
        connect(options.storage)  # an unreachable or locked index fails before any fetch
    with redis_for(options.redis_url, options.storage.data_dir) as redis_url:
        client = connect_redis(redis_url)
        if not options.joining:
            _start_job(client, options)
        workers = [_spawn_worker(options, redis_url) for _ in range(options.workers - 1)]
        try:
            crawler = _crawl(options, redis_url)
        finally:
            _reap(workers)
        stats = crawler.stats.get_stats() if crawler.stats else {}
        return CrawlResult(
            job=options.job,
            finish_reason=str(stats.get("finish_reason", "unknown")),
            pages=int(stats.get("linkgraph/pages", 0)),
            links=int(stats.get("linkgraph/links", 0)),
            frontier=Frontier(client, options.job).stats(),
        )


def _start_job(client: redis.Redis, options: CrawlOptions) -> None:
    if not options.seeds and not client.sismember(JOBS_KEY, options.job):
        raise UsageError(f"job {options.job!r} has no seeds: give URLs or --seeds-file to start it")
    previous = jobs.load(client, options.job)
    if previous and not options.seeds:  # resumed without seeds: the seeds' domains stay
        seed_domains = previous.settings.get("LINKGRAPH_SEED_DOMAINS", [])
        options.extra_settings["LINKGRAPH_SEED_DOMAINS"] = seed_domains
    jobs.save(client, options.job, options.job_config())
    frontier = Frontier(client, options.job, max_pages_per_host=options.max_pages_per_host)
    # Seeds are queued (deduplicated) before any worker starts: a worker that found the
    # frontier empty would take the job for finished.
    for start in range(0, len(options.seeds), SEED_BATCH):
        frontier.add((url, 0) for url in options.seeds[start : start + SEED_BATCH])
    if frontier.live_workers() == 0:
        # Nobody is crawling this job: what is still leased was in flight when it last
        # stopped, and was never recorded.
        frontier.return_leases()


def _crawl(options: CrawlOptions, redis_url: str) -> Crawler:
    process = CrawlerProcess(build_settings(options, redis_url))
    logging.getLogger("scrapy").setLevel(options.log_level)
    crawler = process.create_crawler(LinkSpider)
    process.crawl(crawler)
    process.start()
    return crawler


def _spawn_worker(options: CrawlOptions, redis_url: str) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "crawler.cli.main", "worker", "--job", options.job,
            "--redis", redis_url, "--data-dir", str(options.storage.data_dir), "-q"]  # fmt: skip
    if options.storage.url:
        args += ["--clickhouse", options.storage.url, "--database", options.storage.database]
    if options.warc_dir:
        args += ["--warc", options.warc_dir]
    if options.log_level == "INFO":
        args.append("--verbose")
    return subprocess.Popen(args, stdin=subprocess.DEVNULL)


def _reap(workers: list[subprocess.Popen[bytes]]) -> None:
    """Workers stop by themselves when the job ends or stops; wait for them, then insist."""
    for proc in workers:
        try:
            proc.wait(timeout=WORKER_EXIT_SECONDS)
        except subprocess.TimeoutExpired:
            proc.terminate()
            proc.wait()
