"""Runs one crawl job in this process: Redis up (embedded or by URL), the job's spec resolved
and saved (crawler/jobstart.py), storage checked, Scrapy run with this process's settings and
workers (crawler/crawlprocess.py), and the run's end recorded (crawler/summary.py). The CLI's
`crawl`, `worker`, `recrawl` and `demo` commands are thin layers over `run_crawl`, and import
what they need of those modules from here.

Stopping (crawler/processes/stopping.py): a SIGINT or SIGTERM stops the crawl gracefully, and
the coordinator relays it to its workers; a second one stops at once. The embedded Valkey server
is supervised while the crawl runs (crawler/processes/supervisor.py), and stopped last, after
the workers and the index writer. A Redis server unreachable for LINKGRAPH_REDIS_TIMEOUT ends
the process with RedisUnreachable, one line.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scrapy.crawler import Crawler

from crawler import jobs
from crawler import settings as defaults
from crawler.crawlprocess import ProcessOptions, build_settings, redis_for, spawn_worker
from crawler.frontier import Frontier
from crawler.frontier.connection import RedisUnreachable, SaidOnce, outage_of, stop_waiting
from crawler.frontier.connection import connect as connect_redis
from crawler.jobspec import index_url
from crawler.jobstart import resolve_spec, saved_spec, start_job
from crawler.jobstats import JobStats
from crawler.processes.stopping import KILL, JobProcess, follow_coordinator, interrupt_on_sigterm
from crawler.processes.workers import WorkerGroup
from crawler.service.readserver import serving_reads
from crawler.spiders.links import LinkSpider
from crawler.storage import StorageTarget, connect
from crawler.summary import record_end

__all__ = [  # the names callers import from here, wherever they are defined
    "INTERRUPTED", "CrawlResult", "ProcessOptions", "build_settings", "redis_for",
    "resolve_spec", "run_crawl", "spawn_worker", "start_job",
]  # fmt: skip

# The finish reason of a crawl stopped at once (a second Ctrl-C): its summary says so.
INTERRUPTED = "interrupted"
# A worker meets a Redis outage up to a heartbeat later than its coordinator, then waits out the
# same timeout: the coordinator waits that much longer for it.
LINGER_SECONDS = 10.0


@dataclass
class CrawlResult:
    job: str
    finish_reason: str
    pages: int
    links: int
    frontier: dict[str, int]
    job_stats: JobStats | None = None  # the job's figures at its end (None: a joining worker)


def run_crawl(
    job: str,
    process: ProcessOptions,
    given: Mapping[str, Any] | None = None,
    seeds: Sequence[str] = (),
) -> CrawlResult:
    """Crawl job `job` in this process; with workers > 1, also in that many - 1 worker
    processes. A new job's spec is built from `given` (setting name -> checked value); a
    resumed one keeps its saved spec but for `given`. A joining worker takes the saved spec."""
    interrupt_on_sigterm()
    resume = f"linkgraph {'worker' if process.joining else 'crawl'} --job {job}"
    try:
        with (
            redis_for(process.redis_url, process.data_dir, supervise=not process.joining) as url,
            contextlib.ExitStack() as owned,
        ):
            return _run(job, process, url, given or {}, seeds, owned)
    except RedisUnreachable as exc:
        exc.resume = resume
        raise


def _run(
    job: str, process: ProcessOptions, redis_url: str, given: Mapping[str, Any],
    seeds: Sequence[str], owned: contextlib.ExitStack,
) -> CrawlResult:  # fmt: skip
    client = connect_redis(redis_url)
    changes: list[str] = []
    if process.joining:
        spec = saved_spec(client, job)
    else:
        spec, changes = resolve_spec(client, job, given, seeds)
    timeout = float(spec.scrapy_settings().get("LINKGRAPH_REDIS_TIMEOUT",
                                               defaults.LINKGRAPH_REDIS_TIMEOUT))  # fmt: skip
    client = connect_redis(redis_url, check=False, timeout=timeout)
    storage = StorageTarget(index_url(spec, process.clickhouse_url), process.data_dir,
                            spec.database)  # fmt: skip
    if not (process.joining and spec.embedded):  # a hand-off worker opens no index
        process.data_dir.mkdir(parents=True, exist_ok=True)
        connect(storage)  # an unreachable or locked index fails before anything is saved
        if storage.embedded and not process.joining:  # the CLI reads it through this process
            owned.enter_context(serving_reads(storage, process.data_dir))
    if not process.joining:
        start_job(client, spec, changes, seeds)
        # This process records the run's end: until then the job is not taken for interrupted.
        owned.enter_context(jobs.RunOwner(client, job))
    workers = WorkerGroup()
    runner = JobProcess(build_settings(spec, process, storage, redis_url), workers.tell)
    runner.note_signals_until_started(sigint=not process.coordinated)
    crawler: Crawler | None = None
    try:
        for _ in range(process.workers - 1):
            spawn_worker(workers, spec, process, storage, redis_url)
        if process.coordinated:
            follow_coordinator(runner, sys.stdin.fileno())
        crawler = _crawl(runner)
    finally:
        # Without Redis, each worker gives up on it after its own timeout, and says so.
        linger = timeout + LINGER_SECONDS if outage_of(redis_url).given_up else 0.0
        _after_crawl(workers, forced=crawler is None or runner.stopped_by == KILL, linger=linger)
    if outage_of(redis_url).given_up:
        raise RedisUnreachable(redis_url, outage_of(redis_url).gave_up_after)
    stats = crawler.stats.get_stats() if crawler.stats else {}
    reason = str((INTERRUPTED if runner.stopped_by == KILL else stats.get("finish_reason"))
                 or "unknown")  # fmt: skip
    # The coordinator records how the job's run ended, and its summary, once its workers left.
    job_stats = None if process.joining else record_end(client, job, reason)
    return CrawlResult(
        job=job,
        finish_reason=reason,
        pages=int(stats.get("linkgraph/pages", 0)),
        links=int(stats.get("linkgraph/links", 0)),
        frontier=Frontier(client, job).stats(),
        job_stats=job_stats,
    )


def _after_crawl(workers: WorkerGroup, *, forced: bool, linger: float) -> None:
    """Wait for the workers; a stop signal now makes them (and Redis calls) stop at once."""

    def insist(signum: int, frame: Any) -> None:
        stop_waiting(0.0)
        workers.tell(KILL)

    in_main = threading.current_thread() is threading.main_thread()
    if in_main:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, insist)
    workers.reap(forced=forced, linger=linger)
    if in_main:  # what follows (a summary, the demo's server) stops as Python programs do
        signal.signal(signal.SIGINT, signal.default_int_handler)
        interrupt_on_sigterm()


def _crawl(runner: JobProcess) -> Crawler:
    logging.getLogger("scrapy").setLevel(runner.settings["LOG_LEVEL"])
    crawler = runner.create_crawler(LinkSpider)
    runner.watch(crawler)
    runner.crawl(crawler)
    for handler in logging.getLogger().handlers:  # Scrapy's, (re)installed by crawl()
        handler.addFilter(SaidOnce())
    runner.start()
    return crawler
