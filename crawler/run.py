"""Runs one crawl job in this process: Redis up (embedded or by URL), the job's spec resolved
and saved, storage checked, Scrapy run. The CLI's `crawl`, `worker`, `recrawl` and `demo`
commands are thin layers over `run_crawl`.

Stopping (crawler/processes/stopping.py): a SIGINT or SIGTERM stops the crawl gracefully, and
the coordinator relays it to its workers; a second one stops at once. The embedded Valkey server
is supervised while the crawl runs (crawler/processes/supervisor.py), and stopped last, after
the workers and the index writer. A Redis server unreachable for LINKGRAPH_REDIS_TIMEOUT ends
the process with RedisUnreachable, one line.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import redis
from scrapy.crawler import Crawler
from scrapy.settings import Settings

from crawler import jobs
from crawler import settings as defaults
from crawler.errors import UsageError
from crawler.frontier import Frontier
from crawler.frontier.bloom import Dedupe
from crawler.frontier.connection import RedisUnreachable, SaidOnce, outage_of, stop_waiting
from crawler.frontier.connection import connect as connect_redis
from crawler.handoff import decode
from crawler.jobspec import JobSpec, index_url, seed_domains
from crawler.jobstats import JobStats
from crawler.processes.stopping import KILL, JobProcess, follow_coordinator, interrupt_on_sigterm
from crawler.processes.supervisor import Supervisor
from crawler.processes.valkey import EmbeddedValkey
from crawler.processes.workers import WorkerGroup
from crawler.service.readserver import serving_reads
from crawler.spiders.links import LinkSpider
from crawler.storage import StorageTarget, connect
from crawler.summary import record_end

SEED_BATCH = 1000  # seeds queued per frontier call
# The finish reason of a crawl stopped at once (a second Ctrl-C): its summary says so.
INTERRUPTED = "interrupted"
# A worker meets a Redis outage up to a heartbeat later than its coordinator, then waits out the
# same timeout: the coordinator waits that much longer for it.
LINGER_SECONDS = 10.0


@dataclass(frozen=True)
class ProcessOptions:
    """What this process does for a job: its own choices, never saved with the job."""

    data_dir: Path = Path(defaults.LINKGRAPH_DATA_DIR)
    redis_url: str = defaults.REDIS_URL  # "" = an embedded server with its files in data_dir
    clickhouse_url: str = ""  # this process's own, with its password ("" = the job's)
    log_level: str = "WARNING"
    progress: bool = True
    workers: int = 1  # crawling processes on this machine; this one owns the index
    warc_dir: str = defaults.LINKGRAPH_WARC_DIR
    joining: bool = False  # a `linkgraph worker`: the job exists, and so does its spec
    coordinated: bool = False  # a worker started by a coordinator: it follows its stdin


@dataclass
class CrawlResult:
    job: str
    finish_reason: str
    pages: int
    links: int
    frontier: dict[str, int]
    job_stats: JobStats | None = None  # the job's figures at its end (None: a joining worker)


@contextlib.contextmanager
def redis_for(url: str, data_dir: Path, *, supervise: bool = False) -> Iterator[str]:
    """The Redis URL to use: the given one (checked), or an embedded server for the run,
    restarted if it dies while `supervise`d."""
    if url:
        connect_redis(url).close()
        yield url
        return
    server = EmbeddedValkey(data_dir)
    started = server.start()
    supervisor = Supervisor(server) if supervise and server.process is not None else None
    try:
        if supervisor is not None:
            supervisor.start()
        yield started
    finally:
        if supervisor is not None:
            supervisor.stop()
        server.stop()


def build_settings(
    spec: JobSpec, process: ProcessOptions, storage: StorageTarget, redis_url: str
) -> Settings:
    """The Scrapy settings of one process of the job: the spec's, then the process's own."""
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.setdict(spec.scrapy_settings(), priority="cmdline")
    own: dict[str, Any] = {
        "REDIS_URL": redis_url,
        "LINKGRAPH_SEEDS": [],  # the coordinator queued them already (see start_job)
        "LINKGRAPH_DATA_DIR": str(process.data_dir),
        "LINKGRAPH_CLICKHOUSE_URL": storage.url,  # with the password the spec leaves out
        "LINKGRAPH_WARC_DIR": process.warc_dir,
        "LINKGRAPH_HANDOFF": process.joining and spec.embedded,
        # leases of a stopped run are returned by run_crawl, before any worker starts
        "LINKGRAPH_RETURN_LEASES_AT_START": False,
        "LOG_LEVEL": process.log_level,
    }
    if not process.progress:
        own["LINKGRAPH_PROGRESS_SECONDS"] = 0
    settings.setdict(own, priority="cmdline")
    return settings


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
        spec = _saved(client, job)
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


def _saved(client: redis.Redis, job: str) -> JobSpec:
    spec = jobs.load(client, job)
    if spec is None:
        raise UsageError(f"no job {job!r} in this frontier (see `linkgraph jobs`)")
    return spec


def resolve_spec(
    client: redis.Redis, job: str, given: Mapping[str, Any], seeds: Sequence[str]
) -> tuple[JobSpec, list[str]]:
    """The job's spec: the saved one (or the defaults) updated with what was given, and what
    that changed in a saved one."""
    saved = jobs.load(client, job)
    if saved is None and not seeds:
        raise UsageError(f"job {job!r} has no seeds: give URLs or --seeds-file to start it")
    base = saved or JobSpec(job=job)
    if seeds:  # the seed-domains scope covers every seed the job was ever given
        domains = sorted({*base.seed_domains, *seed_domains(seeds)})
        given = {**given, "LINKGRAPH_SEED_DOMAINS": domains}
    spec, changes = base.updated(given)
    if saved and spec.frontier_partitions != saved.frontier_partitions:
        raise UsageError(
            f"job {job!r} has {saved.frontier_partitions} frontier partitions, fixed when it "
            f"was created (a new job may have {spec.frontier_partitions})"
        )
    if saved and _dedupe(spec).describe() != _dedupe(saved).describe():
        raise UsageError(
            f"job {job!r} dedupes URLs {_dedupe(saved).describe()}, fixed when it was created "
            f"(a new job may dedupe them {_dedupe(spec).describe()})"
        )
    return spec, changes if saved else []


def _dedupe(spec: JobSpec) -> Dedupe:
    return Dedupe(spec.dedupe, spec.bloom_capacity, spec.bloom_error_rate)


def start_job(client: redis.Redis, spec: JobSpec, changes: list[str], seeds: Sequence[str]) -> None:
    for change in changes:
        print(f"job {spec.job}: {change}", file=sys.stderr)
    jobs.save(client, spec)
    frontier = Frontier(client, spec.job, max_pages_per_host=spec.max_pages_per_host)
    # Seeds are queued (deduplicated) before any worker starts: a worker that found the
    # frontier empty would take the job for finished.
    for start in range(0, len(seeds), SEED_BATCH):
        frontier.add((url, 0) for url in seeds[start : start + SEED_BATCH])
    if frontier.live_workers() == 0:
        # Nobody is crawling this job: what is still leased was in flight when it last
        # stopped, and was never recorded; but for the pages whose rows wait in the hand-off
        # stream (a coordinator stopped at once), which the index owner stores first.
        waiting = _handed_over(client, frontier)
        if not waiting:
            frontier.return_leases()
        else:
            leased = frontier.leased_entries()
            frontier.return_leases([e for e in leased if e.fp not in waiting])


def _handed_over(client: redis.Redis, frontier: Frontier) -> set[str]:
    """Fingerprints of the pages whose rows wait in the job's hand-off stream."""
    waiting: set[str] = set()
    entries = cast("list[tuple[bytes, dict[bytes, bytes]]]", client.xrange(frontier.keys.rows))
    for _id, fields in entries:
        waiting.update(decode(fields[b"batch"], "").fingerprints)
    return waiting


def _crawl(runner: JobProcess) -> Crawler:
    logging.getLogger("scrapy").setLevel(runner.settings["LOG_LEVEL"])
    crawler = runner.create_crawler(LinkSpider)
    runner.watch(crawler)
    runner.crawl(crawler)
    for handler in logging.getLogger().handlers:  # Scrapy's, (re)installed by crawl()
        handler.addFilter(SaidOnce())
    runner.start()
    return crawler


def spawn_worker(
    workers: WorkerGroup,
    spec: JobSpec,
    process: ProcessOptions,
    storage: StorageTarget,
    redis_url: str,
) -> None:
    args = [sys.executable, "-m", "crawler.cli.main", "worker", "--job", spec.job,
            "--data-dir", str(process.data_dir), "-q", "--from-coordinator"]  # fmt: skip
    if process.warc_dir:
        args += ["--warc", process.warc_dir]
    if process.log_level == "INFO":
        args.append("--verbose")
    # The URLs travel in the environment, where `ps` does not show their passwords.
    env = {**os.environ, "LINKGRAPH_REDIS_URL": redis_url, "LINKGRAPH_CLICKHOUSE_URL": storage.url}
    workers.spawn(args, env)
